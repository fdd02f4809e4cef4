package handlers

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type companyCreditPage struct {
	Page
	Balance *models.CompanyBalance
	Online  bool   // Stripe is configured: card / SEPA top-ups
	Started string // ?topup=: back from Stripe Checkout
}

func (h *Handlers) companyCredit(c *fiber.Ctx, status int, form map[string]string, err error) error {
	p := companyCreditPage{Page: h.withForm(h.page(c, "qa.credit.title"), form, err), Online: h.opt.Payments != nil}
	if id := c.Query("topup"); len(id) <= 24 {
		p.Started = id
	}
	var berr error
	if p.Balance, berr = h.store.CompanyBalance(c.UserContext(), *memberOf(c).CompanyID); berr != nil {
		return berr
	}
	return h.render(c, status, "qa_credit", p)
}

// CompanyCredit shows a company admin its credit and how to top it up: by
// card or SEPA debit through Stripe Checkout (when Stripe is configured) or
// by invoice.
func (h *Handlers) CompanyCredit(c *fiber.Ctx) error {
	return h.companyCredit(c, fiber.StatusOK, nil, nil)
}

// CompanyTopup starts a Stripe Checkout payment for a top-up, exactly like
// POST /api/v1/company/topups; the credit is booked when the verified
// webhook confirms the payment.
func (h *Handlers) CompanyTopup(c *fiber.Ctx) error {
	form := formValues(c, "amount")
	if h.opt.Payments == nil {
		return h.companyCredit(c, fiber.StatusServiceUnavailable, form, nil)
	}
	cents, ok := parseCents(form["amount"])
	if !ok {
		return h.companyCredit(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"amount": models.MsgTopupRange})
	}
	u := currentUser(c)
	t, err := h.store.CreateTopup(c.UserContext(), *memberOf(c).CompanyID, cents, models.UserActor(u.ID))
	if v, isV := err.(models.ValidationErrors); isV {
		return h.companyCredit(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"amount": v["amount_cents"]})
	} else if err != nil {
		return err
	}
	// The Stripe call runs outside any database transaction.
	id, url, err := h.opt.Payments.CreateCheckoutSession(c.UserContext(), CheckoutInput{TopupID: t.PublicID, AmountCents: t.AmountCents,
		Currency: t.Currency, SuccessURL: h.opt.BaseURL + "/company/credit?topup=" + t.PublicID, CancelURL: h.opt.BaseURL + "/company/credit"})
	if err != nil {
		h.log.Error("checkout session", "topup", t.PublicID, "err", err)
		return fiber.NewError(fiber.StatusBadGateway, "Stripe did not answer; please try again")
	}
	if err := h.store.SetTopupSession(c.UserContext(), t.ID, id); err != nil {
		return err
	}
	return seeOther(c, url)
}
