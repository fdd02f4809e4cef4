package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// formValues copies the named form fields (Fiber reuses buffers, so values
// that outlive the handler are copied).
func formValues(c *fiber.Ctx, names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = strings.Clone(c.FormValue(n))
	}
	return m
}

// withForm attaches submitted values and translated field errors to a page.
func (h *Handlers) withForm(p Page, form map[string]string, err error) Page {
	p.Form = form
	if v, ok := err.(models.ValidationErrors); ok {
		p.Errors = models.ValidationErrors{}
		for field, key := range v {
			p.Errors[field] = h.r.T(p.Lang, "err."+key)
		}
	}
	return p
}

// parseCents reads an amount typed as euros ("12", "12,50", "12.50 €").
func parseCents(s string) (int64, bool) { return models.ParseCents(s) }

// parseSmallInt reads a non-negative number of at most six digits (a
// limit in a query string).
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

func paramID(c *fiber.Ctx, name string) (uint, error) {
	n, err := strconv.ParseUint(c.Params(name), 10, 32)
	if err != nil || n == 0 {
		return 0, models.ErrNotFound
	}
	return uint(n), nil
}

// prefixErrors renames model fields for one of several forms on a page.
func prefixErrors(err error, prefix string) error {
	var v models.ValidationErrors
	if !errors.As(err, &v) {
		return err
	}
	out := models.ValidationErrors{}
	for f, k := range v {
		out[prefix+f] = k
	}
	return out
}

func isValidation(err error) bool {
	var v models.ValidationErrors
	return errors.As(err, &v)
}

// decodeJSON reads a JSON request body strictly: 415 for another content
// type, 400 for malformed JSON, 422 naming the field for a wrong type.
func decodeJSON(c *fiber.Ctx, dst any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != fiber.MIMEApplicationJSON {
		return fiber.ErrUnsupportedMediaType
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return models.ValidationErrors{te.Field: models.MsgInvalid}
		}
		return fiber.ErrBadRequest
	}
	if dec.More() {
		return fiber.ErrBadRequest
	}
	return nil
}
