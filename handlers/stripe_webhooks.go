package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// StripeWebhook receives Stripe's events. The adapter checks the signature
// on the raw body (with the default five-minute tolerance) and decodes the
// event; the store records it once by id and applies it (models
// ReceivePaymentEvent). Duplicates are answered 200 without being applied
// again; an event rendered with another API version than the adapter's is
// stored, flagged and answered 422 so Stripe keeps retrying it until an
// operator updates the endpoint; a failure to apply is stored and answered
// 500 so Stripe redelivers it.
func (h *Handlers) StripeWebhook(c *fiber.Ctx) error {
	if h.opt.PaymentEvents == nil {
		return webhookProblem(c, fiber.StatusServiceUnavailable, "webhooks_not_configured", "STRIPE_WEBHOOK_SECRET is not set.")
	}
	body := append([]byte(nil), c.Body()...)
	sig := string(append([]byte(nil), c.Request().Header.Peek("Stripe-Signature")...))
	ev, err := h.opt.PaymentEvents.VerifyEvent(body, sig)
	switch {
	case errors.Is(err, models.ErrEventStale):
		h.log.Warn("stripe webhook: stale timestamp")
		return webhookProblem(c, fiber.StatusBadRequest, "stale_timestamp", "The signature timestamp is outside the tolerance.")
	case errors.Is(err, models.ErrEventSignature):
		h.log.Warn("stripe webhook: bad signature", "err", err)
		return webhookProblem(c, fiber.StatusBadRequest, "invalid_signature", "The Stripe-Signature header does not match the body.")
	case errors.Is(err, models.ErrEventIncomplete):
		return webhookProblem(c, fiber.StatusBadRequest, "invalid_payload", "The event lacks id, type or data.")
	case err != nil:
		h.log.Warn("stripe webhook: unreadable body", "err", err)
		return webhookProblem(c, fiber.StatusBadRequest, "invalid_payload", "The body is not a Stripe event.")
	}
	out, err := h.store.ReceivePaymentEvent(c.UserContext(), ev)
	switch {
	case errors.Is(err, models.ErrEventBusy):
		c.Set(fiber.HeaderRetryAfter, "60")
		return webhookProblem(c, fiber.StatusConflict, "event_in_progress", "This event is being processed; retry later.")
	case err != nil:
		return err
	case out.Duplicate:
		return c.JSON(fiber.Map{"received": true, "duplicate": true})
	}
	log := h.log.With("event", ev.ID, "type", ev.Type)
	switch {
	case out.Notice != "" && out.Flagged:
		log.Error("stripe webhook: " + out.Notice)
	case out.Notice != "":
		log.Warn("stripe webhook: " + out.Notice)
	}
	switch {
	case out.Result == models.StripeResultAPIVersionError:
		log.Error("stripe webhook: API version mismatch; event stored and flagged", "event_api_version", ev.APIVersion, "err", out.Err)
		return webhookProblem(c, fiber.StatusUnprocessableEntity, "api_version_mismatch",
			"The event's API version differs from the version this app is built for; it is stored for the operator.")
	case out.Err != nil:
		log.Error("stripe webhook: processing failed; stored for retry", "err", out.Err, "attempt", out.Attempts)
		return webhookProblem(c, fiber.StatusInternalServerError, "processing_failed", "The event is stored and will be retried.")
	case out.Result == models.StripeResultUnhandledType:
		log.Info("stripe webhook: unhandled event type stored")
	default:
		log.Info("stripe webhook: processed", "result", out.Result, "flagged", out.Flagged)
	}
	return c.JSON(fiber.Map{"received": true, "result": out.Result})
}

func webhookProblem(c *fiber.Ctx, status int, code, detail string) error {
	return problem(c, Problem{Type: "about:blank", Title: statusText(status), Status: status, Code: code, Detail: detail})
}
