package app

import "fmt"

// runSettle is `trostpflaster settle`, the settlement run by hand (the
// worker runs it on its schedule too).
func runSettle(c *cli, args []string) error {
	fs := c.flagSet("settle", "Usage: trostpflaster settle\n\nPays merchants their redeemed balances by Stripe transfer (one per merchant and run; safe to re-run after a crash).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Settle(c.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "settled: %d paid (%d cents), %d refused by Stripe\n", r.Paid, r.PaidCents, r.Failed)
	return nil
}
