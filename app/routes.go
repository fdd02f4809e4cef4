package app

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"trostpflaster/handlers"
	"trostpflaster/static"
)

// routes registers every route of the marketplace in one place.
func routes(app *fiber.App, h *handlers.Handlers, storage fiber.Storage, cfg Config, o ops) {
	app.Use("/static", filesystem.New(filesystem.Config{Root: httpFS(static.FS()), MaxAge: 3600}))
	app.Get("/favicon.ico", func(c *fiber.Ctx) error { return c.Redirect("/static/img/favicon.svg", fiber.StatusMovedPermanently) })
	app.Get("/healthz", h.Healthz)
	opsRoutes(app, o, cfg) // /readyz, /metrics: before sessions and CSRF
	// POST /webhooks/stripe: signed raw body, no session or CSRF.
	stripeWebhookRoutes(app, h)

	// JSON API: API keys, no cookies, so no CSRF.
	api := app.Group("/api/v1")
	api.Get("/merchants", h.APIMerchants)
	api.Get("/openapi.json", h.OpenAPIJSON)

	// Web pages: session, language and CSRF on every form. Tokens are
	// signed, not stored (app/csrf.go), so page views write nothing.
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
	web := app.Group("", h.LoadSession, tokens.Rotate(csrfCookie), csrf.New(csrf.Config{
		KeyLookup:      "form:_csrf",
		Next:           func(c *fiber.Ctx) bool { return strings.HasPrefix(c.Path(), "/api/") }, // area API routes come after this group: keys, no cookies
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
	web.Get("/", h.Home)
	web.Get("/partners", h.Catalog)
	web.Get("/partner/:slug", h.Partner)
	web.Get("/api/docs", h.APIDocs)
	web.Post("/lang", h.SetLanguage)

	loginLimit := limiter.New(limiter.Config{
		Max: 10, Expiration: 5 * time.Minute, Storage: storage,
		KeyGenerator: func(c *fiber.Ctx) string { return "login:ip:" + handlers.ClientIP(c) },
		LimitReached: h.LoginRateLimited,
	})
	loginAccountLimit := limiter.New(limiter.Config{
		Max: 10, Expiration: 15 * time.Minute, Storage: storage,
		KeyGenerator: func(c *fiber.Ctx) string {
			return "login:email:" + strings.ToLower(strings.TrimSpace(c.FormValue("email")))
		},
		LimitReached: h.LoginRateLimited,
	})
	tooMany := func(c *fiber.Ctx) error { return fiber.ErrTooManyRequests }
	resetLimit := limiter.New(limiter.Config{
		Max: 5, Expiration: 15 * time.Minute, Storage: storage,
		KeyGenerator: func(c *fiber.Ctx) string { return "reset:ip:" + handlers.ClientIP(c) },
		LimitReached: tooMany,
	})
	signupLimit := limiter.New(limiter.Config{
		Max: 30, Expiration: time.Hour, Storage: storage,
		KeyGenerator: func(c *fiber.Ctx) string { return "signup:ip:" + handlers.ClientIP(c) },
		LimitReached: tooMany,
	})
	web.Get("/login", h.LoginForm)
	web.Post("/login", loginLimit, loginAccountLimit, h.Login)
	web.Post("/logout", h.Logout)
	web.Get("/signup/company", h.SignupForm("company"))
	web.Post("/signup/company", signupLimit, h.Signup("company"))
	web.Get("/signup/merchant", h.SignupForm("merchant"))
	web.Post("/signup/merchant", signupLimit, h.Signup("merchant"))
	web.Get("/forgot", h.ForgotForm)
	web.Post("/forgot", resetLimit, h.Forgot)
	web.Get("/reset/:token", h.ResetForm)
	web.Post("/reset/:token", resetLimit, h.Reset)
	web.Get("/dev/mail", h.DevMailbox)
	web.Get("/dev/mail/:id", h.DevMailbox)

	// Middleware on a group with an empty prefix would run for every path, so
	// log-in is required per route.
	web.Get("/dashboard", h.RequireUser, h.Dashboard)
	web.Get("/account", h.RequireUser, h.AccountForm)
	web.Post("/account/password", h.RequireUser, h.ChangePassword)

	// Each area registers its routes in its own file (app/routes_<area>.go);
	// add one line per area here, before the catch-alls below.
	// (area routes)
	bulkRoutes(app, web, api, h, storage, cfg) // before giftsRoutes: /gifts/bulk is not a gift id
	giftsRoutes(app, web, api, h, storage, cfg)
	voucherRoutes(app, web, api, h, storage, cfg)
	stripeRoutes(app, web, api, h, storage, cfg)
	onboardingRoutes(app, web, api, h, storage, cfg)
	companydashRoutes(app, web, api, h, storage, cfg)
	giftsExtraRoutes(app, web, api, h, storage, cfg)
	claimExtraRoutes(app, web, api, h, storage, cfg)
	settleRoutes(app, web, api, h, storage, cfg)
	qaRoutes(app, web, api, h, storage, cfg)

	api.Use(h.APINotFound)
	web.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
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
