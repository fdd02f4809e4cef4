package app_test

import (
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// paidPayout redeems at the café and settles against stripe-mock.
func paidPayout(t *testing.T, e *settlementEnv, refs ...string) (*models.Merchant, *models.Payout) {
	t.Helper()
	a, ctx := e.a, t.Context()
	chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	cafe, _ := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	a.DB.Model(&models.Merchant{}).Where("id = ?", cafe.ID).Updates(map[string]any{"stripe_account_id": "acct_1Cafe", "payouts_enabled": true})
	if _, err := a.Store.GrantCredit(ctx, e.co.ID, 500_00, "", "", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	g, _, err := a.Store.SendGift(ctx, nil, models.GiftSender{CompanyID: e.co.ID, UserID: &chefin.ID},
		models.GiftInput{RecipientEmail: "k@example.com", RecipientName: "Kira Kundin", AmountCents: 100_00, MerchantIDs: []uint{cafe.ID}, Notify: models.NotifyNone})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Store.ClaimGift(ctx, a.Store.GiftClaimToken(g), cafe.ID); err != nil {
		t.Fatal(err)
	}
	g, _ = a.Store.GiftByClaimToken(ctx, a.Store.GiftClaimToken(g))
	var last *models.Redemption
	for i, ref := range refs {
		r, _, _, err := a.Store.Redeem(ctx, cafe.ID, a.Store.VoucherCode(g), models.RedeemInput{AmountCents: int64(12_50 * (i + 1)), Reference: ref})
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	if len(refs) > 1 { // the last one is reversed before settlement
		if _, _, err := a.Store.ReverseRedemption(ctx, cafe.ID, last.PublicID, models.ActorCLI); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := a.Settle(ctx); err != nil || r.Paid != 1 {
		t.Fatalf("settle: %+v %v", r, err)
	}
	var p models.Payout
	a.DB.Where("merchant_id = ?", cafe.ID).Order("id DESC").First(&p)
	return cafe, &p
}

// The statement of a payout lists the redemptions it pays (and a reversal),
// with rate, rounding rule and totals, as CSV (formula-safe) and PDF; only
// the payout's own merchant gets it.
func TestPayoutStatement(t *testing.T) {
	t.Parallel()
	e := newSettlementEnv(t, "sqlite")
	a := e.a
	_, p := paidPayout(t, e, `=HYPERLINK("http://evil","x")`, "Bon 2", "Bon 3")
	// 12,50 + 25,00 redeemed (37,50 gross, 5 %: 0,63 + 1,25 commission),
	// 37,50 redeemed and reversed.
	if p.AmountCents != 37_50-63-1_25 {
		t.Fatalf("payout %d", p.AmountCents)
	}
	staff := mustStaff(t, a, p.MerchantID, "kasse@rheinblick.example")
	page := staff.Get("/merchant/payouts")
	if page.Status != 200 || !strings.Contains(page.Body, "/merchant/payouts/"+p.PublicID+"/statement.pdf") {
		t.Fatalf("payouts page: %d\n%s", page.Status, page.Body)
	}
	csv := staff.Get("/merchant/payouts/" + p.PublicID + "/statement.csv")
	if csv.Status != 200 || !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d", csv.Status)
	}
	for _, want := range []string{`'=HYPERLINK`, ";einloesung;12,50;0,63;11,87;EUR", ";einloesung;25,00;1,25;23,75;EUR", ";storno;-37,50;-1,88;-35,62;EUR",
		";summe;37,50;1,88;35,62;EUR", ";auszahlung;;;35,62;EUR", "Provisionssatz;5,00 %", "kaufmännisch"} {
		if !strings.Contains(csv.Body, want) {
			t.Errorf("csv lacks %q:\n%s", want, csv.Body)
		}
	}
	if strings.Contains(csv.Body, "Kira") || strings.Contains(csv.Body, "k@example.com") {
		t.Fatal("customer data on the statement")
	}
	pdf := staff.Get("/merchant/payouts/" + p.PublicID + "/statement.pdf")
	if pdf.Status != 200 || pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Body, "%PDF-") || len(pdf.Body) < 1000 {
		t.Fatalf("pdf: %d %q", pdf.Status, pdf.Header.Get("Content-Type"))
	}
	// Another merchant's owner, and an unknown payout: 404.
	owner := apptest.NewClient(t, a.HTTP)
	owner.Login(ownerEmail, ownerPassword)
	for _, path := range []string{"/merchant/payouts/" + p.PublicID + "/statement.csv", "/merchant/payouts/" + p.PublicID + "/statement.pdf", "/merchant/payouts/po_nope/statement.csv"} {
		if res := owner.Get(path); res.Status != 404 {
			t.Errorf("%s: %d", path, res.Status)
		}
	}
	verifyLedger(t, a.Store)
}
