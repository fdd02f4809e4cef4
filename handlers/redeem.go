package handlers

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// codeParam is the voucher code from the path, unescaped ("7k3m%200q9x…"
// from a shop that URL-encodes what the customer typed).
func codeParam(c *fiber.Ctx) string {
	raw := c.Params("code")
	if s, err := url.PathUnescape(raw); err == nil {
		return s
	}
	return strings.Clone(raw)
}

// APIVoucher tells a partner's shop the balance of a code.
func (h *Handlers) APIVoucher(c *fiber.Ctx) error {
	mid, _ := merchantKeyID(c)
	g, err := h.store.VoucherForMerchant(c.UserContext(), mid, codeParam(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"balance_cents": g.BalanceCents, "currency": g.Currency, "status": g.Status, "expires_at": g.ExpiresAt})
}

// APIRedeem redeems an amount from a code (Idempotency-Key required).
func (h *Handlers) APIRedeem(c *fiber.Ctx) error {
	mid, keyID := merchantKeyID(c)
	idem := strings.Clone(c.Get("Idempotency-Key"))
	if idem == "" || len(idem) > 200 {
		return fiber.NewError(fiber.StatusBadRequest, "Idempotency-Key header required")
	}
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return fiber.ErrUnsupportedMediaType
	}
	var in struct {
		AmountCents *int64 `json:"amount_cents"`
		Reference   string `json:"reference"`
		BasketCents *int64 `json:"basket_cents"`
		NewCustomer *bool  `json:"new_customer"`
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return models.ValidationErrors{te.Field: models.MsgInvalid}
		}
		return fiber.NewError(fiber.StatusBadRequest, "malformed JSON")
	}
	if in.AmountCents == nil {
		return models.ValidationErrors{"amount_cents": models.MsgRequired}
	}
	r, g, replay, err := h.store.Redeem(c.UserContext(), mid, codeParam(c), models.RedeemInput{
		AmountCents: *in.AmountCents, Reference: in.Reference, BasketCents: in.BasketCents, NewCustomer: in.NewCustomer,
		IdempotencyKey: idem, APIKeyID: keyID})
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if replay {
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(status).JSON(fiber.Map{"id": r.PublicID, "amount_cents": r.AmountCents, "balance_cents": g.BalanceCents, "currency": g.Currency})
}

// APIReverse undoes a redemption (e.g. a cancelled online order).
func (h *Handlers) APIReverse(c *fiber.Ctx) error {
	mid, keyID := merchantKeyID(c)
	_, g, err := h.store.ReverseRedemption(c.UserContext(), mid, strings.Clone(c.Params("id")), models.Actor{Kind: "api_key", ID: keyID})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"balance_cents": g.BalanceCents, "currency": g.Currency})
}

type redeemPage struct {
	Page
	Merchant   *models.Merchant
	Q          string
	Code       string
	Gift       *models.Gift
	Redemption *models.Redemption
	// Last is the user's latest redemption that can still be undone in
	// this shift (shown on the empty till screen).
	Last *models.Redemption
}

func (h *Handlers) redeemPage(c *fiber.Ctx, status int, form map[string]string, err error, g *models.Gift, r *models.Redemption) error {
	ms := merchantMemberOf(c)
	p := redeemPage{Page: h.withForm(h.page(c, "redeem.title"), form, err), Merchant: ms.Merchant, Q: "?m=" + ms.Merchant.Slug, Gift: g, Redemption: r}
	if g != nil {
		p.Code = h.store.VoucherCode(g)
	} else if r == nil {
		if last, _, lerr := h.store.LastShiftRedemption(c.UserContext(), ms.Merchant.ID, currentUser(c).ID); lerr == nil {
			p.Last = last
		}
	}
	if err != nil && p.Flash == "" {
		if _, ok := err.(models.ValidationErrors); !ok {
			_, code := classify(err)
			if errors.Is(err, models.ErrBalanceTooLow) {
				code = "balance_too_low"
			}
			p.Flash, p.FlashKind = h.r.T(p.Lang, "redeem.err."+code), "error"
		}
	}
	if form["undone"] == "1" {
		p.Flash, p.FlashKind = h.r.T(p.Lang, "redeem.undone"), "success"
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	// The till scans QR codes with the camera (static/js/scan.js); only
	// this origin may ask for it, and only on these pages.
	c.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
	return h.render(c, status, "redeem", p)
}

// RedeemForm is the till screen: type (or scan) a code.
func (h *Handlers) RedeemForm(c *fiber.Ctx) error {
	return h.redeemPage(c, fiber.StatusOK, nil, nil, nil, nil)
}

// RedeemLookup shows the voucher behind a typed code: balance and partner
// check, and the amount form.
func (h *Handlers) RedeemLookup(c *fiber.Ctx) error {
	form := formValues(c, "code")
	if strings.TrimSpace(form["code"]) == "" {
		// Nothing typed: ask for the code (not a failed look-up).
		return h.redeemPage(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"code": models.MsgRequired}, nil, nil)
	}
	g, err := h.store.VoucherForMerchant(c.UserContext(), *merchantMemberOf(c).MerchantID, form["code"])
	if errors.Is(err, models.ErrNotFound) {
		return h.redeemPage(c, fiber.StatusNotFound, form, err, nil, nil)
	}
	if err != nil {
		return err
	}
	return h.redeemPage(c, fiber.StatusOK, form, nil, g, nil)
}

// Redeem takes the entered amount ("12,50") from the voucher and shows the
// receipt with an undo button.
func (h *Handlers) Redeem(c *fiber.Ctx) error {
	form := formValues(c, "code", "amount", "reference", "key")
	mid := *merchantMemberOf(c).MerchantID
	cents, ok := parseCents(form["amount"])
	if !ok {
		g, err := h.store.VoucherForMerchant(c.UserContext(), mid, form["code"])
		if err != nil {
			return h.redeemPage(c, fiber.StatusNotFound, form, err, nil, nil)
		}
		return h.redeemPage(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"amount": models.MsgRedeemAmount}, g, nil)
	}
	u := currentUser(c)
	r, g, _, err := h.store.Redeem(c.UserContext(), mid, form["code"], models.RedeemInput{AmountCents: cents, Reference: form["reference"], IdempotencyKey: form["key"], UserID: &u.ID})
	if err != nil {
		cur, _ := h.store.VoucherForMerchant(c.UserContext(), mid, form["code"])
		st, _ := classify(err)
		return h.redeemPage(c, st, form, err, cur, nil)
	}
	return h.redeemPage(c, fiber.StatusOK, nil, nil, g, r)
}

// RedeemUndo reverses a redemption made at this merchant, by the same
// person within the shift (models.TillUndoWindow); later the till answers
// 422 with a message, and a merchant's API key or the operator can still
// reverse it.
func (h *Handlers) RedeemUndo(c *fiber.Ctx) error {
	u := currentUser(c)
	_, g, err := h.store.ReverseRedemption(c.UserContext(), *merchantMemberOf(c).MerchantID, strings.Clone(c.Params("id")), models.UserActor(u.ID))
	switch {
	case errors.Is(err, models.ErrReversalWindow):
		return h.redeemPage(c, fiber.StatusUnprocessableEntity, nil, err, nil, nil)
	case errors.Is(err, models.ErrConflict), errors.Is(err, models.ErrExpired), errors.Is(err, models.ErrInsufficientBalance):
		st, _ := classify(err)
		return h.redeemPage(c, st, nil, err, nil, nil)
	case err != nil:
		return err
	}
	return h.redeemPage(c, fiber.StatusOK, map[string]string{"undone": "1"}, nil, g, nil)
}
