// Package handlers is the thin HTTP layer: it parses input, calls one models
// operation and renders a page, a redirect or JSON. Business rules live in
// models; wiring lives in app.
package handlers

import (
	"log/slog"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// Options are the few settings handlers need from the configuration.
type Options struct {
	BaseURL       string
	SecureCookies bool
	DevMailbox    bool // show /dev/mail (no SMTP configured)
	Demo          bool
	// Checkout, Connect and Refunds are the payment ports (models/ports.go,
	// Stripe's adapter in app/stripe); nil when Stripe is not configured,
	// and pages then say so.
	Checkout models.Checkout
	Connect  models.Connect
	Refunds  models.Refunds
	// PaymentEvents verifies and decodes POST /webhooks/stripe; nil
	// (STRIPE_WEBHOOK_SECRET unset) means the endpoint answers 503.
	PaymentEvents models.PaymentEvents
	// FormActionHosts are the outside origins a form submission may end at
	// (Stripe's onboarding and Checkout pages, reached by a 303 after a
	// POST); the CSP's form-action also covers those redirects.
	FormActionHosts string
	// APIDoc is the OpenAPI document served at /api/v1/openapi.json and
	// rendered at /api/docs.
	APIDoc *APIDoc
	// HooksAllowHTTP accepts plain-http webhook endpoints (development, tests).
	HooksAllowHTTP bool
	// ClaimPageCacheBytes bounds the cache of rendered claimed-voucher
	// pages (claim_cache.go); 0 switches it off.
	ClaimPageCacheBytes int
}

// Handlers holds the dependencies of every route handler; it is built once.
type Handlers struct {
	store  *models.Store
	places *models.Places
	r      *Renderer
	log    *slog.Logger
	opt    Options
	csp    string
	qr     *qrCache
	claims *claimPageCache
}

// New builds the handlers.
func New(store *models.Store, places *models.Places, r *Renderer, log *slog.Logger, opt Options) *Handlers {
	csp := "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
	if opt.FormActionHosts != "" {
		csp += " " + opt.FormActionHosts
	}
	return &Handlers{store: store, places: places, r: r, log: log, opt: opt, csp: csp, qr: newQRCache(512),
		claims: newClaimPageCache(opt.ClaimPageCacheBytes)}
}

// Page is what every HTML page gets: who is logged in, the CSRF token, a
// flash message, the language and the current form state.
type Page struct {
	Title       string
	Lang        string
	Path        string
	Back        string // where the language switch returns to: this page, or the form a POST came from
	User        *models.User
	Memberships []models.Membership
	CSRF        string
	Flash       string
	FlashKind   string
	Errors      models.ValidationErrors
	Form        map[string]string
	DevMailbox  bool
}

// Err returns the translated error of a form field, or "".
func (p Page) Err(field string) string {
	if p.Errors == nil {
		return ""
	}
	return p.Errors[field]
}

// Val returns the submitted value of a form field (re-shown after errors).
func (p Page) Val(field string) string { return p.Form[field] }

// IsCompany reports whether the user belongs to a company.
func (p Page) IsCompany() bool {
	for _, m := range p.Memberships {
		if m.CompanyID != nil {
			return true
		}
	}
	return false
}

// IsMerchant reports whether the user belongs to a merchant.
func (p Page) IsMerchant() bool {
	for _, m := range p.Memberships {
		if m.MerchantID != nil {
			return true
		}
	}
	return false
}

// Locals keys.
const (
	localUser        = "user"
	localMemberships = "memberships"
	localLang        = "lang"
	localCSRF        = "csrf"
	localAPIKey      = "apikey"
)

// Cookie names.
const (
	cookieSession = "tp_session"
	cookieLang    = "tp_lang"
	cookieFlash   = "tp_flash"
)

func (h *Handlers) page(c *fiber.Ctx, titleKey string) Page {
	p := Page{Lang: langOf(c), Path: c.Path(), Back: backTarget(c), DevMailbox: h.opt.DevMailbox}
	if titleKey != "" {
		p.Title = h.r.T(p.Lang, titleKey)
	}
	if u, ok := c.Locals(localUser).(*models.User); ok {
		p.User = u
	}
	if ms, ok := c.Locals(localMemberships).([]models.Membership); ok {
		p.Memberships = ms
	}
	if tok, ok := c.Locals(localCSRF).(string); ok {
		p.CSRF = tok
	}
	if f := c.Cookies(cookieFlash); f != "" {
		kind, key, _ := strings.Cut(f, ":")
		p.FlashKind, p.Flash = kind, h.r.T(p.Lang, "flash."+key)
		c.Cookie(&fiber.Cookie{Name: cookieFlash, Value: "", Path: "/", MaxAge: -1, HTTPOnly: true, SameSite: "Lax", Secure: h.opt.SecureCookies})
	}
	return p
}

// backTarget is the local URL the language switch returns to. A GET page
// returns to itself (with its query, e.g. the chosen merchant). A page
// rendered by a POST (a form with errors, a till result) has no GET route of
// its own, so the switch returns to the page the form was on (the same-origin
// Referer), or to the start page.
func backTarget(c *fiber.Ctx) string {
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return c.OriginalURL()
	}
	if ref, err := url.Parse(c.Get(fiber.HeaderReferer)); err == nil && ref.Host == string(c.Request().Host()) && strings.HasPrefix(ref.Path, "/") {
		return ref.RequestURI()
	}
	return "/"
}

// flash sets a one-shot message (a translation key under "flash.") shown on
// the next page.
func (h *Handlers) flash(c *fiber.Ctx, kind, key string) {
	c.Cookie(&fiber.Cookie{Name: cookieFlash, Value: kind + ":" + key, Path: "/", MaxAge: 60, HTTPOnly: true, SameSite: "Lax", Secure: h.opt.SecureCookies})
}

// seeOther redirects with 303 after a successful POST.
func seeOther(c *fiber.Ctx, to string) error { return c.Redirect(to, fiber.StatusSeeOther) }

// safeNext accepts only local paths as redirect targets (no open redirects).
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/dashboard"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/dashboard"
	}
	return next
}

func langOf(c *fiber.Ctx) string {
	if l, ok := c.Locals(localLang).(string); ok {
		return l
	}
	return Languages[0]
}

func currentUser(c *fiber.Ctx) *models.User {
	u, _ := c.Locals(localUser).(*models.User)
	return u
}

// UserID is the signed-in user's id (0 when nobody is signed in).
func UserID(c *fiber.Ctx) uint {
	if u := currentUser(c); u != nil {
		return u.ID
	}
	return 0
}
