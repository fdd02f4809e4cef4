package handlers

import "github.com/gofiber/fiber/v2"

// Healthz answers 200 when the database answers, 503 otherwise.
func (h *Handlers) Healthz(c *fiber.Ctx) error {
	if err := h.store.Ping(c.UserContext()); err != nil {
		h.log.Error("health check failed", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable"})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}
