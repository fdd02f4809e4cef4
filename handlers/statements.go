package handlers

import (
	"bytes"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// merchantStatement loads the statement of one of the member's merchant's
// payouts; another merchant's payout is a 404.
func (h *Handlers) merchantStatement(c *fiber.Ctx) (*models.Statement, error) {
	ms := merchantMemberOf(c)
	if ms == nil || ms.Merchant == nil {
		return nil, fiber.ErrNotFound
	}
	st, err := h.store.PayoutStatement(c.UserContext(), ms.Merchant.ID, strings.Clone(c.Params("id")))
	if errors.Is(err, models.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	return st, err
}

// MerchantStatementCSV downloads a payout's settlement statement as CSV.
func (h *Handlers) MerchantStatementCSV(c *fiber.Ctx) error {
	st, err := h.merchantStatement(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := models.WriteStatementCSV(st, &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="abrechnung-`+st.Payout.PublicID+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return sendCSV(c, buf.Bytes())
}

// MerchantStatementPDF downloads a payout's settlement statement as PDF.
func (h *Handlers) MerchantStatementPDF(c *fiber.Ctx) error {
	st, err := h.merchantStatement(c)
	if err != nil {
		return err
	}
	b, err := StatementPDF(st)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="abrechnung-`+st.Payout.PublicID+`.pdf"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b)
}
