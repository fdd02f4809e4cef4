package app

import (
	"errors"
	"fmt"

	"trostpflaster/models"
)

// runAPIKeyCreate is `trostpflaster apikey create`. The key is printed
// once; only its hash is stored.
func runAPIKeyCreate(c *cli, args []string) error {
	fs := c.flagSet("apikey create", "Usage: trostpflaster apikey create --company SLUG | --merchant SLUG [--name NAME]\n\nPrints the new key alone on the last line; only its hash is stored.")
	company := fs.String("company", "", "company slug")
	merchant := fs.String("merchant", "", "merchant slug")
	name := fs.String("name", "cli", "a name to recognise the key by")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*company == "") == (*merchant == "") {
		fs.Usage()
		return errors.New("give exactly one of --company or --merchant")
	}
	a, err := c.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	var cid, mid *uint
	if *company != "" {
		co, err := a.Store.CompanyBySlug(c.ctx, *company)
		if err != nil {
			return fmt.Errorf("company %q: %w", *company, err)
		}
		cid = &co.ID
	} else {
		m, err := a.Store.MerchantBySlug(c.ctx, *merchant)
		if err != nil {
			return fmt.Errorf("merchant %q: %w", *merchant, err)
		}
		mid = &m.ID
	}
	key, k, err := a.Store.CreateAPIKey(c.ctx, cid, mid, *name, models.ActorCLI)
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(c.stdout, "created API key %d (%s…), shown once:\n%s\n", k.ID, k.Prefix, key)
	return nil
}
