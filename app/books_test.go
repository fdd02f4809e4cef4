package app_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

func TestLedgerExplorerAndPayoutsPage(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	_, token := e.gift(t, 20_00, e.bakery)
	code := e.claim(t, token, e.bakery)
	if res := e.call(t, e.bakeryKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "b1", `{"amount_cents":1250,"reference":"=HYPERLINK(\"x\")"}`); res.Status != 201 {
		t.Fatal(res.Body)
	}
	admin := apptest.NewClient(t, e.a.HTTP)
	admin.Login("admin@trostpflaster.example", "demo-admin-2026")
	page := admin.Get("/admin/ledger")
	if page.Status != 200 || !strings.Contains(page.Body, fmt.Sprintf("merchant:%d:payable", e.bakery.ID)) || !strings.Contains(page.Body, "alle Prüfungen bestanden") {
		t.Fatalf("ledger explorer: %d", page.Status)
	}
	csv := admin.Get("/admin/ledger.csv")
	if csv.Status != 200 || !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") || !strings.Contains(csv.Body, "voucher.redeemed") || !strings.Contains(csv.Body, ";-12,50;EUR") {
		t.Fatalf("ledger CSV: %d\n%s", csv.Status, csv.Body)
	}
	// Non-admins do not see the books.
	owner := apptest.NewClient(t, e.a.HTTP)
	owner.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
	if res := owner.Get("/admin/ledger.csv"); res.Status != 404 {
		t.Fatalf("owner reads the books: %d", res.Status)
	}
	res := owner.Get("/merchant/payouts")
	if res.Status != 200 || !strings.Contains(res.Body, `id="payable">11,87 €`) {
		t.Fatalf("payouts page: %d", res.Status)
	}
}

func TestGiftsCSVExport(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	ctx := t.Context()
	g, _, err := e.a.Store.SendGift(ctx, nil, e.sender, models.GiftInput{RecipientEmail: "kim@example.com", RecipientName: "Kim", AmountCents: 15_00,
		MerchantIDs: []uint{e.cafe.ID}, Reference: `=HYPERLINK("http://evil","x")`, Notify: models.NotifyNone}, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := apptest.NewClient(t, e.a.HTTP)
	admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	res := admin.Get("/gifts/export.csv")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d", res.Status)
	}
	if !strings.Contains(res.Body, g.PublicID) || !strings.Contains(res.Body, "15,00") || !strings.Contains(res.Body, `'=HYPERLINK`) {
		t.Fatalf("export body:\n%s", res.Body)
	}
	if strings.Contains(res.Body, "kim@example.com") || strings.Contains(res.Body, ";=") {
		t.Fatal("export leaks the recipient or keeps a formula cell")
	}
	agent := apptest.NewClient(t, e.a.HTTP)
	agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
	if res := agent.Get("/gifts/export.csv"); res.Status != 404 {
		t.Fatalf("agent export: %d", res.Status)
	}
	other := apptest.NewClient(t, e.a.HTTP)
	other.PostForm("/signup/company", signupForm("company", map[string]string{"email": "o@other.example", "org_name": "Other"}))
	if res := other.Get("/gifts/export.csv"); res.Status != 200 || strings.Contains(res.Body, g.PublicID) {
		t.Fatalf("other company export: %d", res.Status)
	}
}

func TestAdminBooksInvoicePayment(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	ctx := t.Context()
	co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	before, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID))
	admin := apptest.NewClient(t, a.HTTP)
	admin.Login("admin@trostpflaster.example", "demo-admin-2026")
	for _, bad := range []url.Values{{"company": {"ghost"}, "amount": {"10"}, "invoice": {"R1"}}, {"company": {"beispiel-verlag"}, "amount": {"zehn"}, "invoice": {"R1"}}, {"company": {"beispiel-verlag"}, "amount": {"10"}, "invoice": {""}}} {
		if res := admin.PostForm("/admin/credit", bad); res.Status != 422 {
			t.Fatalf("%v: %d", bad, res.Status)
		}
	}
	for i := 0; i < 2; i++ { // the same invoice twice books once
		if res := admin.PostForm("/admin/credit", url.Values{"company": {"beispiel-verlag"}, "amount": {"1.250,00"}, "invoice": {"RE-2026-7"}}); res.Status != 303 {
			t.Fatalf("book: %d %s", res.Status, res.Body)
		}
	}
	if after, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID)); after != before+1_250_00 {
		t.Fatalf("credit %d, want %d", after, before+1_250_00)
	}
	chefin := apptest.NewClient(t, a.HTTP)
	chefin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	if res := chefin.PostForm("/admin/credit", url.Values{"company": {"beispiel-verlag"}, "amount": {"999"}, "invoice": {"X"}}); res.Status != 404 {
		t.Fatalf("company admin books credit: %d", res.Status)
	}
	verifyLedger(t, a.Store)
}
