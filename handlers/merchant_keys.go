package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type merchantKeysPage struct {
	Page
	Merchant *models.Merchant
	Keys     []models.APIKey
	NewKey   string // the key just created, shown once
}

// MerchantKeys lists the owner's API keys (prefix, last use, revoked).
func (h *Handlers) MerchantKeys(c *fiber.Ctx) error {
	m, err := stripeOwnedMerchant(c)
	if err != nil {
		return err
	}
	return h.renderMerchantKeys(c, fiber.StatusOK, m, "", nil, nil)
}

// MerchantKeyCreate makes a key and shows it once on the page it returns
// (no redirect: the key must not travel in a URL or a cookie).
func (h *Handlers) MerchantKeyCreate(c *fiber.Ctx) error {
	m, err := stripeOwnedMerchant(c)
	if err != nil {
		return err
	}
	form := formValues(c, "name")
	u := currentUser(c)
	key, _, err := h.store.CreateAPIKey(c.UserContext(), nil, &m.ID, form["name"], models.UserActor(u.ID))
	if _, ok := err.(models.ValidationErrors); ok {
		return h.renderMerchantKeys(c, fiber.StatusUnprocessableEntity, m, "", form, err)
	}
	if err != nil {
		return err
	}
	return h.renderMerchantKeys(c, fiber.StatusOK, m, key, nil, nil)
}

// MerchantKeyRevoke revokes one of the owner's keys; another merchant's key
// id is a 404.
func (h *Handlers) MerchantKeyRevoke(c *fiber.Ctx) error {
	m, err := stripeOwnedMerchant(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseUint(c.Params("id"), 10, 32)
	if err != nil {
		return models.ErrNotFound
	}
	if err := h.store.RevokeMerchantAPIKey(c.UserContext(), m.ID, uint(id), models.UserActor(currentUser(c).ID)); err != nil {
		return err
	}
	h.flash(c, "success", "merchant_key_revoked")
	return seeOther(c, "/merchant/keys?m="+m.Slug)
}

func (h *Handlers) renderMerchantKeys(c *fiber.Ctx, status int, m *models.Merchant, newKey string, form map[string]string, ferr error) error {
	keys, err := h.store.MerchantAPIKeys(c.UserContext(), m.ID)
	if err != nil {
		return err
	}
	p := merchantKeysPage{Page: h.withForm(h.page(c, "merchant_keys.title"), form, ferr), Merchant: m, Keys: keys, NewKey: newKey}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "merchant_keys", p)
}
