package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// csrfTokens makes the tokens of Fiber's CSRF middleware self-validating, so
// no page view writes to the database: a token is 16 random bytes and its
// issue time, signed with a key derived from SECRET_KEY (HMAC-SHA256). The
// middleware's checks stay as they are — a form or X-Csrf-Token value must
// equal the browser's HttpOnly cookie, and the token must pass Get — only
// "was this token issued by us and is it fresh" is answered by the
// signature instead of a kv row. Every instance sharing SECRET_KEY accepts
// the tokens of the others, as the shared kv table did; an attacker can no
// more mint a token than guess a stored one. Tokens issued before (random
// UUIDs stored in kv) are still looked up in legacy until they expire.
//
// It is the middleware's fiber.Storage: Set and Delete have nothing to store
// (the middleware only "extends" a token with Set; this app never deletes
// single tokens).
type csrfTokens struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	legacy fiber.Storage
	// macs reuses HMAC states keyed with key: every page view without a
	// token cookie signs a new one.
	macs sync.Pool
}

const (
	csrfRandLen  = 16
	csrfMACLen   = 16
	csrfTokenLen = csrfRandLen + 8 + csrfMACLen
)

var csrfOK = []byte{'+'}

func newCSRFTokens(secret []byte, ttl time.Duration, legacy fiber.Storage) *csrfTokens {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("csrf-token\x00"))
	t := &csrfTokens{key: m.Sum(nil), ttl: ttl, now: time.Now, legacy: legacy}
	t.macs.New = func() any { return hmac.New(sha256.New, t.key) }
	return t
}

func (t *csrfTokens) mac(body []byte) []byte {
	m := t.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(body)
	sum := m.Sum(make([]byte, 0, sha256.Size))[:csrfMACLen]
	t.macs.Put(m)
	return sum
}

// Generate is the middleware's KeyGenerator.
func (t *csrfTokens) Generate() string {
	b := make([]byte, csrfTokenLen)
	if _, err := rand.Read(b[:csrfRandLen]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	binary.BigEndian.PutUint64(b[csrfRandLen:], uint64(t.now().Unix()))
	copy(b[csrfRandLen+8:], t.mac(b[:csrfRandLen+8]))
	return base64.RawURLEncoding.EncodeToString(b)
}

// age returns how long ago a correctly signed token was issued; ok is false
// for anything we did not sign, and for tokens from the future or older than
// the lifetime.
func (t *csrfTokens) age(token string) (time.Duration, bool) {
	if base64.RawURLEncoding.EncodedLen(csrfTokenLen) != len(token) {
		return 0, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token) // Strict: one spelling per token
	if err != nil || len(b) != csrfTokenLen {
		return 0, false
	}
	if !hmac.Equal(b[csrfRandLen+8:], t.mac(b[:csrfRandLen+8])) {
		return 0, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[csrfRandLen:])), 0)
	age := t.now().Sub(issued)
	if age < -time.Minute || age >= t.ttl { // a minute of clock skew between instances
		return 0, false
	}
	return age, true
}

// Get answers the middleware's "is this token valid".
func (t *csrfTokens) Get(key string) ([]byte, error) {
	if _, ok := t.age(key); ok {
		return csrfOK, nil
	}
	if t.legacy != nil && len(key) == 36 { // a stored UUID token from before
		return t.legacy.Get(key)
	}
	return nil, nil
}

func (t *csrfTokens) Set(string, []byte, time.Duration) error { return nil }
func (t *csrfTokens) Delete(string) error                     { return nil }
func (t *csrfTokens) Reset() error                            { return nil }
func (t *csrfTokens) Close() error                            { return nil }

// Rotate runs before the CSRF middleware: on page views (safe methods) a
// token past half its lifetime is dropped from the request, so the
// middleware issues a fresh one and every form rendered has at least half a
// lifetime left to be sent. (A signed token's lifetime counts from its issue,
// not from the last page view as a stored token's did.)
func (t *csrfTokens) Rotate(cookie string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead:
			if v := c.Cookies(cookie); v != "" {
				if age, ok := t.age(v); ok && age > t.ttl/2 {
					c.Request().Header.DelCookie(cookie)
				}
			}
		}
		return c.Next()
	}
}
