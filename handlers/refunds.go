package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type companyRefundsPage struct {
	Page
	Available int64
	Reserved  int64
	Refunds   []models.CreditRefund
}

func (h *Handlers) companyRefunds(c *fiber.Ctx, status int, form map[string]string, err error) error {
	ctx := c.UserContext()
	cid := *companyMemberOf(c).CompanyID
	p := companyRefundsPage{Page: h.withForm(h.page(c, "refunds.title"), form, err)}
	var lerr error
	if p.Available, lerr = h.store.AccountBalance(ctx, models.AccountCompanyCredit(cid)); lerr != nil {
		return lerr
	}
	if p.Reserved, lerr = h.store.AccountBalance(ctx, models.AccountRefundReserve(cid)); lerr != nil {
		return lerr
	}
	if p.Refunds, lerr = h.store.CompanyCreditRefunds(ctx, cid); lerr != nil {
		return lerr
	}
	return h.render(c, status, "company_refunds", p)
}

// CompanyRefunds shows a company admin its credit and refund requests.
func (h *Handlers) CompanyRefunds(c *fiber.Ctx) error {
	return h.companyRefunds(c, fiber.StatusOK, nil, nil)
}

// CompanyRefundRequest asks for (part of) the available credit back; the
// amount is reserved at once so it cannot be gifted meanwhile.
func (h *Handlers) CompanyRefundRequest(c *fiber.Ctx) error {
	form := formValues(c, "amount", "reason")
	cents, ok := parseCents(form["amount"])
	if !ok || cents <= 0 {
		return h.companyRefunds(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"amount": models.MsgInvalid})
	}
	u := currentUser(c)
	_, err := h.store.RequestCreditRefund(c.UserContext(), *companyMemberOf(c).CompanyID, cents, form["reason"], models.UserActor(u.ID))
	var ve models.ValidationErrors
	if errors.As(err, &ve) {
		return h.companyRefunds(c, fiber.StatusUnprocessableEntity, form, ve)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "refund_requested")
	return seeOther(c, "/company/refunds")
}

type adminRefundsPage struct {
	Page
	Refunds      []models.CreditRefund
	StripeReady  bool
	FormRefundID string
}

func (h *Handlers) adminRefunds(c *fiber.Ctx, status int, form map[string]string, err error) error {
	rs, lerr := h.store.CreditRefunds(c.UserContext())
	if lerr != nil {
		return lerr
	}
	p := adminRefundsPage{Page: h.withForm(h.page(c, "refunds.admin_title"), form, err), Refunds: rs,
		StripeReady: h.opt.Refunds != nil, FormRefundID: form["id"]}
	return h.render(c, status, "admin_refunds", p)
}

// AdminRefunds lists refund requests for the platform admin.
func (h *Handlers) AdminRefunds(c *fiber.Ctx) error {
	return h.adminRefunds(c, fiber.StatusOK, nil, nil)
}

// AdminRefundAction refunds a request through Stripe, settles it by credit
// note or declines it (:action = stripe | credit-note | decline).
func (h *Handlers) AdminRefundAction(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	form := formValues(c, "note")
	form["id"] = id
	ctx := c.UserContext()
	if _, err := h.store.CreditRefundByPublicID(ctx, id); err != nil {
		return err
	}
	a := models.UserActor(currentUser(c).ID)
	var err error
	switch c.Params("action") {
	case "stripe":
		if h.opt.Refunds == nil {
			return h.adminRefunds(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"refund": "refund_stripe_off"})
		}
		err = h.store.RefundCredit(ctx, h.opt.Refunds, id, a)
	case "credit-note":
		err = h.store.CreditNoteRefund(ctx, id, form["note"], a)
	case "decline":
		err = h.store.DeclineCreditRefund(ctx, id, strings.TrimSpace(form["note"]), a)
	default:
		return fiber.ErrNotFound
	}
	var ve models.ValidationErrors
	switch {
	case errors.As(err, &ve):
		return h.adminRefunds(c, fiber.StatusUnprocessableEntity, form, ve)
	case errors.Is(err, models.ErrConflict):
		return h.adminRefunds(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"refund": "refund_not_open"})
	case errors.Is(err, models.ErrRefundIncomplete):
		h.log.Warn("stripe refund incomplete; parts refused or their outcome unknown", "refund", id, "err", err)
		h.flash(c, "error", "refund_incomplete")
		return seeOther(c, "/admin/refunds")
	case err != nil:
		return err
	}
	h.flash(c, "success", "refund_done")
	return seeOther(c, "/admin/refunds")
}
