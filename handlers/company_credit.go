package handlers

import (
	"encoding/json"
	"errors"
	"strings"

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
	p := companyCreditPage{Page: h.withForm(h.page(c, "company_credit.title"), form, err), Online: h.opt.Checkout != nil}
	if id := c.Query("topup"); len(id) <= 24 {
		p.Started = id
	}
	var berr error
	if p.Balance, berr = h.store.CompanyBalance(c.UserContext(), *companyMemberOf(c).CompanyID); berr != nil {
		return berr
	}
	return h.render(c, status, "company_credit", p)
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
	if h.opt.Checkout == nil {
		return h.companyCredit(c, fiber.StatusServiceUnavailable, form, nil)
	}
	cents, ok := parseCents(form["amount"])
	if !ok {
		return h.companyCredit(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"amount": models.MsgTopupRange})
	}
	u := currentUser(c)
	t, err := h.store.CreateTopup(c.UserContext(), *companyMemberOf(c).CompanyID, cents, models.UserActor(u.ID))
	if v, isV := err.(models.ValidationErrors); isV {
		return h.companyCredit(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"amount": v["amount_cents"]})
	} else if err != nil {
		return err
	}
	// The Stripe call runs outside any database transaction.
	id, url, err := h.opt.Checkout.CreateCheckoutSession(c.UserContext(), models.CheckoutInput{TopupID: t.PublicID, AmountCents: t.AmountCents,
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

// APICompanyBalance reports the company's available and reserved credit.
func (h *Handlers) APICompanyBalance(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	b, err := h.store.CompanyBalance(c.UserContext(), *k.CompanyID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"available_cents": b.AvailableCents, "reserved_cents": b.ReservedCents, "currency": b.Currency})
}

// APITopupCreate starts a credit top-up through Stripe Checkout: 201
// {id, checkout_url}. The credit is booked when Stripe confirms the payment
// (checkout.session.completed or async_payment_succeeded webhook).
func (h *Handlers) APITopupCreate(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return fiber.ErrUnsupportedMediaType
	}
	var in struct {
		AmountCents int64 `json:"amount_cents"`
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return models.ValidationErrors{"amount_cents": models.MsgInvalid}
		}
		return fiber.NewError(fiber.StatusBadRequest, "malformed JSON")
	}
	if h.opt.Checkout == nil {
		return fiber.NewError(fiber.StatusServiceUnavailable, "Stripe is not configured; ask the platform for an invoice top-up")
	}
	t, err := h.store.CreateTopup(c.UserContext(), *k.CompanyID, in.AmountCents, models.Actor{Kind: "api_key", ID: &k.ID})
	if err != nil {
		return err
	}
	// The Stripe call runs outside any database transaction.
	id, url, err := h.opt.Checkout.CreateCheckoutSession(c.UserContext(), models.CheckoutInput{TopupID: t.PublicID, AmountCents: t.AmountCents,
		Currency: t.Currency, SuccessURL: h.opt.BaseURL + "/dashboard?topup=" + t.PublicID, CancelURL: h.opt.BaseURL + "/dashboard"})
	if err != nil {
		h.log.Error("checkout session", "topup", t.PublicID, "err", err)
		return fiber.NewError(fiber.StatusBadGateway, "Stripe did not answer; please try again")
	}
	if err := h.store.SetTopupSession(c.UserContext(), t.ID, id); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": t.PublicID, "checkout_url": url, "amount_cents": t.AmountCents, "currency": t.Currency})
}
