package app

import (
	"errors"
	"fmt"
)

// runMerchantConnect is `trostpflaster merchant connect`: the operator's way
// to start a merchant's Stripe onboarding without the web page.
func runMerchantConnect(c *cli, args []string) error {
	fs := c.flagSet("merchant connect", "Usage: trostpflaster merchant connect --merchant SLUG\n\nCreates the merchant's Stripe Express account (once; later runs reuse it) and\nprints a fresh onboarding link alone on the last line. Needs STRIPE_SECRET_KEY.")
	slug := fs.String("merchant", "", "merchant slug (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *slug == "" {
		fs.Usage()
		return errors.New("--merchant is required")
	}
	a, err := c.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.pay.connect == nil {
		return errors.New("STRIPE_SECRET_KEY is not set; Stripe onboarding needs it")
	}
	m, err := a.Store.MerchantBySlug(c.ctx, *slug)
	if err != nil {
		return fmt.Errorf("merchant %q: %w", *slug, err)
	}
	link, err := a.Store.StripeOnboardingLink(c.ctx, a.pay.connect, m.ID, a.Cfg.BaseURL)
	if err != nil {
		return err
	}
	m, err = a.Store.MerchantStripeStatus(c.ctx, m.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "merchant %s: Stripe account %s; onboarding link (single use, expires soon):\n%s\n", m.Slug, m.StripeAccount(), link)
	return nil
}
