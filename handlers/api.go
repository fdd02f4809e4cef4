package handlers

import (
	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// apiList is one page of an API list; next_cursor fetches the next.
type apiList[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// APINotFound answers unknown API paths with problem JSON.
func (h *Handlers) APINotFound(c *fiber.Ctx) error { return models.ErrNotFound }
