package handlers

import (
	"errors"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// CapacityForm shows the monthly cap and pause settings.
func (h *Handlers) CapacityForm(c *fiber.Ctx) error {
	m := merchantMemberOf(c).Merchant
	form := map[string]string{"cap": "", "paused": "", "paused_until": ""}
	if m.MonthlyGiftCap > 0 {
		form["cap"] = strconv.Itoa(m.MonthlyGiftCap)
	}
	if m.GiftsPaused {
		form["paused"] = "1"
	}
	if m.GiftsPausedUntil != nil {
		form["paused_until"] = m.GiftsPausedUntil.AddDate(0, 0, -1).Format("2006-01-02")
	}
	return h.renderCapacity(c, fiber.StatusOK, form, nil)
}

func (h *Handlers) renderCapacity(c *fiber.Ctx, status int, form map[string]string, err error) error {
	p := h.merchantPage(c, "merchant_capacity.title", "capacity")
	p.Page = h.withForm(p.Page, form, err)
	return h.render(c, status, "merchant_capacity", p)
}

// CapacitySave stores the cap and pause.
func (h *Handlers) CapacitySave(c *fiber.Ctx) error {
	form := formValues(c, "cap", "paused", "paused_until")
	err := h.store.SetMerchantCapacity(c.UserContext(), merchantMemberOf(c).Merchant.ID, models.MerchantCapacity{
		Cap: form["cap"], Paused: form["paused"] != "", PausedUntil: form["paused_until"]}, models.UserActor(currentUser(c).ID))
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return h.renderCapacity(c, fiber.StatusUnprocessableEntity, form, err)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "capacity_saved")
	return seeOther(c, "/merchant/capacity?m="+url.QueryEscape(merchantMemberOf(c).Merchant.Slug))
}
