package app

// runDemo is `trostpflaster demo`: the marketplace to try out with no keys
// and no setup.
func runDemo(c *cli, args []string) error {
	fs := c.flagSet("demo", "Usage: trostpflaster demo\n\nMigrates, seeds the demo region and serves it. Uses data/ for the SQLite file and a generated secret key.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return c.serve(true, c.seedDemo)
}

// runSeedDemo is `trostpflaster seed-demo`. Without SECRET_KEY it uses the
// demo configuration, as the demo command does.
func runSeedDemo(c *cli, args []string) error {
	fs := c.flagSet("seed-demo", "Usage: trostpflaster seed-demo\n\nCreates the demo region, partners, company and logins. Safe to run again.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(c.getenv("SECRET_KEY") == "")
	if err != nil {
		return err
	}
	defer a.Close()
	return c.seedDemo(a)
}

// seedDemo creates the demo region (idempotent) and prints its logins.
func (c *cli) seedDemo(a *App) error {
	logins, err := SeedDemo(c.ctx, a.Store, a.Places)
	if err != nil {
		return err
	}
	printDemo(c.stdout, a.Cfg, logins)
	return nil
}
