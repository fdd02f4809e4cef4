package stripe

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"trostpflaster/models"
)

// APIVersion is the Stripe API version events are read with (stripe-go's);
// an event rendered with another one is stored and flagged, never applied.
// Tests put it into the events they sign.
const APIVersion = stripe.APIVersion

// Webhooks verifies Stripe's webhook deliveries and decodes events into
// the domain's (models.PaymentEvents).
type Webhooks struct {
	secret string // whsec_…; only VerifyEvent needs it
}

// NewWebhooks returns the verifier and decoder for the endpoint's signing
// secret. Decoding stored events needs no secret, so "" is fine for that.
func NewWebhooks(secret string) *Webhooks { return &Webhooks{secret: secret} }

// VerifyEvent checks the Stripe-Signature header on the raw body, with
// stripe-go's default five-minute tolerance, then decodes the event. The
// API version is not checked here: a mismatch comes back as
// PaymentEvent.Err, so the event is stored and flagged.
func (w *Webhooks) VerifyEvent(payload []byte, signature string) (models.PaymentEvent, error) {
	ev, err := webhook.ConstructEventWithOptions(payload, signature, w.secret,
		webhook.ConstructEventOptions{Tolerance: webhook.DefaultTolerance, IgnoreAPIVersionMismatch: true})
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return models.PaymentEvent{}, fmt.Errorf("%w: %w", models.ErrEventStale, err)
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return models.PaymentEvent{}, fmt.Errorf("%w: %w", models.ErrEventSignature, err)
	case err != nil:
		return models.PaymentEvent{}, fmt.Errorf("%w: %w", models.ErrEventMalformed, err)
	}
	if ev.ID == "" || ev.Type == "" || ev.Data == nil || len(ev.Data.Raw) == 0 {
		return models.PaymentEvent{}, models.ErrEventIncomplete
	}
	return decodeEvent(&ev, payload), nil
}

// DecodeEvent decodes a stored payload (a retry); no signature is checked.
func (w *Webhooks) DecodeEvent(payload []byte) (models.PaymentEvent, error) {
	var ev stripe.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return models.PaymentEvent{}, fmt.Errorf("%w: %w", models.ErrEventMalformed, err)
	}
	if ev.Data == nil {
		return models.PaymentEvent{}, models.ErrEventIncomplete
	}
	return decodeEvent(&ev, payload), nil
}

// apiVersionError is an event rendered with another API version than
// stripe-go's; it matches models.ErrEventAPIVersion.
type apiVersionError struct{ got string }

func (e apiVersionError) Error() string {
	return fmt.Sprintf("event api_version %q, stripe-go expects %q", e.got, stripe.APIVersion)
}

func (apiVersionError) Is(target error) bool { return target == models.ErrEventAPIVersion }

// decodeEvent turns a Stripe event into the domain's. The event's object
// is read only for the types the domain handles, and only when the API
// version is stripe-go's; an object that cannot be read is the event's
// Err (stored, processing failed, retried).
func decodeEvent(ev *stripe.Event, payload []byte) models.PaymentEvent {
	out := models.PaymentEvent{ID: ev.ID, Type: string(ev.Type), APIVersion: ev.APIVersion, Account: ev.Account,
		Created: time.Unix(ev.Created, 0).UTC(), Payload: payload}
	if ev.APIVersion != stripe.APIVersion {
		out.Err = apiVersionError{got: ev.APIVersion}
		return out
	}
	var data models.PaymentEventData
	var err error
	switch ev.Type {
	case "account.updated":
		data, err = decodeAccountUpdated(ev)
	case "checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed":
		data, err = decodeCheckoutSession(ev)
	case "charge.succeeded":
		data, err = decodeChargeSucceeded(ev)
	case "charge.refunded":
		data, err = decodeChargeRefunded(ev)
	case "transfer.reversed":
		data, err = decodeTransferReversed(ev)
	default:
		return out // a type the domain does not handle: stored and answered 200
	}
	if err != nil {
		out.Err = err
		return out
	}
	out.Data = data
	return out
}

// decodeAccountUpdated reads a connected account's flags and open
// requirements, as of the event's creation.
func decodeAccountUpdated(ev *stripe.Event) (models.PaymentEventData, error) {
	var a stripe.Account
	if err := json.Unmarshal(ev.Data.Raw, &a); err != nil {
		return nil, fmt.Errorf("account.updated: decode account: %w", err)
	}
	if a.ID == "" {
		a.ID = ev.Account
	}
	st := accountState(&a)
	st.AsOf = time.Unix(ev.Created, 0).UTC()
	return models.AccountUpdated{State: st}, nil
}

// decodeCheckoutSession reads how a Checkout payment went. A SEPA payment
// completes "unpaid" first and is paid by
// checkout.session.async_payment_succeeded.
func decodeCheckoutSession(ev *stripe.Event) (models.PaymentEventData, error) {
	var s stripe.CheckoutSession
	if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
		return nil, fmt.Errorf("%s: decode session: %w", ev.Type, err)
	}
	out := models.CheckoutSessionEvent{TopupID: s.ClientReferenceID, SessionID: s.ID, AmountTotal: s.AmountTotal,
		Paid:   s.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid,
		Failed: ev.Type == "checkout.session.async_payment_failed"}
	if s.PaymentIntent != nil {
		out.PaymentIntentID = s.PaymentIntent.ID
	}
	return out, nil
}

// decodeChargeSucceeded reads which charge paid a payment intent.
func decodeChargeSucceeded(ev *stripe.Event) (models.PaymentEventData, error) {
	var ch stripe.Charge
	if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
		return nil, fmt.Errorf("charge.succeeded: decode charge: %w", err)
	}
	out := models.ChargeSucceeded{ChargeID: ch.ID}
	if ch.PaymentIntent != nil {
		out.PaymentIntentID = ch.PaymentIntent.ID
	}
	return out, nil
}

// decodeChargeRefunded reads Stripe's running refund total of a charge and
// the newest refund (Stripe lists newest first).
func decodeChargeRefunded(ev *stripe.Event) (models.PaymentEventData, error) {
	var ch stripe.Charge
	if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
		return nil, fmt.Errorf("charge.refunded: decode charge: %w", err)
	}
	in := models.ChargeRefund{ChargeID: ch.ID, AmountRefunded: ch.AmountRefunded}
	if ch.PaymentIntent != nil {
		in.PaymentIntentID = ch.PaymentIntent.ID
	}
	if ch.Refunds != nil {
		for _, r := range ch.Refunds.Data {
			if r != nil && r.ID != "" {
				in.LastRefundID = r.ID
				break
			}
		}
	}
	return in, nil
}

// decodeTransferReversed reads Stripe's running reversal total of a
// transfer and the newest reversal.
func decodeTransferReversed(ev *stripe.Event) (models.PaymentEventData, error) {
	var tr stripe.Transfer
	if err := json.Unmarshal(ev.Data.Raw, &tr); err != nil {
		return nil, fmt.Errorf("transfer.reversed: decode transfer: %w", err)
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
	return in, nil
}

// SignTestPayload signs body as Stripe would at ts with the endpoint's
// secret and returns the Stripe-Signature header value: tests post signed
// events without importing stripe-go.
func SignTestPayload(body []byte, secret string, ts time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: ts}).Header
}
