package handlers_test

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// Behind trusted proxies the client is the rightmost X-Forwarded-For entry
// that is not a proxy of ours; what the client wrote further left is ignored.
func TestProxyTrustResolve(t *testing.T) {
	t.Parallel()
	serve := func(trusted ...string) *fiber.App {
		app := fiber.New()
		if trusted != nil {
			app.Use(handlers.NewProxyTrust(trusted).Middleware)
		}
		app.Get("/", func(c *fiber.Ctx) error { return c.SendString(handlers.ClientIP(c)) })
		return app
	}
	// fiber's app.Test connects from 0.0.0.0.
	proxied := serve("0.0.0.0", "10.0.0.0/8", "fd00::/8")
	direct := serve()
	untrusted := serve("192.0.2.1")
	for _, tc := range []struct {
		name string
		app  *fiber.App
		xff  string
		want string
	}{
		{"one proxy", proxied, "203.0.113.7", "203.0.113.7"},
		{"client-supplied entries on the left", proxied, "198.51.100.1, 198.51.100.2,203.0.113.7", "203.0.113.7"},
		{"two proxies of ours", proxied, "198.51.100.1, 203.0.113.8, 10.1.2.3", "203.0.113.8"},
		{"with ports", proxied, "198.51.100.1, 203.0.113.9:5123", "203.0.113.9"},
		{"IPv6 with port", proxied, "[2001:db8::1]:443", "2001:db8::1"},
		{"IPv4-mapped", proxied, "::ffff:203.0.113.10", "203.0.113.10"},
		{"no header: the proxy itself", proxied, "", "0.0.0.0"},
		{"garbage: the last good hop", proxied, "198.51.100.1, not-an-ip, 10.1.2.3", "10.1.2.3"},
		{"garbage only", proxied, "unknown", "0.0.0.0"},
		{"only proxies of ours", proxied, "10.0.0.1, fd00::2", "10.0.0.1"},
		{"no proxies configured", direct, "203.0.113.7", "0.0.0.0"},
		{"peer is not a trusted proxy", untrusted, "203.0.113.7", "0.0.0.0"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		res, err := tc.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		if string(got) != tc.want {
			t.Errorf("%s (%q): client %q, want %q", tc.name, tc.xff, got, tc.want)
		}
	}
}
