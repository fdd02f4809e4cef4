package app_test

import (
	"regexp"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
)

// Every response carries the security headers; HSTS only when the request
// came over TLS as told by a trusted proxy, never because any client
// claims it.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	plain := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	proxied := apptest.BaseEnv(t, "sqlite")
	proxied["TRUSTED_PROXIES"] = "0.0.0.0" // the address fiber's app.Test connects from
	proxied["BASE_URL"] = "https://gutschein.example"
	behind := apptest.NewApp(t, proxied)
	for _, tc := range []struct {
		name  string
		c     *apptest.Client
		proto string
		hsts  bool
	}{
		{"no proxy configured, forged header", apptest.NewClient(t, plain.HTTP), "https", false},
		{"no proxy configured, plain", apptest.NewClient(t, plain.HTTP), "", false},
		{"trusted proxy, https", apptest.NewClient(t, behind.HTTP), "https", true},
		{"trusted proxy, http", apptest.NewClient(t, behind.HTTP), "http", false},
	} {
		if tc.proto != "" {
			tc.c.Head["X-Forwarded-Proto"] = tc.proto
		}
		for _, path := range []string{"/", "/login", "/partners", "/api/v1/merchants", "/no/such/page", "/healthz"} {
			res := tc.c.Get(path)
			h := res.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s %s: CSP %q lacks %q", tc.name, path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
				t.Errorf("%s %s: headers %v", tc.name, path, h)
			}
			if got := h.Get("Strict-Transport-Security"); (got != "") != tc.hsts || (tc.hsts && !strings.Contains(got, "max-age=31536000")) {
				t.Errorf("%s %s: HSTS %q", tc.name, path, got)
			}
			// No inline script or event handler attributes in any page.
			for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(res.Body, -1) {
				if !strings.Contains(tag, "src=") {
					t.Errorf("%s: inline script %s", path, tag)
				}
			}
			if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(res.Body) {
				t.Errorf("%s: inline event handler", path)
			}
		}
	}
	if res := apptest.NewClient(t, behind.HTTP).Get("/login"); res.Cookie["__Host-tp_csrf"] == nil || !res.Cookie["__Host-tp_csrf"].Secure {
		t.Error("an https BASE_URL must make cookies Secure")
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
