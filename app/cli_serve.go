package app

import (
	"os"
	"os/signal"
	"syscall"
)

// runServe is `trostpflaster serve`, also what a bare `trostpflaster` runs.
func runServe(c *cli, args []string) error {
	fs := c.flagSet("serve", "Usage: trostpflaster serve\n\nServes the marketplace on ADDR and runs the background worker. Needs SECRET_KEY.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return c.serve(false, nil)
}

// serve opens the app (demo: with the demo configuration), runs prepare on
// it when given, then serves until SIGINT or SIGTERM and shuts down
// gracefully.
func (c *cli) serve(demo bool, prepare func(*App) error) error {
	SetServerMemoryLimit(os.Getenv)
	a, err := c.open(demo)
	if err != nil {
		return err
	}
	defer a.Close()
	if prepare != nil {
		if err := prepare(a); err != nil {
			return err
		}
	}
	sctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.Serve(sctx)
}
