package app

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// giftsExtraRoutes registers the company admin's gifting settings (the
// per-customer cap, reason codes, message templates, the partner network)
// and the reason list of the API.
func giftsExtraRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	api.Get("/company/reasons", h.RequireCompanyKey, h.APIGiftReasons)

	admin := []fiber.Handler{h.RequireUser, h.RequireCompanyAdmin}
	web.Get("/company/settings", append(admin, h.GiftSettings)...)
	web.Post("/company/settings/cap", append(admin, h.GiftCapSave)...)
	web.Post("/company/reasons", append(admin, h.GiftReasonAdd)...)
	web.Post("/company/reasons/:id", append(admin, h.GiftReasonSave)...)
	web.Post("/company/templates", append(admin, h.GiftTemplateCreate)...)
	web.Get("/company/templates/:id", append(admin, h.GiftTemplateEdit)...)
	web.Post("/company/templates/:id", append(admin, h.GiftTemplateUpdate)...)
	web.Post("/company/templates/:id/delete", append(admin, h.GiftTemplateDelete)...)
	web.Post("/company/partners", append(admin, h.PreferredPartnerAdd)...)
	web.Post("/company/partners/:id/delete", append(admin, h.PreferredPartnerRemove)...)
}
