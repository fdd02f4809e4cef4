package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// RequireCompanyKey lets a request through only with an active company API
// key (Authorization: Bearer tp_…). Missing, unknown, revoked and merchant
// keys all get the same 401 problem, so the answer reveals nothing about
// which keys exist. The key is available to later handlers via apiKeyOf.
func (h *Handlers) RequireCompanyKey(c *fiber.Ctx) error {
	return h.requireKey(c, func(k *models.APIKey) bool { return k.CompanyID != nil })
}

// RequireMerchantKey is RequireCompanyKey for merchant keys (a web shop
// redeeming vouchers, a merchant reading its own account).
func (h *Handlers) RequireMerchantKey(c *fiber.Ctx) error {
	return h.requireKey(c, func(k *models.APIKey) bool { return k.MerchantID != nil })
}

func (h *Handlers) requireKey(c *fiber.Ctx, fits func(*models.APIKey) bool) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="api"`)
	scheme, token, ok := strings.Cut(strings.TrimSpace(c.Get(fiber.HeaderAuthorization)), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return models.ErrInvalidCredentials
	}
	k, err := h.store.AuthenticateAPIKey(c.UserContext(), strings.TrimSpace(token))
	if errors.Is(err, models.ErrNotFound) {
		return models.ErrInvalidCredentials
	}
	if err != nil {
		return err
	}
	if !fits(k) {
		return models.ErrInvalidCredentials
	}
	c.Locals(localAPIKey, k)
	return c.Next()
}

// apiKeyOf returns the key RequireCompanyKey or RequireMerchantKey stored,
// or nil on routes without either.
func apiKeyOf(c *fiber.Ctx) *models.APIKey {
	k, _ := c.Locals(localAPIKey).(*models.APIKey)
	return k
}

// APIKeyID is the id of the request's API key (0 on routes without one).
func APIKeyID(c *fiber.Ctx) uint {
	if k := apiKeyOf(c); k != nil {
		return k.ID
	}
	return 0
}
