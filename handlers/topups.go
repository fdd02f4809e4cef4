package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/stripe/stripe-go/v76"

	"trostpflaster/models"
)

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
	if h.opt.Payments == nil {
		return fiber.NewError(fiber.StatusServiceUnavailable, "Stripe is not configured; ask the platform for an invoice top-up")
	}
	t, err := h.store.CreateTopup(c.UserContext(), *k.CompanyID, in.AmountCents, models.Actor{Kind: "api_key", ID: &k.ID})
	if err != nil {
		return err
	}
	// The Stripe call runs outside any database transaction.
	id, url, err := h.opt.Payments.CreateCheckoutSession(c.UserContext(), CheckoutInput{TopupID: t.PublicID, AmountCents: t.AmountCents,
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

// onCheckoutCompleted credits a top-up once Stripe says it is paid. A SEPA
// payment completes "unpaid" first and is credited by
// checkout.session.async_payment_succeeded; sessions that are not ours are
// ignored.
func (h *Handlers) onCheckoutCompleted(ctx context.Context, ev *stripe.Event) (string, error) {
	var s stripe.CheckoutSession
	if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
		return "", fmt.Errorf("%s: decode session: %w", ev.Type, err)
	}
	if s.ClientReferenceID == "" || !strings.HasPrefix(s.ClientReferenceID, "tu_") {
		return "ignored_unknown_session", nil
	}
	if ev.Type == "checkout.session.async_payment_failed" {
		if err := h.store.FailTopup(ctx, s.ClientReferenceID); errors.Is(err, models.ErrNotFound) {
			return "ignored_unknown_topup", nil
		} else if err != nil {
			return "", err
		}
		return "topup_failed", nil
	}
	if s.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
		return "awaiting_payment", nil
	}
	pi := ""
	if s.PaymentIntent != nil {
		pi = s.PaymentIntent.ID
	}
	credited, err := h.store.CompleteTopup(ctx, s.ClientReferenceID, s.ID, pi, s.AmountTotal)
	switch {
	case errors.Is(err, models.ErrNotFound):
		h.log.Warn("stripe webhook: checkout session for an unknown top-up; ignored", "topup", s.ClientReferenceID)
		return "ignored_unknown_topup", nil
	case err != nil:
		return "", err
	case !credited:
		return "already_credited", nil
	}
	return "credited", nil
}
