package app

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// claimExtraRoutes registers the voucher's downloadable PDF. Failed look-ups
// share the claim link's counter (prefix "claim-fail:"), so guessing tokens
// through the PDF is limited just like through the page.
func claimExtraRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	claimLimit := h.FailureLimit("claim-fail:", func(c *fiber.Ctx) string { return handlers.ClientIP(c) }, 20, 10*time.Minute)
	web.Get("/c/:token/voucher.pdf", claimLimit, h.ClaimPDF)
}
