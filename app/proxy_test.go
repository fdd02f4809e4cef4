package app_test

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
)

// Behind a configured proxy, X-Forwarded-For names the client, so users
// behind one proxy get separate log-in budgets; without the setting the
// header is ignored (see TestLoginFailuresAndRateLimit).
func TestTrustedProxyForwardedFor(t *testing.T) {
	t.Parallel()
	env := apptest.BaseEnv(t, "sqlite")
	env["TRUSTED_PROXIES"] = "0.0.0.0" // the address fiber's app.Test connects from
	a := apptest.NewApp(t, env)
	c := apptest.NewClient(t, a.HTTP)
	for i := 0; i < 14; i++ {
		c.Head["X-Forwarded-For"] = "203.0.113." + strconv.Itoa(10+i)
		res := c.PostForm("/login", url.Values{"email": {"user" + string(rune('a'+i)) + "@example.com"}, "password": {"whatever123"}})
		if res.Status != 422 {
			t.Fatalf("attempt %d from its own client IP: %d", i, res.Status)
		}
	}
}

// A proxy appends the address it saw to what the client sent, so a client
// that writes its own X-Forwarded-For entries still has one log-in budget:
// the client is the rightmost entry that is not a trusted proxy.
func TestTrustedProxyForgedEntriesShareOneBudget(t *testing.T) {
	t.Parallel()
	env := apptest.BaseEnv(t, "sqlite")
	env["TRUSTED_PROXIES"] = "0.0.0.0, 10.0.0.0/8"
	a := apptest.NewApp(t, env)
	c := apptest.NewClient(t, a.HTTP)
	statuses := map[int]int{}
	for i := 0; i < 14; i++ {
		// forged entry, the real client as the outer proxy saw it, an inner proxy
		c.Head["X-Forwarded-For"] = "198.51.100." + strconv.Itoa(10+i) + ", 203.0.113.7, 10.0.0.2"
		res := c.PostForm("/login", url.Values{"email": {"user" + string(rune('a'+i)) + "@example.com"}, "password": {"whatever123"}})
		statuses[res.Status]++
	}
	if statuses[422] != 10 || statuses[429] != 4 {
		t.Fatalf("forged X-Forwarded-For entries gave fresh budgets: %v", statuses)
	}
}

// The demo keeps one secret key under the data directory, created with
// owner-only permissions and reused at the next start.
func TestDemoSecretKeyIsCreatedOnceAndKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := apptest.Env{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "demo.db"), "BCRYPT_COST": "4"}
	var keys [][]byte
	for i := 0; i < 2; i++ {
		cfg, err := app.LoadConfig(env.Get, true)
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(cfg, apptest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, a.Cfg.SecretKey)
		a.Close()
	}
	st, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key: %v %v", err, st)
	}
	if len(keys[0]) < 32 || !bytes.Equal(keys[0], keys[1]) {
		t.Fatal("demo secret not kept between starts")
	}
}

// Stripe's onboarding and Checkout pages are reached by a redirect after a
// form POST; the CSP's form-action must allow them (and nothing else
// outside) or browsers silently refuse the redirect.
func TestCSPAllowsStripeRedirectsOnly(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	csp := apptest.NewClient(t, a.HTTP).Get("/").Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self' https://connect.stripe.com https://checkout.stripe.com") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP %q", csp)
	}
}
