package app_test

import (
	"fmt"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
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
