package app

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// qaRoutes registers the company's credit page: balance and top-up by
// Stripe Checkout (the web side of POST /api/v1/company/topups) or invoice.
func qaRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	admin := []fiber.Handler{h.RequireUser, h.RequireCompanyAdmin}
	web.Get("/company/credit", append(admin, h.CompanyCredit)...)
	web.Post("/company/credit", append(admin, h.CompanyTopup)...)
}
