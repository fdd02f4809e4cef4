package app

import "fmt"

// runStripeEventsRetry is `trostpflaster stripe-events retry`: after the
// operator fixed why a stored Stripe event failed, process it again now
// rather than waiting for the worker's backoff. Exit code 1 while any
// due event still fails.
func runStripeEventsRetry(c *cli, args []string) error {
	fs := c.flagSet("stripe-events retry", "Usage: trostpflaster stripe-events retry [--event evt_…] [--flagged]\n\nProcesses stored Stripe events whose processing failed again from their\nstored payload (due ones; --flagged also those given up after too many\nattempts; --event one event now). Prints one line per event.")
	one := fs.String("event", "", "retry this event id now (also when flagged or not yet due)")
	flagged := fs.Bool("flagged", false, "include events flagged for the operator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	if *one != "" {
		out, err := a.retryStripeEvent(c.ctx, *one)
		switch {
		case out.Duplicate:
			fmt.Fprintf(c.stdout, "%s: already processed\n", *one)
			return nil
		case err != nil:
			return fmt.Errorf("%s: %w", *one, err)
		}
		fmt.Fprintf(c.stdout, "%s: %s\n", *one, out.Result)
		return nil
	}
	applied, failed, err := a.RetryStripeEvents(c.ctx, *flagged)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "stripe events: %d applied, %d still failing\n", applied, failed)
	if failed > 0 {
		return exitError{1}
	}
	return nil
}
