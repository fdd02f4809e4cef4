package handlers

// Middleware: the session and language of every web request, the security
// headers of every response, the guards routes put in front of their
// handler (Require…) and the limit on failed look-ups (FailureLimit).

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
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

// localCompany holds the company membership RequireCompanyMember or
// RequireCompanyAdmin let through.
const localCompany = "company_member"

// companyMembership is the user's company membership (a user belongs to at
// most one organisation per kind; the first company wins).
func companyMembership(c *fiber.Ctx) *models.Membership {
	ms, _ := c.Locals(localMemberships).([]models.Membership)
	for i := range ms {
		if ms[i].CompanyID != nil {
			return &ms[i]
		}
	}
	return nil
}

// RequireCompanyMember lets only members of a company through (others: 404).
func (h *Handlers) RequireCompanyMember(c *fiber.Ctx) error {
	m := companyMembership(c)
	if m == nil {
		return models.ErrNotFound
	}
	c.Locals(localCompany, m)
	return c.Next()
}

// RequireCompanyAdmin lets only company admins through (others: 404).
func (h *Handlers) RequireCompanyAdmin(c *fiber.Ctx) error {
	m := companyMembership(c)
	if m == nil || m.Role != models.RoleCompanyAdmin {
		return models.ErrNotFound
	}
	c.Locals(localCompany, m)
	return c.Next()
}

// companyMemberOf is the membership RequireCompanyMember or
// RequireCompanyAdmin checked (nil on other routes).
func companyMemberOf(c *fiber.Ctx) *models.Membership {
	m, _ := c.Locals(localCompany).(*models.Membership)
	return m
}

// RequireMerchantOwner loads the logged-in user's merchant (the one named by
// ?m=slug, else the first) fresh from the database. Users without a merchant
// get 404, staff 403: profile, offer, team and capacity are the owner's.
// Every merchant route acts only on this merchant, so no URL can reach
// another one.
func (h *Handlers) RequireMerchantOwner(c *fiber.Ctx) error {
	ms, err := h.merchantMember(c)
	if err != nil {
		return err
	}
	if ms.Role != models.RoleMerchantOwner {
		return models.ErrForbidden
	}
	return c.Next()
}

// RequireMerchantMember lets owners and staff of a merchant through.
func (h *Handlers) RequireMerchantMember(c *fiber.Ctx) error {
	if _, err := h.merchantMember(c); err != nil {
		return err
	}
	return c.Next()
}

func (h *Handlers) merchantMember(c *fiber.Ctx) (*models.Membership, error) {
	u := currentUser(c)
	if u == nil {
		return nil, models.ErrNotFound
	}
	ms, err := h.store.MerchantMembership(c.UserContext(), u.ID, strings.Clone(c.Query("m")))
	if err != nil {
		return nil, err
	}
	c.Locals(localMerchantMember, ms)
	return ms, nil
}

// localMerchantMember holds the merchant membership RequireMerchantOwner or
// RequireMerchantMember loaded.
const localMerchantMember = "merchant_member"

// merchantMemberOf is the membership RequireMerchantOwner or
// RequireMerchantMember loaded, with its merchant (nil on other routes).
func merchantMemberOf(c *fiber.Ctx) *models.Membership {
	ms, _ := c.Locals(localMerchantMember).(*models.Membership)
	return ms
}

// RequireCompanyKey lets a request through only with an active company API
// key (Authorization: Bearer tp_…). Missing, unknown, revoked and merchant
// keys all get the same 401 problem, so the answer reveals nothing about
// which keys exist. The key is available to later handlers via apiKeyOf.
func (h *Handlers) RequireCompanyKey(c *fiber.Ctx) error {
	return h.requireKey(c, func(k *models.APIKey) bool { return k.CompanyID != nil })
}

// RequireMerchantKey is RequireCompanyKey for merchant keys (a web shop
// redeeming vouchers, a merchant reading its own account).
func (h *Handlers) RequireMerchantKey(c *fiber.Ctx) error {
	return h.requireKey(c, func(k *models.APIKey) bool { return k.MerchantID != nil })
}

func (h *Handlers) requireKey(c *fiber.Ctx, fits func(*models.APIKey) bool) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="api"`)
	scheme, token, ok := strings.Cut(strings.TrimSpace(c.Get(fiber.HeaderAuthorization)), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return models.ErrInvalidCredentials
	}
	k, err := h.store.AuthenticateAPIKey(c.UserContext(), strings.TrimSpace(token))
	if errors.Is(err, models.ErrNotFound) {
		return models.ErrInvalidCredentials
	}
	if err != nil {
		return err
	}
	if !fits(k) {
		return models.ErrInvalidCredentials
	}
	c.Locals(localAPIKey, k)
	return c.Next()
}

// apiKeyOf returns the key RequireCompanyKey or RequireMerchantKey stored,
// or nil on routes without either.
func apiKeyOf(c *fiber.Ctx) *models.APIKey {
	k, _ := c.Locals(localAPIKey).(*models.APIKey)
	return k
}

// APIKeyID is the id of the request's API key (0 on routes without one).
func APIKeyID(c *fiber.Ctx) uint {
	if k := apiKeyOf(c); k != nil {
		return k.ID
	}
	return 0
}

// giftCompanyKey is the company API key authenticated by RequireCompanyKey.
func giftCompanyKey(c *fiber.Ctx) (*models.APIKey, error) {
	k := apiKeyOf(c)
	if k == nil || k.CompanyID == nil {
		return nil, fiber.ErrUnauthorized
	}
	return k, nil
}

// merchantKeyID is the merchant and the id of the key RequireMerchantKey
// let through.
func merchantKeyID(c *fiber.Ctx) (uint, *uint) {
	k := apiKeyOf(c)
	return *k.MerchantID, &k.ID
}

// FailureLimit counts failed look-ups (answers 404) per key and, once max is
// reached within window, answers 429 with Retry-After until the window has
// passed. Successful requests are never counted or delayed, so a busy till
// or many customers behind one office IP are not locked out; only guessing
// is. Counters live in the shared kv table, so every instance agrees.
//
// A key found with no failures is remembered as clean for a second, so a
// busy claim page or till does not read the kv table on every request (it
// was a sixth of the claim page's time, make bench); a failure counted here
// forgets it at once, one counted by another instance is seen within that
// second.
//
// The key is stored (kv table): it names the client (IP, API key id, user
// id), never a secret such as the Authorization header or a session cookie.
func (h *Handlers) FailureLimit(prefix string, key func(*fiber.Ctx) string, max int64, window time.Duration) fiber.Handler {
	clean := newCleanMemo(time.Second, 10_000)
	count := func(c *fiber.Ctx, k string) int64 {
		b, err := h.store.KVGet(c.UserContext(), k)
		if err != nil || b == nil {
			return 0
		}
		n, _ := strconv.ParseInt(string(b), 10, 64)
		return n
	}
	return func(c *fiber.Ctx) error {
		k := "fail:" + prefix + ":" + key(c)
		if !clean.has(k) {
			n := count(c, k)
			if n >= max {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(window.Seconds())))
				return fiber.ErrTooManyRequests
			}
			if n == 0 {
				clean.add(k)
			}
		}
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			status, _ = classify(err)
		}
		if status == fiber.StatusNotFound {
			clean.forget(k)
			if _, serr := h.store.KVIncr(c.UserContext(), k, window); serr != nil {
				h.log.Warn("counting a failed look-up", "err", serr)
			}
		}
		return err
	}
}

// cleanMemo remembers keys known to have no failures, each for ttl, up to
// max keys (then it starts afresh).
type cleanMemo struct {
	mu  sync.Mutex
	m   map[string]time.Time
	ttl time.Duration
	max int
}

func newCleanMemo(ttl time.Duration, max int) *cleanMemo {
	return &cleanMemo{m: map[string]time.Time{}, ttl: ttl, max: max}
}

func (m *cleanMemo) has(k string) bool {
	m.mu.Lock()
	until, ok := m.m[k]
	m.mu.Unlock()
	return ok && time.Now().Before(until)
}

func (m *cleanMemo) add(k string) {
	m.mu.Lock()
	if len(m.m) >= m.max {
		clear(m.m)
	}
	m.m[k] = time.Now().Add(m.ttl)
	m.mu.Unlock()
}

func (m *cleanMemo) forget(k string) {
	m.mu.Lock()
	delete(m.m, k)
	m.mu.Unlock()
}
