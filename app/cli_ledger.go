package app

import "fmt"

// runLedgerVerify is `trostpflaster ledger verify`, for monitoring: exit
// code 1 when the books are broken, each problem on its own line.
func runLedgerVerify(c *cli, args []string) error {
	fs := c.flagSet("ledger verify", "Usage: trostpflaster ledger verify\n\nChecks every ledger invariant; prints ok and exits 0, or lists what is wrong and exits 1.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	problems, err := a.Store.VerifyLedger(c.ctx)
	if err != nil {
		return err
	}
	if len(problems) == 0 {
		fmt.Fprintln(c.stdout, "ok")
		return nil
	}
	for _, p := range problems {
		fmt.Fprintln(c.stdout, p.String())
	}
	return exitError{1}
}
