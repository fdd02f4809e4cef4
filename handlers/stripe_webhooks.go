package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"trostpflaster/models"
)

// stripeEventHandler applies one verified, stored event. It must be
// idempotent and order-tolerant: a crash between applying and recording the
// outcome means the event is applied again on redelivery. It returns a
// short result (models.StripeResult…) for the stored event; an error leaves
// the event unprocessed, answered 500 so Stripe redelivers it.
type stripeEventHandler func(ctx context.Context, ev *stripe.Event) (string, error)

// stripeEventHandlers maps event types to their handlers (below, one per
// type); types not listed are stored, logged and answered 200.
func (h *Handlers) stripeEventHandlers() map[string]stripeEventHandler {
	return map[string]stripeEventHandler{
		"account.updated":                          h.onStripeAccountUpdated,
		"checkout.session.completed":               h.onCheckoutCompleted,
		"checkout.session.async_payment_succeeded": h.onCheckoutCompleted,
		"checkout.session.async_payment_failed":    h.onCheckoutCompleted,
		"charge.refunded":                          h.onChargeRefunded,
		"charge.succeeded":                         h.onChargeSucceeded,
		"transfer.reversed":                        h.onTransferReversed,
	}
}

// StripeWebhook receives Stripe's events. The signature is checked on the
// raw body (with the default five-minute tolerance), each event is stored
// once by id and then dispatched by type. Duplicates are answered 200
// without being applied again; an event rendered with another API version
// than stripe-go's is stored, flagged and answered 422 so Stripe keeps
// retrying it until an operator updates the endpoint.
func (h *Handlers) StripeWebhook(c *fiber.Ctx) error {
	if h.opt.StripeWebhookSecret == "" {
		return webhookProblem(c, fiber.StatusServiceUnavailable, "webhooks_not_configured", "STRIPE_WEBHOOK_SECRET is not set.")
	}
	body := append([]byte(nil), c.Body()...)
	sig := string(append([]byte(nil), c.Request().Header.Peek("Stripe-Signature")...))
	ev, err := webhook.ConstructEventWithOptions(body, sig, h.opt.StripeWebhookSecret,
		webhook.ConstructEventOptions{Tolerance: webhook.DefaultTolerance, IgnoreAPIVersionMismatch: true})
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		h.log.Warn("stripe webhook: stale timestamp")
		return webhookProblem(c, fiber.StatusBadRequest, "stale_timestamp", "The signature timestamp is outside the tolerance.")
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		h.log.Warn("stripe webhook: bad signature", "err", err)
		return webhookProblem(c, fiber.StatusBadRequest, "invalid_signature", "The Stripe-Signature header does not match the body.")
	case err != nil:
		h.log.Warn("stripe webhook: unreadable body", "err", err)
		return webhookProblem(c, fiber.StatusBadRequest, "invalid_payload", "The body is not a Stripe event.")
	}
	if ev.ID == "" || ev.Type == "" || ev.Data == nil || len(ev.Data.Raw) == 0 {
		return webhookProblem(c, fiber.StatusBadRequest, "invalid_payload", "The event lacks id, type or data.")
	}
	ctx := c.UserContext()
	row, done, err := h.store.ClaimStripeEvent(ctx, models.StripeEvent{
		EventID: ev.ID, Type: string(ev.Type), APIVersion: ev.APIVersion, Account: ev.Account,
		Created: time.Unix(ev.Created, 0).UTC(), Payload: string(body),
	})
	switch {
	case errors.Is(err, models.ErrEventBusy):
		c.Set(fiber.HeaderRetryAfter, "60")
		return webhookProblem(c, fiber.StatusConflict, "event_in_progress", "This event is being processed; retry later.")
	case err != nil:
		return err
	case done:
		return c.JSON(fiber.Map{"received": true, "duplicate": true})
	}
	log := h.log.With("event", ev.ID, "type", ev.Type)
	result, perr, flag := h.dispatchStripeEvent(ctx, &ev)
	if err := h.store.FinishStripeEvent(ctx, row.ID, result, perr, flag); err != nil {
		return err
	}
	switch {
	case result == models.StripeResultAPIVersionError:
		log.Error("stripe webhook: API version mismatch; event stored and flagged", "event_api_version", ev.APIVersion, "expected", stripe.APIVersion)
		return webhookProblem(c, fiber.StatusUnprocessableEntity, "api_version_mismatch",
			"The event's API version differs from the version this app is built for; it is stored for the operator.")
	case perr != nil:
		log.Error("stripe webhook: processing failed; stored for retry", "err", perr, "attempt", row.Attempts)
		return webhookProblem(c, fiber.StatusInternalServerError, "processing_failed", "The event is stored and will be retried.")
	case result == models.StripeResultUnhandledType:
		log.Info("stripe webhook: unhandled event type stored")
	default:
		log.Info("stripe webhook: processed", "result", result, "flagged", flag)
	}
	return c.JSON(fiber.Map{"received": true, "result": result})
}

// dispatchStripeEvent applies a verified event by type. An API version
// other than stripe-go's is an error that flags the event; a handler's
// result starting with "flagged_" is applied but flagged for the operator.
func (h *Handlers) dispatchStripeEvent(ctx context.Context, ev *stripe.Event) (result string, perr error, flag bool) {
	if ev.APIVersion != stripe.APIVersion {
		return models.StripeResultAPIVersionError, fmt.Errorf("event api_version %q, stripe-go expects %q", ev.APIVersion, stripe.APIVersion), true
	}
	fn, ok := h.stripeEventHandlers()[string(ev.Type)]
	if !ok {
		return models.StripeResultUnhandledType, nil, false
	}
	result, perr = fn(ctx, ev)
	if perr != nil {
		return "failed", perr, false
	}
	return result, nil, strings.HasPrefix(result, "flagged_")
}

// RetryStripeEvent processes a stored event again from its payload (the
// retry job and `stripe-events retry`), under the same lease as live
// deliveries. done reports an event that was already processed.
func (h *Handlers) RetryStripeEvent(ctx context.Context, eventID string) (result string, done bool, err error) {
	row, done, err := h.store.ClaimStoredStripeEvent(ctx, eventID)
	if err != nil || done {
		return "", done, err
	}
	var ev stripe.Event
	if err := json.Unmarshal([]byte(row.Payload), &ev); err != nil || ev.Data == nil {
		perr := fmt.Errorf("stored payload is not an event: %v", err)
		return "", false, errors.Join(perr, h.store.FinishStripeEvent(ctx, row.ID, "failed", perr, true))
	}
	result, perr, flag := h.dispatchStripeEvent(ctx, &ev)
	if err := h.store.FinishStripeEvent(ctx, row.ID, result, perr, flag); err != nil {
		return "", false, err
	}
	if perr != nil {
		h.log.Warn("stripe event retry failed", "event", eventID, "attempt", row.Attempts, "err", perr)
		return result, false, perr
	}
	h.log.Info("stripe event retried", "event", eventID, "result", result)
	return result, false, nil
}

func webhookProblem(c *fiber.Ctx, status int, code, detail string) error {
	return problem(c, Problem{Type: "about:blank", Title: statusText(status), Status: status, Code: code, Detail: detail})
}

// onStripeAccountUpdated mirrors a connected account's flags and open
// requirements onto its merchant. Accounts no merchant owns are ignored
// (200), as are events older than the state already applied.
func (h *Handlers) onStripeAccountUpdated(ctx context.Context, ev *stripe.Event) (string, error) {
	var a stripe.Account
	if err := json.Unmarshal(ev.Data.Raw, &a); err != nil {
		return "", fmt.Errorf("account.updated: decode account: %w", err)
	}
	if a.ID == "" {
		a.ID = ev.Account
	}
	st := StripeAccountStateOf(&a)
	st.AsOf = time.Unix(ev.Created, 0).UTC()
	_, err := h.store.SetStripeAccountState(ctx, st)
	switch {
	case errors.Is(err, models.ErrNotFound):
		h.log.Warn("stripe webhook: account.updated for an account no merchant owns; ignored", "account", a.ID, "event", ev.ID)
		return models.StripeResultUnknownAccount, nil
	case errors.Is(err, models.ErrStaleState):
		h.log.Info("stripe webhook: older account.updated ignored", "account", a.ID, "event", ev.ID)
		return models.StripeResultStale, nil
	case err != nil:
		return "", err
	}
	return models.StripeResultApplied, nil
}

// StripeAccountStateOf extracts what the marketplace keeps of a connected
// account. AsOf is left to the caller (event time or fetch time).
func StripeAccountStateOf(a *stripe.Account) models.StripeAccountState {
	st := models.StripeAccountState{AccountID: a.ID, ChargesEnabled: a.ChargesEnabled,
		PayoutsEnabled: a.PayoutsEnabled, DetailsSubmitted: a.DetailsSubmitted}
	if a.Requirements != nil {
		st.CurrentlyDue = append([]string{}, a.Requirements.CurrentlyDue...)
	}
	return st
}

// onCheckoutCompleted credits a top-up once Stripe says it is paid. A SEPA
// payment completes "unpaid" first and is credited by
// checkout.session.async_payment_succeeded; sessions that are not ours are
// ignored.
func (h *Handlers) onCheckoutCompleted(ctx context.Context, ev *stripe.Event) (string, error) {
	var s stripe.CheckoutSession
	if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
		return "", fmt.Errorf("%s: decode session: %w", ev.Type, err)
	}
	if s.ClientReferenceID == "" || !strings.HasPrefix(s.ClientReferenceID, "tu_") {
		return "ignored_unknown_session", nil
	}
	if ev.Type == "checkout.session.async_payment_failed" {
		if err := h.store.FailTopup(ctx, s.ClientReferenceID); errors.Is(err, models.ErrNotFound) {
			return "ignored_unknown_topup", nil
		} else if err != nil {
			return "", err
		}
		return "topup_failed", nil
	}
	if s.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
		return "awaiting_payment", nil
	}
	pi := ""
	if s.PaymentIntent != nil {
		pi = s.PaymentIntent.ID
	}
	credited, err := h.store.CompleteTopup(ctx, s.ClientReferenceID, s.ID, pi, s.AmountTotal)
	switch {
	case errors.Is(err, models.ErrNotFound):
		h.log.Warn("stripe webhook: checkout session for an unknown top-up; ignored", "topup", s.ClientReferenceID)
		return "ignored_unknown_topup", nil
	case err != nil:
		return "", err
	case !credited:
		return "already_credited", nil
	}
	return "credited", nil
}

// onChargeSucceeded remembers which charge paid a payment intent, so a
// payout funded by exactly one top-up can name it as source_transaction.
func (h *Handlers) onChargeSucceeded(ctx context.Context, ev *stripe.Event) (string, error) {
	var ch stripe.Charge
	if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
		return "", fmt.Errorf("charge.succeeded: decode charge: %w", err)
	}
	if ch.PaymentIntent == nil || ch.PaymentIntent.ID == "" || ch.ID == "" {
		return "ignored_no_payment_intent", nil
	}
	if err := h.store.RecordStripeCharge(ctx, ch.PaymentIntent.ID, ch.ID); err != nil {
		return "", err
	}
	return "charge_recorded", nil
}

// onChargeRefunded books a refund of a top-up's payment. Stripe's running
// total amount_refunded makes duplicates and late events harmless; a
// payment no top-up is known for yet (its checkout event still on the way)
// fails and is retried from the stored event.
func (h *Handlers) onChargeRefunded(ctx context.Context, ev *stripe.Event) (string, error) {
	var ch stripe.Charge
	if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
		return "", fmt.Errorf("charge.refunded: decode charge: %w", err)
	}
	in := models.ChargeRefund{ChargeID: ch.ID, AmountRefunded: ch.AmountRefunded}
	if ch.PaymentIntent != nil {
		in.PaymentIntentID = ch.PaymentIntent.ID
	}
	if ch.Refunds != nil {
		// The newest refund names this step; Stripe lists newest first.
		for _, r := range ch.Refunds.Data {
			if r != nil && r.ID != "" {
				in.LastRefundID = r.ID
				break
			}
		}
	}
	res, err := h.store.BookChargeRefund(ctx, in)
	switch {
	case errors.Is(err, models.ErrUnknownPayment):
		return "", fmt.Errorf("charge.refunded: payment %q: %w", in.PaymentIntentID, err)
	case err != nil:
		return "", err
	case res.ShortfallCents > 0:
		h.log.Error("stripe refund exceeds the company's available credit; shortfall booked and flagged", "charge", ch.ID, "shortfall_cents", res.ShortfallCents)
		return "flagged_refund_shortfall", nil
	case res.BookedCents == 0:
		return "already_booked", nil
	}
	return "refund_booked", nil
}

// onTransferReversed books money that came back from a merchant's payout
// into a held account for the operator (the reconciliation page releases it
// to the merchant's payable). The event is flagged so it is looked at.
func (h *Handlers) onTransferReversed(ctx context.Context, ev *stripe.Event) (string, error) {
	var tr stripe.Transfer
	if err := json.Unmarshal(ev.Data.Raw, &tr); err != nil {
		return "", fmt.Errorf("transfer.reversed: decode transfer: %w", err)
	}
	in := models.TransferReversed{TransferID: tr.ID, TransferGroup: tr.TransferGroup, AmountReversed: tr.AmountReversed}
	if tr.Reversals != nil {
		for _, r := range tr.Reversals.Data {
			if r != nil && r.ID != "" {
				in.LastReversalID = r.ID
				break
			}
		}
	}
	booked, err := h.store.BookTransferReversal(ctx, in)
	switch {
	case errors.Is(err, models.ErrUnknownTransfer):
		return "", fmt.Errorf("transfer.reversed: transfer %q: %w", tr.ID, err)
	case err != nil:
		return "", err
	case booked == 0:
		return "already_booked", nil
	}
	return "flagged_transfer_reversed", nil
}
