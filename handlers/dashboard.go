package handlers

import (
	"strconv"

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

type mailboxPage struct {
	Page
	Mails []models.Mail
	Mail  *models.Mail
}

// DevMailbox lists the mails the app would have sent; it exists only while no
// SMTP server is configured (demo and development).
func (h *Handlers) DevMailbox(c *fiber.Ctx) error {
	if !h.opt.DevMailbox {
		return models.ErrNotFound
	}
	p := mailboxPage{Page: h.page(c, "mailbox.title")}
	if id := c.Params("id"); id != "" {
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return models.ErrNotFound
		}
		if p.Mail, err = h.store.MailByID(c.UserContext(), uint(n)); err != nil {
			return err
		}
	} else {
		var err error
		if p.Mails, err = h.store.RecentMails(c.UserContext(), 100); err != nil {
			return err
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, "mailbox", p)
}
