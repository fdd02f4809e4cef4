package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type adminCreditPage struct {
	Page
	Companies []models.CompanyCredit
}

func (h *Handlers) adminCreditPage(c *fiber.Ctx, status int, form map[string]string, err error) error {
	cs, lerr := h.store.CompaniesWithCredit(c.UserContext())
	if lerr != nil {
		return lerr
	}
	return h.render(c, status, "admin_credit", adminCreditPage{Page: h.withForm(h.page(c, "admin_credit.title"), form, err), Companies: cs})
}

// AdminCredit lists companies' credit and books paid invoices.
func (h *Handlers) AdminCredit(c *fiber.Ctx) error {
	return h.adminCreditPage(c, fiber.StatusOK, nil, nil)
}

// AdminCreditGrant books an invoice the company has paid: cash:invoice →
// company credit. The invoice number makes booking the same invoice twice
// harmless.
func (h *Handlers) AdminCreditGrant(c *fiber.Ctx) error {
	form := formValues(c, "company", "amount", "invoice")
	v := models.ValidationErrors{}
	co, err := h.store.CompanyBySlug(c.UserContext(), form["company"])
	if err != nil {
		v.Add("company", models.MsgInvalid)
	}
	cents, ok := parseCents(form["amount"])
	if !ok || cents <= 0 {
		v.Add("amount", models.MsgInvalid)
	}
	invoice := strings.TrimSpace(form["invoice"])
	if invoice == "" || len(invoice) > 60 {
		v.Add("invoice", models.MsgRequired)
	}
	if len(v) > 0 {
		return h.adminCreditPage(c, fiber.StatusUnprocessableEntity, form, v)
	}
	_, err = h.store.GrantCredit(c.UserContext(), co.ID, cents, "invoice:"+co.Slug+":"+invoice, "invoice "+invoice, models.UserActor(currentUser(c).ID))
	var ve models.ValidationErrors
	if errors.As(err, &ve) {
		return h.adminCreditPage(c, fiber.StatusUnprocessableEntity, form, ve)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "credit_booked")
	return seeOther(c, "/admin/credit")
}
