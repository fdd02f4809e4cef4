package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
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

// The language switch on a page rendered by a POST (a form with errors)
// lands on a page, never on the form's POST address (which has no GET route
// and answered 404).
func TestLanguageSwitchAfterPostedForm(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")

	res := c.PostForm("/company/settings/cap", url.Values{"cap_count": {"99999999999999999999"}, "cap_days": {"abc"}})
	if res.Status != 422 {
		t.Fatalf("bad cap: %d", res.Status)
	}
	if !strings.Contains(res.Body, `name="back" value="/"`) {
		t.Errorf("a POST page without Referer should switch back to the start page")
	}
	for back, want := range map[string]string{
		"/company/settings/cap":                          "/company/settings",
		"/merchant/redeem/lookup?m=baeckerei-sonnenkorn": "/merchant/redeem?m=baeckerei-sonnenkorn",
		"/company/reasons/1":                             "/", // no GET route above it: the start page
		"/gifts/new":                                     "/gifts/new",
		"/c/unknown-token":                               "/c/unknown-token",
		"/admin/refunds/rf_x/decline":                    "/admin/refunds",
	} {
		res := c.PostForm("/lang", url.Values{"lang": {"en"}, "back": {back}})
		if res.Status != 303 || res.Header.Get("Location") != want {
			t.Errorf("lang switch from %s: %d → %q, want %q", back, res.Status, res.Header.Get("Location"), want)
		}
	}
	// The page shown after the switch is a real page.
	if res := c.Get("/company/settings"); res.Status != 200 || !strings.Contains(res.Body, `lang="en"`) {
		t.Fatalf("settings after switch: %d", res.Status)
	}

	// A form page rendered with errors returns to the page the form was on.
	vals := url.Values{"cap_count": {"x"}, "cap_days": {"y"}, "_csrf": {c.CSRF()}}
	r := httptest.NewRequest(http.MethodPost, "/company/settings/cap", strings.NewReader(vals.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Referer", "http://"+r.Host+"/company/settings")
	if res := c.Do(r); res.Status != 422 || !strings.Contains(res.Body, `name="back" value="/company/settings"`) {
		t.Fatalf("error page back target: %d", res.Status)
	}
	// GET pages keep their query (the chosen merchant at the till).
	m := apptest.NewClient(t, a.HTTP)
	m.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
	if res := m.Get("/merchant/redeem?m=baeckerei-sonnenkorn"); !strings.Contains(res.Body, `name="back" value="/merchant/redeem?m=baeckerei-sonnenkorn"`) {
		t.Fatalf("till page back target missing its query")
	}
}

// The language switch never sends the browser to another host: a back
// target whose decoded path begins with // or /\ (protocol-relative) is
// replaced by the start page, also when it only gets there by shortening
// (/%2Fdashboard/x → //dashboard).
func TestLanguageSwitchStaysOnSite(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	for _, back := range []string{
		"/%2Fdashboard/x", "/%2Fdashboard", "/%2F%2Fevil.example", "/%2Fevil.example/partners", `/\evil.example`,
		"//evil.example", "/%5Cevil.example", "/%5C%5Cevil.example/x", "/%2F%5Cevil.example/x", "https://evil.example/",
		"/\t/evil.example", "/%09/evil.example",
	} {
		res := c.PostForm("/lang", url.Values{"lang": {"en"}, "back": {back}})
		loc := res.Header.Get("Location")
		if res.Status != 303 || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) ||
			strings.ContainsAny(loc, "\t\r\n") {
			t.Errorf("lang switch from %q: %d → %q", back, res.Status, loc)
		}
		if u, err := url.Parse(loc); err != nil || u.Host != "" || u.Scheme != "" {
			t.Errorf("lang switch from %q → %q leaves the site", back, loc)
		}
	}
	for back, want := range map[string]string{
		"/partners": "/partners", "/partner/baeckerei-sonnenkorn": "/partner/baeckerei-sonnenkorn", "/partners?q=brot": "/partners?q=brot",
	} {
		res := c.PostForm("/lang", url.Values{"lang": {"en"}, "back": {back}})
		if res.Status != 303 || res.Header.Get("Location") != want {
			t.Errorf("lang switch from %s: %d → %q, want %q", back, res.Status, res.Header.Get("Location"), want)
		}
	}
}

// Times on pages are German time, as on the till and in the report.
func TestPagesShowGermanTime(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	g, _, err := e.a.Store.SendGift(t.Context(), nil, e.sender, models.GiftInput{RecipientEmail: "kim@example.com", RecipientName: "Kim",
		AmountCents: 15_00, MerchantIDs: []uint{e.cafe.ID}, Notify: models.NotifyNone}, nil)
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := g.CreatedAt.In(berlin).Format("02.01.2006 15:04")
	utc := g.CreatedAt.UTC().Format("02.01.2006 15:04")
	c := apptest.NewClient(t, e.a.HTTP)
	c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	res := c.Get("/gifts")
	if !strings.Contains(res.Body, want) || (want != utc && strings.Contains(res.Body, utc)) {
		t.Fatalf("gift list: want %s (German time), not %s", want, utc)
	}
	admin := apptest.NewClient(t, e.a.HTTP)
	admin.Login("admin@trostpflaster.example", "demo-admin-2026")
	if res := admin.Get("/admin/ledger"); !strings.Contains(res.Body, want) {
		t.Fatalf("books: no German time %s", want)
	}
}

// A spreadsheet, PDF or image uploaded instead of the CSV is named as such
// (422 on the file field), not taken for a Windows-1252 CSV.
func TestBulkUploadOfNonCSVFile(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	for name, body := range map[string][]byte{
		"gifts.xlsx": []byte("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"),
		"logo.png":   []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		"scan.pdf":   []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
	} {
		res := uploadCSV(t, c, name, body)
		if res.Status != 422 || !strings.Contains(res.Body, "Das ist keine CSV-Datei") || strings.Contains(res.Body, "Windows-1252") {
			t.Errorf("%s: %d, want 422 'keine CSV-Datei'", name, res.Status)
		}
	}
	latin1 := []byte("recipient_email;recipient_name;amount;merchant\nk@example.com;J\xfcrgen;5;cafe-rheinblick\n")
	if res := uploadCSV(t, c, "latin1.csv", latin1); res.Status != 422 || !strings.Contains(res.Body, "Windows-1252") {
		t.Errorf("latin-1 CSV: %d, want the encoding advice", res.Status)
	}
}

// CSV downloads start with a UTF-8 byte-order mark, so Excel shows
// "Bäckerei" rather than "BÃ¤ckerei".
func TestCSVDownloadsOpenInExcel(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	admin := apptest.NewClient(t, a.HTTP)
	admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	platform := apptest.NewClient(t, a.HTTP)
	platform.Login("admin@trostpflaster.example", "demo-admin-2026")
	for path, c := range map[string]*apptest.Client{
		"/gifts/export.csv":            admin,
		"/company/report/months.csv":   admin,
		"/company/report/partners.csv": admin,
		"/admin/ledger.csv":            platform,
	} {
		res := c.Get(path)
		if res.Status != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(res.Body, "\ufeff") {
			t.Errorf("%s: %d %q %q", path, res.Status, res.Header.Get("Content-Type"), res.Body[:min(len(res.Body), 10)])
		}
	}
}

// A company admin tops up credit on the web: by Stripe Checkout when Stripe
// is configured (credited only by the webhook), else the page explains the
// invoice way. Bad amounts re-render with the field error; agents get 404.
func TestCompanyCreditPage(t *testing.T) {
	t.Parallel()
	t.Run("stripe", func(t *testing.T) {
		t.Parallel()
		a := seeded(t, stripeEnv(t))
		ctx := t.Context()
		co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
		before, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID))
		c := apptest.NewClient(t, a.HTTP)
		c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
		if res := c.Get("/dashboard"); !strings.Contains(res.Body, `href="/company/credit"`) {
			t.Fatal("dashboard does not link the credit page")
		}
		page := c.Get("/company/credit")
		if page.Status != 200 || !strings.Contains(page.Body, `id="topup-form"`) {
			t.Fatalf("credit page: %d", page.Status)
		}
		for _, bad := range []string{"", "5", "abc", "99999999999999999999", "-20", "60000"} {
			res := c.PostForm("/company/credit", url.Values{"amount": {bad}})
			if res.Status != 422 || !strings.Contains(res.Body, "zwischen 10 € und 50.000 €") {
				t.Errorf("amount %q: %d", bad, res.Status)
			}
		}
		res := c.PostForm("/company/credit", url.Values{"amount": {"250,00"}})
		if res.Status != 303 || !strings.HasPrefix(res.Header.Get("Location"), "https://") {
			t.Fatalf("top-up: %d %q", res.Status, res.Header.Get("Location"))
		}
		var tu models.Topup
		if err := a.Store.DB().Where("company_id = ?", co.ID).Order("id desc").First(&tu).Error; err != nil || tu.AmountCents != 250_00 || tu.Status != models.TopupPending {
			t.Fatalf("top-up row %+v %v", tu, err)
		}
		if now, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID)); now != before {
			t.Fatal("credit booked before Stripe confirmed the payment")
		}
		if r := postWebhook(t, a, checkoutEvent("evt_qa", "checkout.session.completed", tu.PublicID, "paid", 250_00), testWebhookSecret, time.Now()); r.Status != 200 {
			t.Fatalf("webhook: %d", r.Status)
		}
		if back := c.Get("/company/credit?topup=" + tu.PublicID); !strings.Contains(back.Body, `id="topup-started"`) || !strings.Contains(back.Body, "750,00 €") {
			t.Fatalf("after payment: %d", back.Status)
		}
	})
	t.Run("no stripe", func(t *testing.T) {
		t.Parallel()
		a := apptest.NewSeededApp(t, "sqlite")
		c := apptest.NewClient(t, a.HTTP)
		c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
		page := c.Get("/company/credit")
		if page.Status != 200 || strings.Contains(page.Body, `id="topup-form"`) || !strings.Contains(page.Body, `id="topup-offline"`) {
			t.Fatalf("credit page without Stripe: %d", page.Status)
		}
		if res := c.PostForm("/company/credit", url.Values{"amount": {"100"}}); res.Status != 503 {
			t.Fatalf("top-up without Stripe: %d", res.Status)
		}
		agent := apptest.NewClient(t, a.HTTP)
		agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
		if res := agent.Get("/company/credit"); res.Status != 404 {
			t.Fatalf("agent: %d", res.Status)
		}
	})
}

// A bad filter in the gift list's address (an old bookmark) shows the list
// page with the filter form and the field marked, not a bare error page.
func TestGiftListBadFilter(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	res := c.Get("/gifts?status=bogus&reason=%3D%3D&cursor=zzz")
	if res.Status != 422 || !strings.Contains(res.Body, `id="f-status"`) || !strings.Contains(res.Body, `class="field-error"`) || !strings.Contains(res.Body, `href="/gifts/new"`) {
		t.Fatalf("bad filter: %d\n%s", res.Status, res.Body)
	}
	if res := c.Get("/gifts?status=sent"); res.Status != 200 {
		t.Fatalf("good filter: %d", res.Status)
	}
}

// An unknown tab in the review queue's address opens the queue, not an
// error page; the real tabs still work.
func TestReviewQueueUnknownTab(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Login("admin@trostpflaster.example", "demo-admin-2026")
	if res := c.Get("/admin/merchants?status=bogus"); res.Status != 303 || res.Header.Get("Location") != "/admin/merchants" {
		t.Fatalf("unknown tab: %d %q", res.Status, res.Header.Get("Location"))
	}
	if res := c.Get("/admin/merchants?status=approved"); res.Status != 200 || !strings.Contains(res.Body, "Café Rheinblick") {
		t.Fatalf("approved tab: %d", res.Status)
	}
}
