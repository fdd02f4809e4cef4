package app_test

import (
	"strings"
	"testing"

	"trostpflaster/app/apptest"
)

// Every page a role works with is reachable from the navigation or the
// footer, not only by typing its address.
func TestNavigationLinksPerRole(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	cases := []struct {
		email, password string
		want, notWant   []string
	}{
		{"chefin@beispiel-verlag.example", "demo-chefin-2026",
			[]string{`href="/gifts"`, `href="/company/report"`, `href="/api/docs"`, `href="/company/refunds"`},
			[]string{`href="/admin/ledger"`, `href="/merchant/redeem"`}},
		{"agent1@beispiel-verlag.example", "demo-agent-2026",
			[]string{`href="/gifts"`, `href="/company/report"`},
			[]string{`href="/admin/refunds"`, `href="/company/refunds"`}},
		{"admin@trostpflaster.example", "demo-admin-2026",
			[]string{`href="/admin/merchants"`, `href="/admin/ledger"`, `href="/admin/credit"`, `href="/admin/refunds"`},
			[]string{`href="/company/report"`, `href="/merchant/redeem"`}},
		{"inhaber@sonnenkorn.example", "demo-partner-2026",
			[]string{`href="/merchant/redeem"`, `href="/merchant/payouts"`},
			[]string{`href="/admin/merchants"`, `href="/company/report"`}},
	}
	for _, tc := range cases {
		c := apptest.NewClient(t, a.HTTP)
		c.Login(tc.email, tc.password)
		res := c.Get("/dashboard")
		if res.Status != 200 {
			t.Fatalf("%s dashboard: %d", tc.email, res.Status)
		}
		for _, w := range tc.want {
			if !strings.Contains(res.Body, w) {
				t.Errorf("%s: no %s on the dashboard", tc.email, w)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(res.Body, w) {
				t.Errorf("%s: %s offered to a role that may not use it", tc.email, w)
			}
		}
	}
	// The books page leads to reconciliation and the DATEV export.
	admin := apptest.NewClient(t, a.HTTP)
	admin.Login("admin@trostpflaster.example", "demo-admin-2026")
	books := admin.Get("/admin/ledger")
	for _, w := range []string{`href="/admin/reconciliation"`, `href="/admin/datev"`} {
		if !strings.Contains(books.Body, w) {
			t.Errorf("books page: no %s", w)
		}
	}
}
