package app

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// stripeWebhookRoutes registers POST /webhooks/stripe on the bare app, before
// the session and CSRF group: Stripe authenticates with a signature over the
// raw body, not with cookies.
func stripeWebhookRoutes(app *fiber.App, h *handlers.Handlers) {
	app.Post("/webhooks/stripe", h.StripeWebhook)
}

// stripeRoutes registers the merchant's payout set-up (Stripe Connect
// onboarding), its API key management and GET /api/v1/merchant.
func stripeRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	api.Get("/merchant", h.RequireMerchantKey, h.APIMerchantSelf)

	web.Get("/merchant/stripe", h.RequireUser, h.StripeSetup)
	web.Post("/merchant/stripe/connect", h.RequireUser, h.StripeConnect)
	web.Get("/merchant/stripe/refresh", h.RequireUser, h.StripeRefresh)
	web.Get("/merchant/stripe/return", h.RequireUser, h.StripeReturn)
	web.Get("/merchant/keys", h.RequireUser, h.MerchantKeys)
	web.Post("/merchant/keys", h.RequireUser, h.MerchantKeyCreate)
	web.Post("/merchant/keys/:id/revoke", h.RequireUser, h.MerchantKeyRevoke)
}
