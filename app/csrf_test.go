package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// TestCSRFPageViewsWriteNothing: page views, with or without a token, leave
// the kv table alone, while forms still need this browser's own signed token.
func TestCSRFPageViewsWriteNothing(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	count := func() int64 {
		var n int64
		if err := a.DB.Model(&models.KV{}).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	c := apptest.NewClient(t, a.HTTP)
	for _, p := range []string{"/login", "/", "/partners", "/login"} {
		if res := c.Get(p); res.Status != http.StatusOK {
			t.Fatalf("%s: %d", p, res.Status)
		}
		apptest.NewClient(t, a.HTTP).Get(p) // a new visitor each time
	}
	if after := count(); after != before {
		t.Fatalf("page views wrote %d kv rows", after-before)
	}
	token := c.CSRF()
	if res := c.Get("/login"); res.Cookie["tp_csrf"] == nil || res.Cookie["tp_csrf"].Value != token {
		t.Fatal("a valid token is not kept across page views")
	}
	c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")

	// A well-formed token we did not sign is refused even when the cookie
	// matches (an attacker who can plant a cookie cannot choose a token).
	forged := strings.Repeat("A", len(token))
	evil := apptest.NewClient(t, a.HTTP)
	evil.Jar["tp_csrf"] = &http.Cookie{Name: "tp_csrf", Value: forged}
	res := evil.PostRaw("/lang", url.Values{"_csrf": {forged}, "lang": {"en"}})
	if res.Status != http.StatusForbidden {
		t.Fatalf("forged token: %d", res.Status)
	}
	// And the form field must still equal the cookie.
	other := apptest.NewClient(t, a.HTTP)
	if res := other.PostRaw("/lang", url.Values{"_csrf": {token}, "lang": {"en"}}); res.Status != http.StatusForbidden {
		t.Fatalf("another browser's token: %d", res.Status)
	}
}
