package app

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// settleRoutes registers the settlement extras: payout statements for
// merchants, refund requests for company admins, and the platform admin's
// refund decisions and reconciliation view.
func settleRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	till := []fiber.Handler{h.RequireUser, h.RequireMerchantMember}
	web.Get("/merchant/payouts/:id/statement.csv", append(till, h.MerchantStatementCSV)...)
	web.Get("/merchant/payouts/:id/statement.pdf", append(till, h.MerchantStatementPDF)...)

	admin := []fiber.Handler{h.RequireUser, h.RequireCompanyAdmin}
	web.Get("/company/refunds", append(admin, h.CompanyRefunds)...)
	web.Post("/company/refunds", append(admin, h.CompanyRefundRequest)...)

	web.Get("/admin/refunds", h.RequirePlatformAdmin, h.AdminRefunds)
	web.Post("/admin/refunds/:id/:action", h.RequirePlatformAdmin, h.AdminRefundAction)
	web.Get("/admin/reconciliation", h.RequirePlatformAdmin, h.AdminReconciliation)
	web.Get("/admin/datev", h.RequirePlatformAdmin, h.AdminDatev)
	web.Post("/admin/datev", h.RequirePlatformAdmin, h.AdminDatevExport)
	web.Post("/admin/reconciliation/reversals/:id/release", h.RequirePlatformAdmin, h.AdminReleaseReversal)
}
