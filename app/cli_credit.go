package app

import (
	"errors"
	"fmt"

	"trostpflaster/models"
)

// runCreditGrant is `trostpflaster credit grant`: a company paid an invoice
// and gets that much credit to send gifts with.
func runCreditGrant(c *cli, args []string) error {
	fs := c.flagSet("credit grant", "Usage: trostpflaster credit grant --company SLUG --amount-cents N [--reference INVOICE]\n\nBooks a paid invoice as company credit (cash:invoice → company credit).")
	company := fs.String("company", "", "company slug (required)")
	amount := fs.Int64("amount-cents", 0, "amount in cents, e.g. 50000 for 500,00 € (required)")
	ref := fs.String("reference", "", "invoice number; repeating a grant with the same reference books nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *company == "" || *amount <= 0 {
		fs.Usage()
		return errors.New("--company and a positive --amount-cents are required")
	}
	a, err := c.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	co, err := a.Store.CompanyBySlug(c.ctx, *company)
	if err != nil {
		return fmt.Errorf("company %q: %w", *company, err)
	}
	idem := ""
	if *ref != "" {
		idem = "invoice:" + co.Slug + ":" + *ref
	}
	lt, err := a.Store.GrantCredit(c.ctx, co.ID, *amount, idem, "invoice "+*ref, models.ActorCLI)
	if err != nil {
		return describe(err)
	}
	bal, err := a.Store.AccountBalance(c.ctx, models.AccountCompanyCredit(co.ID))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "booked ledger transaction %d; %s credit is now %d cents\n", lt.ID, co.Slug, bal)
	return nil
}
