package handlers

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type reconcilePage struct {
	Page
	R *models.Reconciliation
}

// AdminReconciliation compares Stripe top-ups with booked credit and
// transfers with payouts, and lists flagged or unapplied events, held
// reversals and refund shortfalls.
func (h *Handlers) AdminReconciliation(c *fiber.Ctx) error {
	r, err := h.store.Reconcile(c.UserContext())
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "admin_reconciliation", reconcilePage{Page: h.page(c, "reconciliation.title"), R: r})
}

// AdminReleaseReversal moves a held transfer reversal to the merchant's
// payable (paid again by the next settlement run).
func (h *Handlers) AdminReleaseReversal(c *fiber.Ctx) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 32)
	if err != nil {
		return fiber.ErrNotFound
	}
	err = h.store.ReleaseTransferReversal(c.UserContext(), uint(id), models.UserActor(currentUser(c).ID))
	if errors.Is(err, models.ErrConflict) {
		return seeOther(c, "/admin/reconciliation")
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "reversal_released")
	return seeOther(c, "/admin/reconciliation")
}
