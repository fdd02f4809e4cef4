package app

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// voucherRoutes registers the recipient's claim link (page and JSON), the
// partners' redemption API and the till screen.
func voucherRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	// Failed look-ups of claim tokens and codes are limited per IP (and per
	// key on the API) so they cannot be enumerated; successful requests do
	// not count, so a busy till or an office full of customers is never
	// locked out (handlers.FailureLimit).
	failures := func(prefix string, key func(*fiber.Ctx) string) fiber.Handler {
		return h.FailureLimit(prefix, key, 20, 10*time.Minute)
	}
	byIP := func(c *fiber.Ctx) string { return handlers.ClientIP(c) }
	// Keys are stored (kv): the API key and the till user by id, never the
	// Authorization header or session cookie itself — and so one budget per
	// key however its header is spelled.
	byKey := func(c *fiber.Ctx) string {
		return handlers.ClientIP(c) + "|key:" + strconv.FormatUint(uint64(handlers.APIKeyID(c)), 10)
	}
	claimLimit := failures("claim-fail:", byIP)

	web.Get("/c/:token", claimLimit, h.ClaimPage)
	web.Post("/c/:token/claim", claimLimit, h.ClaimChoose)
	web.Post("/c/:token/feedback", claimLimit, h.ClaimFeedback)
	api.Get("/claims/:token", claimLimit, h.APIClaim)
	api.Post("/claims/:token", claimLimit, h.APIClaimCreate)

	codeLimit := failures("code-fail:", byKey)
	api.Get("/vouchers/:code", h.RequireMerchantKey, codeLimit, h.APIVoucher)
	api.Post("/vouchers/:code/redemptions", h.RequireMerchantKey, codeLimit, h.APIRedeem)
	api.Post("/redemptions/:id/reversal", h.RequireMerchantKey, h.APIReverse)
	api.Get("/merchant/payouts", h.RequireMerchantKey, h.APIMerchantPayouts)

	till := []fiber.Handler{h.RequireUser, h.RequireMerchantMember}
	tillLimit := failures("till-fail:", func(c *fiber.Ctx) string {
		return handlers.ClientIP(c) + "|user:" + strconv.FormatUint(uint64(handlers.UserID(c)), 10)
	})
	web.Get("/merchant/redeem", append(till, h.RedeemForm)...)
	web.Post("/merchant/redeem/lookup", append(till, tillLimit, h.RedeemLookup)...)
	web.Post("/merchant/redeem", append(till, tillLimit, h.Redeem)...)
	web.Post("/merchant/redemptions/:id/reversal", append(till, h.RedeemUndo)...)
	web.Get("/merchant/payouts", append(till, h.MerchantPayoutsPage)...)
	web.Get("/admin/ledger", h.RequirePlatformAdmin, h.AdminLedger)
	web.Get("/admin/ledger.csv", h.RequirePlatformAdmin, h.AdminLedgerCSV)
	web.Get("/admin/credit", h.RequirePlatformAdmin, h.AdminCredit)
	web.Post("/admin/credit", h.RequirePlatformAdmin, h.AdminCreditGrant)
}
