package app

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// bulkRoutes registers bulk sending: the CSV upload with preview for
// company members and the bulk API for company keys. It must come before
// giftsRoutes, whose /gifts/:id would otherwise catch /gifts/bulk.
func bulkRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	api.Post("/gifts/bulk", h.RequireCompanyKey, h.APIGiftBulkCreate)
	api.Get("/gifts/bulk/:id", h.RequireCompanyKey, h.APIGiftBulk)
	api.Get("/gifts/bulk/:id/gifts", h.RequireCompanyKey, h.APIGiftBulkGifts)

	member := []fiber.Handler{h.RequireUser, h.RequireCompanyMember}
	web.Get("/gifts/bulk", append(member, h.GiftBulkForm)...)
	web.Post("/gifts/bulk", append(member, h.GiftBulkUpload)...)
	web.Get("/gifts/bulk/sample.csv", append(member, h.GiftBulkSample)...)
	web.Get("/gifts/bulk/:id", append(member, h.GiftBulkShow)...)
	web.Post("/gifts/bulk/:id/send", append(member, h.GiftBulkSend)...)
}
