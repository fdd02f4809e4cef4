package app_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// The DATEV export writes an EXTF Buchungsstapel of the ledger: header
// version 700/21/13 with the accountant's numbers, Windows-1252, amounts
// with comma, S with debit in Konto, SKR03 accounts, DDMM dates, internal
// moves (a gift reserving credit) left out; bad input re-renders with 422.
func TestDatevExport(t *testing.T) {
	t.Parallel()
	e := newSettlementEnv(t, "sqlite")
	a := e.a
	tu := e.paidTopup(t, 123_45)
	_, p := paidPayout(t, e, "Bon 1", "Bon 2")
	admin := apptest.NewClient(t, a.HTTP)
	admin.Login("admin@trostpflaster.example", "demo-admin-2026")
	if res := admin.Get("/admin/datev"); res.Status != 200 || !strings.Contains(res.Body, `id="datev-form"`) {
		t.Fatalf("form: %d", res.Status)
	}
	year := time.Now().In(time.FixedZone("CET", 3600)).Year()
	for _, bad := range []url.Values{
		{"consultant": {"12"}, "client": {"1"}, "from": {fmt.Sprintf("%d-01-01", year)}, "to": {fmt.Sprintf("%d-12-31", year)}},
		{"consultant": {"29098"}, "client": {"x"}, "from": {fmt.Sprintf("%d-01-01", year)}, "to": {fmt.Sprintf("%d-12-31", year)}},
		{"consultant": {"29098"}, "client": {"55003"}, "from": {fmt.Sprintf("%d-12-01", year-1)}, "to": {fmt.Sprintf("%d-01-31", year)}},
		{"consultant": {"29098"}, "client": {"55003"}, "from": {"gestern"}, "to": {fmt.Sprintf("%d-01-31", year)}},
	} {
		if res := admin.PostForm("/admin/datev", bad); res.Status != 422 || !strings.Contains(res.Body, "field-error") {
			t.Errorf("%v: %d", bad, res.Status)
		}
	}
	res := admin.PostForm("/admin/datev", url.Values{"consultant": {"29098"}, "client": {"55003"},
		"from": {fmt.Sprintf("%d-01-01", year)}, "to": {fmt.Sprintf("%d-12-31", year)}})
	if res.Status != 200 || !strings.Contains(res.Header.Get("Content-Type"), "windows-1252") {
		t.Fatalf("export: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSuffix(res.Body, "\r\n"), "\r\n")
	head := strings.Split(lines[0], ";")
	if len(head) != 31 || head[0] != `"EXTF"` || head[1] != "700" || head[2] != "21" || head[3] != `"Buchungsstapel"` || head[4] != "13" ||
		head[10] != "29098" || head[11] != "55003" || head[12] != fmt.Sprintf("%d0101", year) || head[13] != "4" ||
		head[14] != fmt.Sprintf("%d0101", year) || head[15] != fmt.Sprintf("%d1231", year) || head[21] != `"EUR"` || head[26] != `"03"` {
		t.Fatalf("header %d fields: %v", len(head), head)
	}
	if !strings.HasPrefix(lines[1], "Umsatz (ohne Soll/Haben-Kz);Soll/Haben-Kennzeichen;") || !strings.Contains(lines[1], "Gesch\xe4ftspartnerbank") {
		t.Fatalf("columns (Windows-1252): %q", lines[1])
	}
	body := strings.Join(lines[2:], "\n")
	for _, want := range []string{
		`123,45;"S";"EUR";;;;1360;1710;`,                                       // Stripe top-up: Geldtransit an erhaltene Anzahlungen
		`11,87;"S";"EUR";;;;1710;1600;`,                                        // redemption 12,50: net to the partner …
		`0,63;"S";"EUR";;;;1710;8200;`,                                         // … and the commission
		fmt.Sprintf(`%s;"S";"EUR";;;;1600;1360;`, models.Euros(p.AmountCents)), // the payout
		`"TP-`, `"credit.stripe top-up ` + tu.PublicID + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("export lacks %q:\n%s", want, body)
		}
	}
	for _, l := range lines[2:] {
		f := strings.Split(l, ";")
		if len(f) != 20 || f[6] == f[7] || len(f[9]) != 4 || strings.Contains(f[0], ".") || strings.Contains(l, "gift.sent") {
			t.Errorf("bad line %q", l)
		}
	}
	// Non-admins get nothing.
	chefin := apptest.NewClient(t, a.HTTP)
	chefin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	if res := chefin.Get("/admin/datev"); res.Status != 404 {
		t.Fatalf("company admin: %d", res.Status)
	}
}
