package app

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"trostpflaster/handlers"
	"trostpflaster/static"
)

// routes registers every route of the marketplace; this file is the whole
// URL space, one function per area. app/testdata/routes.golden lists the
// result (TestRouteTable).
//
// Order matters twice in Fiber. Middleware of a group runs for the routes
// registered after it: ops, Stripe webhooks and the public API come before
// the web group and so run without session or CSRF token. And a static
// segment must come before a parameter that would match it (/gifts/bulk
// before /gifts/:id), which the areas below keep.
func routes(app *fiber.App, h *handlers.Handlers, storage fiber.Storage, cfg Config, o ops) {
	opsRoutes(app, h, cfg, o)
	stripeWebhookRoutes(app, h)
	api := app.Group("/api/v1")
	publicAPIRoutes(api, h)

	web := webGroup(app, h, storage, cfg)
	lim := newLimits(h, storage)
	publicRoutes(web, h, lim)
	claimRoutes(web, api, h, lim)
	companyWebRoutes(web, h)
	companyAPIRoutes(api, h)
	merchantWebRoutes(web, h, lim)
	merchantAPIRoutes(api, h, lim)
	adminRoutes(web, h)

	api.Use(h.APINotFound)
	web.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}

// opsRoutes: static files, health, readiness and Prometheus metrics. Probes
// and scrapes never create sessions or tokens.
func opsRoutes(app *fiber.App, h *handlers.Handlers, cfg Config, o ops) {
	app.Use("/static", filesystem.New(filesystem.Config{Root: httpFS(static.FS()), MaxAge: 3600}))
	app.Get("/favicon.ico", func(c *fiber.Ctx) error { return c.Redirect("/static/img/favicon.svg", fiber.StatusMovedPermanently) })
	app.Get("/healthz", h.Healthz)
	app.Get("/readyz", readyz(o))
	app.Get("/metrics", metricsAccess(cfg.MetricsToken), metricsHandler(o))
}

// stripeWebhookRoutes: Stripe authenticates with a signature over the raw
// body, not with cookies.
func stripeWebhookRoutes(app *fiber.App, h *handlers.Handlers) {
	app.Post("/webhooks/stripe", h.StripeWebhook)
}

// publicAPIRoutes: the partner catalog as JSON and the API's description.
func publicAPIRoutes(api fiber.Router, h *handlers.Handlers) {
	api.Get("/merchants", h.APIMerchants)
	api.Get("/openapi.json", h.OpenAPIJSON)
}

// webGroup is the group of web pages: session, language and CSRF on every
// form. Tokens are signed, not stored (app/csrf.go), so page views write
// nothing. It has no prefix, so its middleware also runs for the API
// routes registered after it; CSRF skips them (API keys, no cookies).
func webGroup(app *fiber.App, h *handlers.Handlers, storage fiber.Storage, cfg Config) fiber.Router {
	const csrfTTL = 8 * time.Hour
	csrfCookie := "tp_csrf"
	if cfg.SecureCookies() {
		// Over https the cookie is __Host-: browsers then accept it only
		// Secure, for Path=/ and from this host itself, so a sibling
		// subdomain or a plain-http response cannot plant a token of its
		// own choosing (the check compares form and cookie).
		csrfCookie = "__Host-tp_csrf"
	}
	tokens := newCSRFTokens(cfg.SecretKey, csrfTTL, storage)
	return app.Group("", h.LoadSession, tokens.Rotate(csrfCookie), csrf.New(csrf.Config{
		KeyLookup:      "form:_csrf",
		Next:           func(c *fiber.Ctx) bool { return strings.HasPrefix(c.Path(), "/api/") },
		Extractor:      csrfFromFormOrHeader,
		CookieName:     csrfCookie,
		CookiePath:     "/",
		CookieSameSite: "Lax",
		CookieSecure:   cfg.SecureCookies(),
		CookieHTTPOnly: true,
		Expiration:     csrfTTL,
		KeyGenerator:   tokens.Generate,
		Storage:        tokens,
		ContextKey:     "csrf",
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			return fiber.NewError(fiber.StatusForbidden, "csrf")
		},
	}))
}

// csrfFromFormOrHeader accepts the token from the form field or, for htmx
// requests, from the X-Csrf-Token header.
func csrfFromFormOrHeader(c *fiber.Ctx) (string, error) {
	if t := c.FormValue("_csrf"); t != "" {
		return t, nil
	}
	if t := c.Get(csrf.HeaderName); t != "" {
		return t, nil
	}
	return "", csrf.ErrTokenNotFound
}

// limits are the rate limits routes share. Their counters live in storage
// (Redis or the kv table), so every instance counts together.
type limits struct {
	login, loginAccount, reset, signup, invite fiber.Handler
	// Failed look-ups of claim tokens and voucher codes are limited per IP
	// (and per API key or till user) so they cannot be enumerated;
	// successful requests do not count, so a busy till or an office full of
	// customers is never locked out (handlers.FailureLimit).
	claim, code, till fiber.Handler
}

func newLimits(h *handlers.Handlers, storage fiber.Storage) limits {
	tooMany := func(c *fiber.Ctx) error { return fiber.ErrTooManyRequests }
	perIP := func(prefix string, max int, window time.Duration, reached fiber.Handler) fiber.Handler {
		return limiter.New(limiter.Config{
			Max: max, Expiration: window, Storage: storage,
			KeyGenerator: func(c *fiber.Ctx) string { return prefix + handlers.ClientIP(c) },
			LimitReached: reached,
		})
	}
	failures := func(prefix string, key func(*fiber.Ctx) string) fiber.Handler {
		return h.FailureLimit(prefix, key, 20, 10*time.Minute)
	}
	return limits{
		login: perIP("login:ip:", 10, 5*time.Minute, h.LoginRateLimited),
		loginAccount: limiter.New(limiter.Config{
			Max: 10, Expiration: 15 * time.Minute, Storage: storage,
			KeyGenerator: func(c *fiber.Ctx) string {
				return "login:email:" + strings.ToLower(strings.TrimSpace(c.FormValue("email")))
			},
			LimitReached: h.LoginRateLimited,
		}),
		reset:  perIP("reset:ip:", 5, 15*time.Minute, tooMany),
		signup: perIP("signup:ip:", 30, time.Hour, tooMany),
		invite: perIP("invite:ip:", 20, 15*time.Minute, tooMany),
		claim:  failures("claim-fail:", handlers.ClientIP),
		// Keys are stored (kv): the API key and the till user by id, never
		// the Authorization header or session cookie itself — and so one
		// budget per key however its header is spelled.
		code: failures("code-fail:", func(c *fiber.Ctx) string {
			return handlers.ClientIP(c) + "|key:" + strconv.FormatUint(uint64(handlers.APIKeyID(c)), 10)
		}),
		till: failures("till-fail:", func(c *fiber.Ctx) string {
			return handlers.ClientIP(c) + "|user:" + strconv.FormatUint(uint64(handlers.UserID(c)), 10)
		}),
	}
}

// guarded puts an area's guards (log-in, membership) in front of a route's
// handlers. Guards are per route: middleware on a group with an empty
// prefix would run for every path.
func guarded(guards ...fiber.Handler) func(...fiber.Handler) []fiber.Handler {
	return func(hs ...fiber.Handler) []fiber.Handler {
		return append(append(make([]fiber.Handler, 0, len(guards)+len(hs)), guards...), hs...)
	}
}

// publicRoutes: the start page, the partner catalog, signing up and in,
// the language switch, the account and the dashboard.
func publicRoutes(web fiber.Router, h *handlers.Handlers, lim limits) {
	web.Get("/", h.Home)
	web.Get("/partners", h.Catalog)
	web.Get("/partner/:slug", h.Partner)
	web.Get("/partner/:slug/logo", h.PartnerLogo)
	web.Get("/api/docs", h.APIDocs)
	web.Post("/lang", h.SetLanguage)

	web.Get("/login", h.LoginForm)
	web.Post("/login", lim.login, lim.loginAccount, h.Login)
	web.Post("/logout", h.Logout)
	web.Get("/signup/company", h.SignupForm("company"))
	web.Post("/signup/company", lim.signup, h.Signup("company"))
	web.Get("/signup/merchant", h.SignupForm("merchant"))
	web.Post("/signup/merchant", lim.signup, h.Signup("merchant"))
	web.Get("/forgot", h.ForgotForm)
	web.Post("/forgot", lim.reset, h.Forgot)
	web.Get("/reset/:token", h.ResetForm)
	web.Post("/reset/:token", lim.reset, h.Reset)
	web.Get("/dev/mail", h.DevMailbox)
	web.Get("/dev/mail/:id", h.DevMailbox)

	web.Get("/dashboard", h.RequireUser, h.Dashboard)
	web.Get("/account", h.RequireUser, h.AccountForm)
	web.Post("/account/password", h.RequireUser, h.ChangePassword)
}

// claimRoutes: the recipient's claim link (no account) as a page, as a PDF
// and as JSON. Every failed look-up counts against the same budget.
func claimRoutes(web, api fiber.Router, h *handlers.Handlers, lim limits) {
	web.Get("/c/:token", lim.claim, h.ClaimPage)
	web.Post("/c/:token/claim", lim.claim, h.ClaimChoose)
	web.Post("/c/:token/feedback", lim.claim, h.ClaimFeedback)
	web.Get("/c/:token/voucher.pdf", lim.claim, h.ClaimPDF)
	api.Get("/claims/:token", lim.claim, h.APIClaim)
	api.Post("/claims/:token", lim.claim, h.APIClaimCreate)
}

// companyWebRoutes: sending and following gifts (every member) and the
// company admin's report, credit, limits, settings, webhooks and refunds.
func companyWebRoutes(web fiber.Router, h *handlers.Handlers) {
	member := guarded(h.RequireUser, h.RequireCompanyMember)
	admin := guarded(h.RequireUser, h.RequireCompanyAdmin)

	web.Get("/gifts", member(h.GiftList)...)
	web.Post("/gifts", member(h.GiftCreate)...)
	web.Get("/gifts/new", member(h.GiftNew)...)
	web.Get("/gifts/recent", member(h.GiftRecent)...)
	web.Get("/gifts/export.csv", admin(h.GiftsCSV)...)
	web.Get("/gifts/approvals", admin(h.GiftApprovals)...)
	web.Get("/gifts/bulk", member(h.GiftBulkForm)...)
	web.Post("/gifts/bulk", member(h.GiftBulkUpload)...)
	web.Get("/gifts/bulk/sample.csv", member(h.GiftBulkSample)...)
	web.Get("/gifts/bulk/:id", member(h.GiftBulkShow)...)
	web.Post("/gifts/bulk/:id/send", member(h.GiftBulkSend)...)
	// A gift's id last: /gifts/new, /gifts/bulk … are not gift ids.
	web.Get("/gifts/:id", member(h.GiftShow)...)
	web.Post("/gifts/:id/cancel", member(h.GiftCancel)...)
	web.Post("/gifts/:id/approve", admin(h.GiftApprove)...)
	web.Post("/gifts/:id/decline", admin(h.GiftDecline)...)

	// Admins see the company's report, agents their own gifts; the JSON the
	// charts read answers 401/404 as problem JSON itself.
	web.Get("/company/report", member(h.CompanyReport)...)
	web.Get("/company/report.json", h.CompanyReportJSON)
	web.Get("/company/report/months.csv", member(h.CompanyReportCSV("months"))...)
	web.Get("/company/report/partners.csv", member(h.CompanyReportCSV("partners"))...)

	web.Get("/company/credit", admin(h.CompanyCredit)...)
	web.Post("/company/credit", admin(h.CompanyTopup)...)
	web.Get("/company/refunds", admin(h.CompanyRefunds)...)
	web.Post("/company/refunds", admin(h.CompanyRefundRequest)...)
	web.Get("/company/limits", admin(h.AgentLimits)...)
	web.Post("/company/limits/:user", admin(h.AgentLimitSave)...)

	web.Get("/company/settings", admin(h.GiftSettings)...)
	web.Post("/company/settings/cap", admin(h.GiftCapSave)...)
	web.Post("/company/reasons", admin(h.GiftReasonAdd)...)
	web.Post("/company/reasons/:id", admin(h.GiftReasonSave)...)
	web.Post("/company/templates", admin(h.GiftTemplateCreate)...)
	web.Get("/company/templates/:id", admin(h.GiftTemplateEdit)...)
	web.Post("/company/templates/:id", admin(h.GiftTemplateUpdate)...)
	web.Post("/company/templates/:id/delete", admin(h.GiftTemplateDelete)...)
	web.Post("/company/partners", admin(h.PreferredPartnerAdd)...)
	web.Post("/company/partners/:id/delete", admin(h.PreferredPartnerRemove)...)

	web.Get("/company/webhooks", admin(h.Hooks)...)
	web.Post("/company/webhooks", admin(h.HookAdd)...)
	web.Post("/company/webhooks/:id/delete", admin(h.HookDelete)...)
	web.Post("/company/webhooks/:id/test", admin(h.HookTest)...)
}

// companyAPIRoutes: the help-desk API, authenticated by company API keys.
func companyAPIRoutes(api fiber.Router, h *handlers.Handlers) {
	key := guarded(h.RequireCompanyKey)
	api.Post("/gifts", key(h.APIGiftCreate)...)
	api.Get("/gifts", key(h.APIGifts)...)
	api.Post("/gifts/bulk", key(h.APIGiftBulkCreate)...)
	api.Get("/gifts/bulk/:id", key(h.APIGiftBulk)...)
	api.Get("/gifts/bulk/:id/gifts", key(h.APIGiftBulkGifts)...)
	api.Get("/gifts/:id", key(h.APIGift)...)
	api.Post("/gifts/:id/cancel", key(h.APIGiftCancel)...)
	api.Get("/company/balance", key(h.APICompanyBalance)...)
	api.Post("/company/topups", key(h.APITopupCreate)...)
	api.Get("/company/reasons", key(h.APIGiftReasons)...)
}

// merchantWebRoutes: the owner's profile wizard, capacity and team, the
// invitation link, the till and payouts (owners and staff), and the payout
// set-up with Stripe and the API keys.
func merchantWebRoutes(web fiber.Router, h *handlers.Handlers, lim limits) {
	owner := guarded(h.RequireUser, h.RequireMerchantOwner)
	web.Get("/merchant/profile", owner(h.ProfileStep)...)
	web.Get("/merchant/profile/:step", owner(h.ProfileStep)...)
	web.Post("/merchant/profile/business", owner(h.ProfileBusiness)...)
	web.Post("/merchant/profile/address", owner(h.ProfileAddress)...)
	web.Post("/merchant/profile/contact", owner(h.ProfileContact)...)
	web.Post("/merchant/profile/logo", owner(h.ProfileLogo)...)
	web.Post("/merchant/profile/logo/delete", owner(h.ProfileLogoDelete)...)
	web.Post("/merchant/profile/offer", owner(h.ProfileOffer)...)
	web.Post("/merchant/profile/submit", owner(h.ProfileSubmit)...)
	web.Get("/merchant/places", h.RequireUser, h.PlaceSuggest)
	web.Get("/merchant/capacity", owner(h.CapacityForm)...)
	web.Post("/merchant/capacity", owner(h.CapacitySave)...)
	web.Get("/merchant/staff", owner(h.StaffPage)...)
	web.Post("/merchant/staff/invite", owner(h.StaffInvite)...)
	web.Post("/merchant/staff/:uid/remove", owner(h.StaffRemove)...)
	web.Post("/merchant/staff/invites/:id/revoke", owner(h.StaffInviteRevoke)...)
	web.Get("/invite/:token", h.InviteForm)
	web.Post("/invite/:token", lim.invite, h.InviteAccept)

	till := guarded(h.RequireUser, h.RequireMerchantMember)
	web.Get("/merchant/redeem", till(h.RedeemForm)...)
	web.Post("/merchant/redeem/lookup", till(lim.till, h.RedeemLookup)...)
	web.Post("/merchant/redeem", till(lim.till, h.Redeem)...)
	web.Post("/merchant/redemptions/:id/reversal", till(h.RedeemUndo)...)
	web.Get("/merchant/payouts", till(h.MerchantPayoutsPage)...)
	web.Get("/merchant/payouts/:id/statement.csv", till(h.MerchantStatementCSV)...)
	web.Get("/merchant/payouts/:id/statement.pdf", till(h.MerchantStatementPDF)...)

	web.Get("/merchant/stripe", h.RequireUser, h.StripeSetup)
	web.Post("/merchant/stripe/connect", h.RequireUser, h.StripeConnect)
	web.Get("/merchant/stripe/refresh", h.RequireUser, h.StripeRefresh)
	web.Get("/merchant/stripe/return", h.RequireUser, h.StripeReturn)
	web.Get("/merchant/keys", h.RequireUser, h.MerchantKeys)
	web.Post("/merchant/keys", h.RequireUser, h.MerchantKeyCreate)
	web.Post("/merchant/keys/:id/revoke", h.RequireUser, h.MerchantKeyRevoke)
}

// merchantAPIRoutes: a partner's web shop redeems and reverses through the
// API, authenticated by merchant API keys.
func merchantAPIRoutes(api fiber.Router, h *handlers.Handlers, lim limits) {
	key := guarded(h.RequireMerchantKey)
	api.Get("/merchant", key(h.APIMerchantSelf)...)
	api.Get("/merchant/payouts", key(h.APIMerchantPayouts)...)
	api.Get("/vouchers/:code", key(lim.code, h.APIVoucher)...)
	api.Post("/vouchers/:code/redemptions", key(lim.code, h.APIRedeem)...)
	api.Post("/redemptions/:id/reversal", key(h.APIReverse)...)
}

// adminRoutes: the platform admin's review of merchants, ledger, invoice
// credit, refunds, reconciliation and DATEV export. Others get 404.
func adminRoutes(web fiber.Router, h *handlers.Handlers) {
	admin := guarded(h.RequirePlatformAdmin)
	web.Get("/admin/merchants", admin(h.AdminMerchants)...)
	web.Get("/admin/merchants/:id", admin(h.AdminMerchant)...)
	for _, action := range []string{"approve", "reject", "suspend", "reactivate"} {
		web.Post("/admin/merchants/:id/"+action, admin(h.AdminMerchantDecide(action))...)
	}
	web.Get("/admin/ledger", admin(h.AdminLedger)...)
	web.Get("/admin/ledger.csv", admin(h.AdminLedgerCSV)...)
	web.Get("/admin/credit", admin(h.AdminCredit)...)
	web.Post("/admin/credit", admin(h.AdminCreditGrant)...)
	web.Get("/admin/refunds", admin(h.AdminRefunds)...)
	web.Post("/admin/refunds/:id/:action", admin(h.AdminRefundAction)...)
	web.Get("/admin/reconciliation", admin(h.AdminReconciliation)...)
	web.Post("/admin/reconciliation/reversals/:id/release", admin(h.AdminReleaseReversal)...)
	web.Get("/admin/datev", admin(h.AdminDatev)...)
	web.Post("/admin/datev", admin(h.AdminDatevExport)...)
}
