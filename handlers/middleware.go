package handlers

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// LoadSession resolves the session cookie into the user and memberships, and
// picks the language: explicit switch (cookie), then the user's setting, then
// Accept-Language, then German.
func (h *Handlers) LoadSession(c *fiber.Ctx) error {
	if tok := c.Cookies(cookieSession); tok != "" {
		u, err := h.store.SessionUser(c.UserContext(), tok)
		switch {
		case err == nil:
			ms, err := h.store.Memberships(c.UserContext(), u.ID)
			if err != nil {
				return err
			}
			c.Locals(localUser, u)
			c.Locals(localMemberships, ms)
		case errors.Is(err, models.ErrNotFound):
			h.clearSessionCookie(c)
		default:
			return err
		}
	}
	c.Locals(localLang, h.pickLang(c))
	return c.Next()
}

func (h *Handlers) pickLang(c *fiber.Ctx) string {
	if l := c.Cookies(cookieLang); l == "de" || l == "en" {
		return l
	}
	if u := currentUser(c); u != nil && (u.Locale == "de" || u.Locale == "en") {
		return u.Locale
	}
	if l := c.AcceptsLanguages("de", "en"); l != "" {
		return l
	}
	return Languages[0]
}

// RequireUser sends anonymous visitors to the log-in page.
func (h *Handlers) RequireUser(c *fiber.Ctx) error {
	if currentUser(c) == nil {
		return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	return c.Next()
}

// RequirePlatformAdmin allows platform admins only; others get 404, so the
// admin area is not advertised.
func (h *Handlers) RequirePlatformAdmin(c *fiber.Ctx) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	if !u.IsPlatformAdmin {
		return models.ErrNotFound
	}
	return c.Next()
}

func (h *Handlers) setSessionCookie(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{Name: cookieSession, Value: token, Path: "/", HTTPOnly: true, SameSite: "Lax",
		Secure: h.opt.SecureCookies, Expires: time.Now().Add(models.SessionTTL)})
}

func (h *Handlers) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: cookieSession, Value: "", Path: "/", HTTPOnly: true, SameSite: "Lax",
		Secure: h.opt.SecureCookies, MaxAge: -1, Expires: time.Unix(0, 0)})
}

// SecurityHeaders sets headers every response carries: no framing
// (frame-ancestors 'none' and X-Frame-Options), no sniffing, a strict
// same-origin referrer and a CSP without inline script. HSTS is sent only
// on requests that arrived over TLS: directly, or through a proxy listed in
// TRUSTED_PROXIES that says so with X-Forwarded-Proto: https (Fiber's
// Protocol() ignores that header from anyone else).
func (h *Handlers) SecurityHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Content-Security-Policy", h.csp)
	// No page may use camera, microphone or location, except the till,
	// which allows its own origin the camera for QR scanning (redeemPage).
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if c.Protocol() == "https" {
		c.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	return c.Next()
}
