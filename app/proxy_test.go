package app_test

import (
	"net/url"
	"strconv"
	"testing"

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
