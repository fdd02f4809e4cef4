package app

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// giftsRoutes registers company gifting: the help-desk API (company keys),
// the agents' and admins' pages, and the recipient's gift page.
func giftsRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	api.Post("/gifts", h.RequireCompanyKey, h.APIGiftCreate)
	api.Get("/gifts", h.RequireCompanyKey, h.APIGifts)
	api.Get("/gifts/:id", h.RequireCompanyKey, h.APIGift)
	api.Post("/gifts/:id/cancel", h.RequireCompanyKey, h.APIGiftCancel)
	api.Get("/company/balance", h.RequireCompanyKey, h.APICompanyBalance)
	api.Post("/company/topups", h.RequireCompanyKey, h.APITopupCreate)

	member := []fiber.Handler{h.RequireUser, h.RequireCompanyMember}
	admin := []fiber.Handler{h.RequireUser, h.RequireCompanyAdmin}
	web.Get("/gifts", append(member, h.GiftList)...)
	web.Get("/gifts/new", append(member, h.GiftNew)...)
	web.Get("/gifts/recent", append(member, h.GiftRecent)...)
	web.Post("/gifts", append(member, h.GiftCreate)...)
	web.Get("/gifts/approvals", append(admin, h.GiftApprovals)...)
	web.Get("/gifts/export.csv", append(admin, h.GiftsCSV)...)
	web.Get("/gifts/:id", append(member, h.GiftShow)...)
	web.Post("/gifts/:id/cancel", append(member, h.GiftCancel)...)
	web.Post("/gifts/:id/approve", append(admin, h.GiftApprove)...)
	web.Post("/gifts/:id/decline", append(admin, h.GiftDecline)...)
	web.Get("/company/limits", append(admin, h.AgentLimits)...)
	web.Post("/company/limits/:user", append(admin, h.AgentLimitSave)...)
	web.Get("/company/webhooks", append(admin, h.Hooks)...)
	web.Post("/company/webhooks", append(admin, h.HookAdd)...)
	web.Post("/company/webhooks/:id/delete", append(admin, h.HookDelete)...)
	web.Post("/company/webhooks/:id/test", append(admin, h.HookTest)...)
}
