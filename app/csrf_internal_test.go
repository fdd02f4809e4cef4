package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestCSRFTokensSigned(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tok := newCSRFTokens([]byte(strings.Repeat("k", 32)), 8*time.Hour, nil)
	tok.now = func() time.Time { return now }
	valid := func(tk *csrfTokens, s string) bool {
		b, err := tk.Get(s)
		return err == nil && b != nil
	}
	a, b := tok.Generate(), tok.Generate()
	if a == b || !valid(tok, a) || !valid(tok, b) {
		t.Fatalf("fresh tokens: %q %q", a, b)
	}
	// Any change to a token, another key, or garbage is refused.
	// Replace one character by the next one of the base64url alphabet, so the
	// result is always a well-formed token that differs from a.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	flipped := []byte(a)
	flipped[3] = alphabet[(strings.IndexByte(alphabet, a[3])+1)%len(alphabet)]
	// The last character carries two unused bits; another spelling of the
	// same bytes is refused too.
	respelled := []byte(a)
	last := strings.IndexByte(alphabet, a[len(a)-1])
	respelled[len(a)-1] = alphabet[last&^3|(last+1)&3]
	other := newCSRFTokens([]byte(strings.Repeat("x", 32)), 8*time.Hour, nil)
	other.now = tok.now
	for _, bad := range []string{string(flipped), string(respelled), a[:len(a)-1], a + "A", "", "not-a-token", strings.Repeat("A", len(a)), "00000000-0000-4000-8000-000000000000"} {
		if valid(tok, bad) {
			t.Errorf("accepted %q", bad)
		}
	}
	if valid(other, a) {
		t.Error("a token signed with another SECRET_KEY is accepted")
	}
	// Lifetime counts from issue; tokens from the future are refused.
	now = now.Add(8*time.Hour - time.Second)
	if !valid(tok, a) {
		t.Error("token refused before its lifetime ended")
	}
	now = now.Add(time.Second)
	if valid(tok, a) {
		t.Error("expired token accepted")
	}
	now = now.Add(-10 * time.Hour)
	if valid(tok, a) {
		t.Error("token from the future accepted")
	}
}

func TestCSRFRotateAtHalfLife(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tok := newCSRFTokens([]byte(strings.Repeat("k", 32)), 8*time.Hour, nil)
	tok.now = func() time.Time { return now }
	young := tok.Generate()
	tok.now = func() time.Time { return now.Add(-5 * time.Hour) }
	old := tok.Generate()
	tok.now = func() time.Time { return now }

	app := fiber.New()
	app.Use(tok.Rotate("tp_csrf"))
	app.All("/", func(c *fiber.Ctx) error { return c.SendString(c.Cookies("tp_csrf")) })
	for _, tc := range []struct {
		method, cookie, want string
	}{
		{"GET", young, young},
		{"GET", old, ""},   // dropped: the middleware will issue a fresh token
		{"POST", old, old}, // a form rendered earlier is still checked against it
		{"GET", "garbage", "garbage"},
	} {
		req := httptest.NewRequest(tc.method, "/", nil)
		req.AddCookie(&http.Cookie{Name: "tp_csrf", Value: tc.cookie})
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if string(body) != tc.want {
			t.Errorf("%s with %.8s…: request cookie %q, want %q", tc.method, tc.cookie, body, tc.want)
		}
	}
}
