package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

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
	p := mailboxPage{Page: h.page(c, "dev_mailbox.title")}
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
	return h.render(c, fiber.StatusOK, "dev_mailbox", p)
}
