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
		AmountCents: 15_00, MerchantIDs: []uint{e.cafe.ID}, Notify: models.NotifyNone})
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
