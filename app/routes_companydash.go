package app

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/handlers"
)

// companydashRoutes registers the company dashboard: the page, the JSON its
// charts read (session log-in, answers 401/404 as problem JSON itself) and
// the CSV exports. Admins see the company, agents their own gifts.
func companydashRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	member := []fiber.Handler{h.RequireUser, h.RequireCompanyMember}
	web.Get("/company/report", append(member, h.CompanyReport)...)
	web.Get("/company/report.json", h.CompanyReportJSON)
	web.Get("/company/report/months.csv", append(member, h.CompanyReportCSV("months"))...)
	web.Get("/company/report/partners.csv", append(member, h.CompanyReportCSV("partners"))...)
}
