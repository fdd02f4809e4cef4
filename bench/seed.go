package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"trostpflaster/app"
	"trostpflaster/models"
)

// Fixtures is what the scenarios draw their requests from.
type Fixtures struct {
	Postcodes     []string // real postcodes that have merchants near them
	Words         []string // search words of varied selectivity
	MaxMerchantID int
	// ClaimTokens are claim links of claimed vouchers (the claim page).
	ClaimTokens []string
	// TillCodes are voucher codes of one partner, one per till, and
	// MerchantKey is that partner's API key (the redemption API).
	TillCodes   []string
	MerchantKey string
}

// Voucher fixtures: claimed vouchers for the claim page and one large
// voucher per till for the redemption API.
const (
	claimVouchers = 64
	tills         = 16
)

var categoryWord = map[string]string{
	"bakery": "Bäckerei", "bookshop": "Buchhandlung", "cafe": "Café", "flowers": "Blumen",
	"chocolatier": "Chocolaterie", "bike": "Radhaus", "restaurant": "Restaurant", "deli": "Feinkost",
	"wine": "Weinhandlung", "fashion": "Mode", "toys": "Spielwaren", "beauty": "Kosmetikstudio",
	"culture": "Kulturhaus", "other": "Laden",
}

var surnames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
	"Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
	"Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
	"Krause", "Meier", "Lehmann", "Sonnenschein", "Lindenhof", "Rosengarten", "Morgenrot"}

// seed migrates a fresh database, adds the demo region and n approved
// merchants at real German postcodes, inserted in batches.
func seed(ctx context.Context, env []string, n int) (*Fixtures, error) {
	cfg, err := app.LoadConfig(getenvFrom(env), false)
	if err != nil {
		return nil, err
	}
	a, err := app.New(cfg, discardLogger())
	if err != nil {
		return nil, err
	}
	defer a.Close()
	if _, err := app.SeedDemo(ctx, a.Store, a.Places); err != nil {
		return nil, err
	}
	var region models.Region
	if err := a.DB.WithContext(ctx).Order("id").First(&region).Error; err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(7, 7)) // the same data every run
	var places []models.Place
	for pc := 1000; pc <= 99999; pc += 7 {
		if p, ok := a.Places.ByPostcode(fmt.Sprintf("%05d", pc)); ok {
			places = append(places, p)
		}
	}
	if len(places) < 100 {
		return nil, fmt.Errorf("only %d postcodes found", len(places))
	}
	fx := &Fixtures{Words: []string{"baeckerei", "cafe", "wein", "buch", "blumen", "rad", "feinkost", "mueller", "laden", "schokolade"}}

	const batch = 500
	ms := make([]models.Merchant, 0, batch)
	flush := func() error {
		if len(ms) == 0 {
			return nil
		}
		err := a.DB.WithContext(ctx).CreateInBatches(&ms, batch).Error
		ms = ms[:0]
		return err
	}
	for i := range n {
		p := places[rng.IntN(len(places))]
		cat := models.Categories[rng.IntN(len(models.Categories))]
		name := fmt.Sprintf("%s %s", categoryWord[cat], surnames[rng.IntN(len(surnames))])
		if i%5 == 0 {
			fx.Postcodes = append(fx.Postcodes, p.Postcode)
		}
		ms = append(ms, models.Merchant{
			RegionID: region.ID, Slug: fmt.Sprintf("bench-%05d", i), Name: name, Category: cat,
			Description: fmt.Sprintf("%s in %s: regionale Ware, freundliche Beratung und Gutscheine für jeden Anlass. Seit %d für die Nachbarschaft da, mit Liebe zum Detail und Schokolade an der Kasse.",
				name, p.Name, 1950+rng.IntN(70)),
			Address: fmt.Sprintf("Hauptstraße %d", 1+rng.IntN(200)), Postcode: p.Postcode, City: p.Name,
			Lat: p.Lat + (rng.Float64()-0.5)*0.02, Lng: p.Lng + (rng.Float64()-0.5)*0.02,
			Website: "https://example.com", OpeningHours: "Mo–Fr 9–18 Uhr", ContactEmail: "hallo@example.com",
			Status: models.MerchantApproved,
		})
		if len(ms) == batch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := a.DB.WithContext(ctx).Model(&models.Merchant{}).Select("MAX(id)").Scan(&fx.MaxMerchantID).Error; err != nil {
		return nil, err
	}
	if err := seedVouchers(ctx, a, fx); err != nil {
		return nil, fmt.Errorf("vouchers: %w", err)
	}
	return fx, nil
}

// seedVouchers sends and claims gifts of the demo company at a demo partner
// through the real model functions, and creates the partner's API key.
func seedVouchers(ctx context.Context, a *app.App, fx *Fixtures) error {
	co, err := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	if err != nil {
		return err
	}
	m, err := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	if err != nil {
		return err
	}
	const tillCents = 1000_00 // 100,000 one-cent redemptions each
	if _, err := a.Store.GrantCredit(ctx, co.ID, claimVouchers*25_00+tills*tillCents, "", "bench", models.ActorCLI); err != nil {
		return err
	}
	admin, err := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	if err != nil {
		return err
	}
	sender := models.GiftSender{CompanyID: co.ID, UserID: &admin.ID}
	voucher := func(cents int64) (token, code string, err error) {
		g, _, err := a.Store.SendGift(ctx, a.Places, sender, models.GiftInput{RecipientName: "Kim", AmountCents: cents,
			MerchantIDs: []uint{m.ID}, Message: "Entschuldigung für die Verspätung!", Notify: models.NotifyNone})
		if err != nil {
			return "", "", err
		}
		token = a.Store.GiftClaimToken(g)
		g, _, err = a.Store.ClaimGift(ctx, token, m.ID)
		if err != nil {
			return "", "", err
		}
		return token, a.Store.VoucherCode(g), nil
	}
	for range claimVouchers {
		token, _, err := voucher(25_00)
		if err != nil {
			return err
		}
		fx.ClaimTokens = append(fx.ClaimTokens, token)
	}
	for range tills {
		_, code, err := voucher(tillCents)
		if err != nil {
			return err
		}
		fx.TillCodes = append(fx.TillCodes, code)
	}
	fx.MerchantKey, _, err = a.Store.CreateAPIKey(ctx, nil, &m.ID, "bench till", models.ActorCLI)
	return err
}

// verifyLedger runs `ledger verify` on the benchmark database after the run.
func verifyLedger(ctx context.Context, env []string) ([]string, error) {
	cfg, err := app.LoadConfig(getenvFrom(env), false)
	if err != nil {
		return nil, err
	}
	a, err := app.New(cfg, discardLogger())
	if err != nil {
		return nil, err
	}
	defer a.Close()
	problems, err := a.Store.VerifyLedger(ctx)
	var out []string
	for _, p := range problems {
		out = append(out, p.String())
	}
	return out, err
}
