package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type apiMerchant struct {
	ID         uint     `json:"id"`
	Slug       string   `json:"slug"`
	Name       string   `json:"name"`
	Category   string   `json:"category"`
	City       string   `json:"city"`
	Postcode   string   `json:"postcode"`
	Lat        float64  `json:"lat"`
	Lng        float64  `json:"lng"`
	DistanceKm *float64 `json:"distance_km,omitempty"`
}

type apiList[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// APIMerchants is the public partner catalog as JSON.
func (h *Handlers) APIMerchants(c *fiber.Ctx) error {
	q := catalogQuery(c)
	if l := c.Query("limit"); l != "" {
		n, err := parseSmallInt(l)
		if err != nil || n == 0 {
			return models.ValidationErrors{"limit": models.MsgInvalid}
		}
		q.Limit = n
	}
	hits, next, err := h.store.SearchMerchants(c.UserContext(), h.places, q)
	if err != nil {
		return err
	}
	out := apiList[apiMerchant]{Data: make([]apiMerchant, 0, len(hits)), NextCursor: next}
	for _, m := range hits {
		d := m.DistanceKm
		if d != nil {
			r := float64(int64(*d*10+0.5)) / 10
			d = &r
		}
		out.Data = append(out.Data, apiMerchant{ID: m.ID, Slug: m.Slug, Name: m.Name, Category: m.Category,
			City: m.City, Postcode: m.Postcode, Lat: m.Lat, Lng: m.Lng, DistanceKm: d})
	}
	return c.JSON(out)
}

func parseSmallInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 6 {
		return 0, models.ErrNotFound
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, models.ErrNotFound
		}
		n = n*10 + int(r-'0')
	}
	return n, nil
}

// APINotFound answers unknown API paths with problem JSON.
func (h *Handlers) APINotFound(c *fiber.Ctx) error { return models.ErrNotFound }

// Healthz answers 200 when the database answers, 503 otherwise.
func (h *Handlers) Healthz(c *fiber.Ctx) error {
	if err := h.store.Ping(c.UserContext()); err != nil {
		h.log.Error("health check failed", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable"})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}
