package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"trostpflaster/models"
)

// Problem is an RFC 9457 problem document, the body of every API error.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail,omitempty"`
	Errors map[string]string `json:"errors,omitempty"`
}

// classify maps an error to a status and a stable machine-readable code.
func classify(err error) (int, string) {
	var v models.ValidationErrors
	var fe *fiber.Error
	switch {
	case errors.As(err, &v):
		return fiber.StatusUnprocessableEntity, "validation_failed"
	case errors.Is(err, models.ErrNotFound):
		return fiber.StatusNotFound, "not_found"
	case errors.Is(err, models.ErrForbidden):
		return fiber.StatusForbidden, "forbidden"
	case errors.Is(err, models.ErrReversalWindow):
		return fiber.StatusConflict, "reversal_window_closed"
	case errors.Is(err, models.ErrConflict):
		return fiber.StatusConflict, "conflict"
	case errors.Is(err, models.ErrInsufficientBalance):
		return fiber.StatusPaymentRequired, "insufficient_balance"
	case errors.Is(err, models.ErrExpired):
		return fiber.StatusGone, "expired"
	case errors.Is(err, models.ErrInvalidCredentials):
		return fiber.StatusUnauthorized, "unauthorized"
	case errors.As(err, &fe):
		return fe.Code, codeForStatus(fe.Code)
	}
	return fiber.StatusInternalServerError, "internal_error"
}

func codeForStatus(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "bad_request"
	case fiber.StatusUnauthorized:
		return "unauthorized"
	case fiber.StatusForbidden:
		return "forbidden"
	case fiber.StatusNotFound:
		return "not_found"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case fiber.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case fiber.StatusTooManyRequests:
		return "rate_limited"
	case fiber.StatusRequestTimeout:
		return "timeout"
	}
	if status >= 500 {
		return "internal_error"
	}
	return "bad_request"
}

func statusText(code int) string { return utils.StatusMessage(code) }

// ErrorHandler is the one place errors become responses: problem JSON under
// /api/ and /webhooks/, the site's error pages elsewhere. Unexpected errors
// are logged and shown as a generic 500, never with their text.
func (h *Handlers) ErrorHandler(c *fiber.Ctx, err error) error {
	status, code := classify(err)
	if status >= 500 {
		h.log.Error("request failed", "method", c.Method(), "path", redactPath(c.Path()), "err", err)
	}
	lang := langOf(c)
	if isAPI(c) {
		lang = "en" // API clients get stable English titles; codes are machine-readable
	}
	title := h.r.T(lang, "status."+code)
	if strings.HasPrefix(title, "status.") {
		title = statusText(status)
	}
	if isAPI(c) {
		p := Problem{Type: "about:blank", Title: title, Status: status, Code: code}
		if d := h.r.T("en", "detail."+code); !strings.HasPrefix(d, "detail.") {
			p.Detail = d
		}
		var v models.ValidationErrors
		if errors.As(err, &v) {
			p.Errors = map[string]string{}
			for f, k := range v {
				p.Errors[f] = h.r.T("en", "err."+k)
			}
			p.Detail = "Please check the fields in errors."
		}
		return problem(c, p)
	}
	page := h.page(c, "")
	page.Title = title
	data := struct {
		Page
		Status int
		Code   string
	}{page, status, code}
	if rerr := h.render(c, status, "error", data); rerr != nil {
		h.log.Error("rendering error page failed", "err", rerr)
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(status).SendString(title)
	}
	return nil
}

func problem(c *fiber.Ctx, p Problem) error {
	c.Set(fiber.HeaderContentType, "application/problem+json")
	c.Status(p.Status)
	return c.JSON(p, "application/problem+json")
}

func isAPI(c *fiber.Ctx) bool {
	p := c.Path()
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/webhooks/")
}

// redactPath hides secrets carried in paths (claim tokens, reset tokens)
// before they reach a log.
func redactPath(p string) string {
	for _, prefix := range []string{"/c/", "/api/v1/claims/", "/reset/", "/api/v1/vouchers/", "/invite/"} {
		if strings.HasPrefix(p, prefix) {
			return prefix + "…"
		}
	}
	return p
}

// RedactPath is redactPath for the access log in app.
func RedactPath(p string) string { return redactPath(p) }
