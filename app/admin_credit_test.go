package app_test

import (
	"net/url"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

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
