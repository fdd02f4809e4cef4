package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type merchantPayoutsPage struct {
	Page
	Merchant *models.Merchant
	Payouts  []models.Payout
	Payable  int64
}

// MerchantPayoutsPage shows a merchant what it is owed and what was paid.
func (h *Handlers) MerchantPayoutsPage(c *fiber.Ctx) error {
	ms := merchantMemberOf(c)
	ps, err := h.store.MerchantPayouts(c.UserContext(), ms.Merchant.ID)
	if err != nil {
		return err
	}
	payable, err := h.store.AccountBalance(c.UserContext(), models.AccountMerchantPayable(ms.Merchant.ID))
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "payouts", merchantPayoutsPage{Page: h.page(c, "payouts.title"), Merchant: ms.Merchant, Payouts: ps, Payable: payable})
}

// APIMerchantPayouts lists the calling merchant's payouts.
func (h *Handlers) APIMerchantPayouts(c *fiber.Ctx) error {
	mid, _ := merchantKeyID(c)
	ps, err := h.store.MerchantPayouts(c.UserContext(), mid)
	if err != nil {
		return err
	}
	type payout struct {
		ID               string     `json:"id"`
		AmountCents      int64      `json:"amount_cents"`
		Currency         string     `json:"currency"`
		StripeTransferID string     `json:"stripe_transfer_id"`
		Status           string     `json:"status"`
		CreatedAt        time.Time  `json:"created_at"`
		PaidAt           *time.Time `json:"paid_at"`
	}
	out := make([]payout, 0, len(ps))
	for _, p := range ps {
		out = append(out, payout{ID: p.PublicID, AmountCents: p.AmountCents, Currency: p.Currency, StripeTransferID: p.StripeTransferID,
			Status: p.Status, CreatedAt: p.CreatedAt, PaidAt: p.PaidAt})
	}
	return c.JSON(fiber.Map{"data": out})
}
