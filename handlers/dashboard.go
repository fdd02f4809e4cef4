package handlers

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type dashboardPage struct {
	Page
	Orgs  []models.OrgSummary
	Admin *models.AdminSummary
}

// Dashboard is the landing page after log-in: one panel per organisation the
// user belongs to, and the platform overview for platform admins.
func (h *Handlers) Dashboard(c *fiber.Ctx) error {
	p := dashboardPage{Page: h.page(c, "dashboard.title")}
	orgs, err := h.store.OrgSummaries(c.UserContext(), p.Memberships)
	if err != nil {
		return err
	}
	p.Orgs = orgs
	if p.User.IsPlatformAdmin {
		if p.Admin, err = h.store.PlatformSummary(c.UserContext()); err != nil {
			return err
		}
	}
	return h.render(c, fiber.StatusOK, "dashboard", p)
}
