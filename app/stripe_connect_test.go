package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

const (
	testWebhookSecret = "whsec_test_trostpflaster"
	ownerEmail        = "inhaber@sonnenkorn.example"
	ownerPassword     = "demo-partner-2026"
	ownerSlug         = "baeckerei-sonnenkorn"
)

// stripeEnv is a seeded-app environment talking to stripe-mock.
func stripeEnv(t *testing.T) apptest.Env {
	t.Helper()
	mock := apptest.Require(t, "STRIPE_MOCK_URL")
	env := apptest.BaseEnv(t, "sqlite")
	env["STRIPE_SECRET_KEY"] = "sk_test_123"
	env["STRIPE_API_BASE"] = mock
	env["STRIPE_WEBHOOK_SECRET"] = testWebhookSecret
	return env
}

func seeded(t *testing.T, env apptest.Env) *app.App {
	t.Helper()
	a := apptest.NewApp(t, env)
	if _, err := app.SeedDemo(t.Context(), a.Store, a.Places); err != nil {
		t.Fatal(err)
	}
	return a
}

func auditCount(t *testing.T, a *app.App, action string) int64 {
	t.Helper()
	var n int64
	if err := a.DB.Model(&models.AuditLog{}).Where("action = ?", action).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// mustStaff adds a staff member to a merchant and returns a logged-in client.
func mustStaff(t *testing.T, a *app.App, merchantID uint, email string) *apptest.Client {
	t.Helper()
	u, err := a.Store.CreateUser(t.Context(), models.NewUser{Email: email, Name: "Staff", Password: "staff password 1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.AddMember(t.Context(), u.ID, nil, &merchantID, models.RoleMerchantStaff); err != nil {
		t.Fatal(err)
	}
	c := apptest.NewClient(t, a.HTTP)
	c.Login(email, "staff password 1")
	return c
}

func TestStripeOnboardingAgainstStripeMock(t *testing.T) {
	t.Parallel()
	a := seeded(t, stripeEnv(t))
	ctx := t.Context()
	c := apptest.NewClient(t, a.HTTP)
	c.Head["Accept-Language"] = "de"
	c.Login(ownerEmail, ownerPassword)

	if res := c.Get("/dashboard"); !strings.Contains(res.Body, `href="/merchant/stripe?m=`+ownerSlug+`"`) {
		t.Fatalf("dashboard lacks the payout link:\n%s", res.Body)
	}
	res := c.Get("/merchant/stripe")
	if res.Status != 200 || !strings.Contains(res.Body, "Auszahlungen einrichten") || !strings.Contains(res.Body, `action="/merchant/stripe/connect?m=`+ownerSlug) {
		t.Fatalf("setup page: %d\n%s", res.Status, res.Body)
	}

	// The refresh URL (a GET) never creates an account.
	if res := c.Get("/merchant/stripe/refresh?m=" + ownerSlug); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/merchant/stripe?m="+ownerSlug {
		t.Fatalf("refresh before connect: %d %s", res.Status, res.Header.Get("Location"))
	}
	var first string
	for i := 0; i < 2; i++ { // a double click
		res = c.PostForm("/merchant/stripe/connect?m="+ownerSlug, nil)
		loc := res.Header.Get("Location")
		if res.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://") || !strings.Contains(loc, "stripe") {
			t.Fatalf("connect #%d: %d %q\n%s", i, res.Status, loc, res.Body)
		}
		m, err := a.Store.MerchantBySlug(ctx, ownerSlug)
		if err != nil || !strings.HasPrefix(m.StripeAccount(), "acct_") {
			t.Fatalf("connect #%d stored %q (%v)", i, m.StripeAccount(), err)
		}
		if i == 0 {
			first = m.StripeAccount()
		} else if m.StripeAccount() != first {
			t.Fatalf("second click replaced the account: %s → %s", first, m.StripeAccount())
		}
	}
	if n := auditCount(t, a, "merchant.stripe_account_created"); n != 1 {
		t.Fatalf("%d accounts created, want 1", n)
	}

	// Refresh URL: a new link.
	res = c.Get("/merchant/stripe/refresh?m=" + ownerSlug)
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "https://") {
		t.Fatalf("refresh: %d %s", res.Status, res.Header.Get("Location"))
	}

	// Return URL: re-fetches the account and shows what Stripe still needs.
	res = c.Get("/merchant/stripe/return?m=" + ownerSlug)
	if res.Status != 200 || !strings.Contains(res.Body, "Willkommen zurück") || !strings.Contains(res.Body, "Stripe braucht noch") ||
		!strings.Contains(res.Body, "Bankverbindung für Auszahlungen") || !strings.Contains(res.Body, first) {
		t.Fatalf("return page: %d\n%s", res.Status, res.Body)
	}
	m, _ := a.Store.MerchantBySlug(ctx, ownerSlug)
	if m.StripeUpdatedAt == nil || len(m.CurrentlyDue()) == 0 || m.PayoutsEnabled {
		t.Fatalf("return did not store the fetched state: %+v", m.MerchantStripe)
	}
	c.Head["Accept-Language"] = "en"
	c.Jar["tp_lang"] = &http.Cookie{Name: "tp_lang", Value: "en"}
	if res = c.Get("/merchant/stripe?m=" + ownerSlug); res.Status != 200 || !strings.Contains(res.Body, "Bank account for payouts") {
		t.Fatalf("English page: %d\n%s", res.Status, res.Body)
	}
}

func TestStripeSetupAccess(t *testing.T) {
	t.Parallel()
	a := seeded(t, stripeEnv(t))
	m, err := a.Store.MerchantBySlug(t.Context(), ownerSlug)
	if err != nil {
		t.Fatal(err)
	}
	staff := mustStaff(t, a, m.ID, "staff@sonnenkorn.example")
	company := apptest.NewClient(t, a.HTTP)
	company.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	anon := apptest.NewClient(t, a.HTTP)

	for _, tc := range []struct {
		name   string
		c      *apptest.Client
		method string
		path   string
		status int
	}{
		{"staff setup page", staff, "GET", "/merchant/stripe", 403},
		{"staff connect", staff, "POST", "/merchant/stripe/connect", 403},
		{"staff return", staff, "GET", "/merchant/stripe/return", 403},
		{"staff refresh", staff, "GET", "/merchant/stripe/refresh", 403},
		{"staff keys", staff, "GET", "/merchant/keys", 403},
		{"staff key create", staff, "POST", "/merchant/keys", 403},
		{"company setup page", company, "GET", "/merchant/stripe", 404},
		{"company connect", company, "POST", "/merchant/stripe/connect", 404},
		{"company keys", company, "GET", "/merchant/keys", 404},
		{"anonymous", anon, "GET", "/merchant/stripe", 303},
		{"anonymous keys", anon, "GET", "/merchant/keys", 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res *apptest.Response
			if tc.method == "POST" {
				res = tc.c.PostForm(tc.path, url.Values{"name": {"x"}})
			} else {
				res = tc.c.Get(tc.path)
			}
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d", res.Status, tc.status)
			}
		})
	}
	if res := staff.Get("/dashboard"); res.Status != 200 || strings.Contains(res.Body, "/merchant/stripe") {
		t.Fatalf("staff dashboard offers payout settings: %d", res.Status)
	}
	if m, _ := a.Store.MerchantBySlug(t.Context(), ownerSlug); m.StripeConnected() {
		t.Fatal("staff created an account")
	}
	if ks, _ := a.Store.MerchantAPIKeys(t.Context(), m.ID); len(ks) != 0 {
		t.Fatal("staff created a key")
	}
}

func TestStripeNotConfigured(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Head["Accept-Language"] = "de"
	c.Login(ownerEmail, ownerPassword)
	res := c.Get("/merchant/stripe")
	if res.Status != 200 || !strings.Contains(res.Body, "stripe-not-configured") || strings.Contains(res.Body, `id="stripe-connect"`) {
		t.Fatalf("page: %d\n%s", res.Status, res.Body)
	}
	if res = c.PostForm("/merchant/stripe/connect", nil); res.Status != http.StatusServiceUnavailable || !strings.Contains(res.Body, "noch nicht eingerichtet") {
		t.Fatalf("connect: %d\n%s", res.Status, res.Body)
	}
	if res = c.Get("/merchant/stripe/return"); res.Status != 200 {
		t.Fatalf("return: %d", res.Status)
	}
	// Without a webhook secret the endpoint refuses rather than trusting anything.
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(`{}`))
	if res = apptest.NewClient(t, a.HTTP).Do(req); res.Status != http.StatusServiceUnavailable || !strings.Contains(res.Header.Get("Content-Type"), "problem+json") {
		t.Fatalf("webhook without secret: %d %s", res.Status, res.Body)
	}
}

func TestCLIMerchantConnect(t *testing.T) {
	t.Parallel()
	env := stripeEnv(t)
	a := seeded(t, env)
	if code, out, errs := runCLI(t, env, "merchant", "connect", "--help"); code != 0 || !strings.Contains(out+errs, "--merchant") {
		t.Fatalf("help: %d %s %s", code, out, errs)
	}
	var first string
	for i := 0; i < 2; i++ {
		code, out, errs := runCLI(t, env, "merchant", "connect", "--merchant", ownerSlug)
		link := lastLine(out)
		if code != 0 || !strings.HasPrefix(link, "https://") {
			t.Fatalf("connect #%d: %d %q %s", i, code, out, errs)
		}
		m, err := a.Store.MerchantBySlug(t.Context(), ownerSlug)
		if err != nil || !m.StripeConnected() || (first != "" && m.StripeAccount() != first) {
			t.Fatalf("connect #%d: account %q (first %q) %v", i, m.StripeAccount(), first, err)
		}
		first = m.StripeAccount()
	}
	if n := auditCount(t, a, "merchant.stripe_account_created"); n != 1 {
		t.Fatalf("%d accounts created", n)
	}
	if code, _, errs := runCLI(t, env, "merchant", "connect", "--merchant", "nope"); code != 1 || !strings.Contains(errs, "nope") {
		t.Fatalf("unknown merchant: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, env, "merchant", "connect"); code != 1 {
		t.Fatal("missing --merchant accepted")
	}
	noStripe := apptest.Env{}
	for k, v := range env {
		noStripe[k] = v
	}
	delete(noStripe, "STRIPE_SECRET_KEY")
	if code, _, errs := runCLI(t, noStripe, "merchant", "connect", "--merchant", ownerSlug); code != 1 || !strings.Contains(errs, "STRIPE_SECRET_KEY") {
		t.Fatalf("without Stripe: %d %s", code, errs)
	}
}

func apiGet(t *testing.T, a *app.App, path, key string) *apptest.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return apptest.NewClient(t, a.HTTP).Do(req)
}

func TestAPIMerchantSelf(t *testing.T) {
	t.Parallel()
	a, m := webhookApp(t)
	ctx := t.Context()
	other, err := a.Store.MerchantBySlug(ctx, "radhaus-flingern")
	if err != nil {
		t.Fatal(err)
	}
	keyA, _, err := a.Store.CreateAPIKey(ctx, nil, &m.ID, "shop", models.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	keyB, _, err := a.Store.CreateAPIKey(ctx, nil, &other.ID, "shop", models.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	company, err := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	if err != nil {
		t.Fatal(err)
	}
	companyKey, _, err := a.Store.CreateAPIKey(ctx, &company.ID, nil, "desk", models.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}

	res := apiGet(t, a, "/api/v1/merchant", keyA)
	if res.Status != 200 {
		t.Fatalf("merchant key: %d %s", res.Status, res.Body)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "slug", "name", "stripe_account_id", "charges_enabled", "payouts_enabled", "payable_cents"} {
		if _, ok := out[k]; !ok {
			t.Errorf("field %s missing in %s", k, res.Body)
		}
	}
	if out["slug"] != ownerSlug || out["stripe_account_id"] != "acct_web" || out["id"] != float64(m.ID) || out["payable_cents"] != float64(0) {
		t.Fatalf("body %s", res.Body)
	}
	// Merchant B's key sees B only, whatever the request says.
	res = apiGet(t, a, "/api/v1/merchant?id="+fmt.Sprint(m.ID)+"&slug="+ownerSlug, keyB)
	if res.Status != 200 || !strings.Contains(res.Body, `"slug":"radhaus-flingern"`) || strings.Contains(res.Body, ownerSlug) || strings.Contains(res.Body, "acct_web") {
		t.Fatalf("B's view: %d %s", res.Status, res.Body)
	}

	for _, tc := range []struct{ name, key, header string }{
		{"company key", companyKey, ""},
		{"no key", "", ""},
		{"unknown key", models.APIKeyPrefix + "notarealkeynotarealkeynotarealkey12345", ""},
		{"not a bearer", "", "Basic " + keyA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/merchant", nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res := apptest.NewClient(t, a.HTTP).Do(req)
			if res.Status != 401 || !strings.Contains(res.Header.Get("Content-Type"), "problem+json") || strings.Contains(res.Body, "acct_") {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
		})
	}
}
