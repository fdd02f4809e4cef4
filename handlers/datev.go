package handlers

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

func (h *Handlers) datevPage(c *fiber.Ctx, status int, form map[string]string, err error) error {
	return h.render(c, status, "admin_datev", h.withForm(h.page(c, "datev.title"), form, err))
}

// AdminDatev shows the DATEV export form (platform admins).
func (h *Handlers) AdminDatev(c *fiber.Ctx) error {
	now := h.store.Now()
	return h.datevPage(c, fiber.StatusOK, map[string]string{
		"from": time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), "to": now.Format("2006-01-02")}, nil)
}

// AdminDatevExport downloads the ledger of a date range as a DATEV EXTF
// Buchungsstapel; bad numbers or ranges re-render the form with 422.
func (h *Handlers) AdminDatevExport(c *fiber.Ctx) error {
	form := formValues(c, "consultant", "client", "from", "to")
	parse := func(s string) time.Time {
		t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
		if err != nil {
			return time.Time{}
		}
		return t
	}
	d := models.DatevExport{Consultant: strings.TrimSpace(form["consultant"]), Client: strings.TrimSpace(form["client"]),
		From: parse(form["from"]), To: parse(form["to"]), Created: h.store.Now()}
	var buf bytes.Buffer
	err := h.store.WriteDatev(c.UserContext(), d, &buf)
	var ve models.ValidationErrors
	if errors.As(err, &ve) {
		return h.datevPage(c, fiber.StatusUnprocessableEntity, form, ve)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=windows-1252")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="EXTF_Buchungsstapel_`+d.From.Format("20060102")+`_`+d.To.Format("20060102")+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}
