package app

import "fmt"

// runMigrate is `trostpflaster migrate`: opening the app applies pending
// migrations, so there is nothing more to do.
func runMigrate(c *cli, args []string) error {
	fs := c.flagSet("migrate", "Usage: trostpflaster migrate\n\nApplies pending schema migrations and exits.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	fmt.Fprintln(c.stdout, "migrations applied")
	return nil
}
