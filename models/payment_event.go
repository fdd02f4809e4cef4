package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// PaymentEventOutcome is what receiving or retrying one event did.
type PaymentEventOutcome struct {
	// Duplicate: the event was already processed; nothing was applied.
	Duplicate bool
	// Result is stored with the event: a StripeResult… constant or a word
	// of its type ("credited", "refund_booked", "flagged_…", …).
	Result string
	// Err means processing failed: the event stays stored and unprocessed
	// with the error, for the provider's redelivery and the retry job.
	Err error
	// Flagged marks events an operator must look at.
	Flagged bool
	// Notice is a sentence for the operator's log when the outcome is
	// worth more than an info line (an event ignored for an unknown
	// account or top-up, a refund shortfall); "" otherwise.
	Notice string
	// Attempts counts deliveries and retries so far, this one included.
	Attempts int
}

// ReceivePaymentEvent stores a verified event once (by its id) and applies
// it. A duplicate of a processed event comes back with Duplicate set and
// is not applied again; ErrEventBusy means another delivery or retry holds
// it right now. Applying is idempotent and order-tolerant, because a crash
// between applying and recording the outcome applies the event again on
// redelivery. The outcome is recorded with the stored event.
func (s *Store) ReceivePaymentEvent(ctx context.Context, ev PaymentEvent) (PaymentEventOutcome, error) {
	row, done, err := s.ClaimStripeEvent(ctx, StripeEvent{
		EventID: ev.ID, Type: ev.Type, APIVersion: ev.APIVersion, Account: ev.Account,
		Created: ev.Created.UTC(), Payload: string(ev.Payload),
	})
	if err != nil || done {
		return PaymentEventOutcome{Duplicate: done}, err
	}
	out := s.applyPaymentEvent(ctx, ev)
	out.Attempts = row.Attempts
	return out, s.FinishStripeEvent(ctx, row.ID, out.Result, out.Err, out.Flagged)
}

// RetryPaymentEvent processes a stored event again from its payload (the
// retry job and `stripe-events retry`), decoded by events, under the same
// lease as live deliveries. Duplicate reports an event processed meanwhile.
// The error is non-nil whenever nothing was applied: ErrEventBusy, a stored
// payload that is no event (flagged), or the processing error (also in the
// outcome's Err).
func (s *Store) RetryPaymentEvent(ctx context.Context, events PaymentEvents, eventID string) (PaymentEventOutcome, error) {
	row, done, err := s.ClaimStoredStripeEvent(ctx, eventID)
	if err != nil || done {
		return PaymentEventOutcome{Duplicate: done}, err
	}
	ev, err := events.DecodeEvent([]byte(row.Payload))
	if err != nil {
		perr := fmt.Errorf("stored payload is not an event: %v", err)
		return PaymentEventOutcome{Result: "failed", Err: perr, Flagged: true, Attempts: row.Attempts},
			errors.Join(perr, s.FinishStripeEvent(ctx, row.ID, "failed", perr, true))
	}
	out := s.applyPaymentEvent(ctx, ev)
	out.Attempts = row.Attempts
	if err := s.FinishStripeEvent(ctx, row.ID, out.Result, out.Err, out.Flagged); err != nil {
		return out, err
	}
	return out, out.Err
}

// applyPaymentEvent applies a decoded event by what it says. An event of
// another API version is an error that flags it; an event whose object
// could not be read fails; a type the domain does not handle is only
// recorded. A result starting with "flagged_" is applied but flagged for
// the operator.
func (s *Store) applyPaymentEvent(ctx context.Context, ev PaymentEvent) PaymentEventOutcome {
	switch {
	case errors.Is(ev.Err, ErrEventAPIVersion):
		return PaymentEventOutcome{Result: StripeResultAPIVersionError, Err: ev.Err, Flagged: true}
	case ev.Err != nil:
		return PaymentEventOutcome{Result: "failed", Err: ev.Err}
	case ev.Data == nil:
		return PaymentEventOutcome{Result: StripeResultUnhandledType}
	}
	var out PaymentEventOutcome
	switch d := ev.Data.(type) {
	case AccountUpdated:
		out = s.applyAccountUpdated(ctx, ev, d)
	case CheckoutSessionEvent:
		out = s.applyCheckoutSession(ctx, d)
	case ChargeSucceeded:
		out = s.applyChargeSucceeded(ctx, d)
	case ChargeRefund:
		out = s.applyChargeRefund(ctx, d)
	case TransferReversed:
		out = s.applyTransferReversed(ctx, d)
	default:
		out.Err = fmt.Errorf("%s: no rule for %T", ev.Type, d)
	}
	if out.Err != nil {
		return PaymentEventOutcome{Result: "failed", Err: out.Err}
	}
	out.Flagged = strings.HasPrefix(out.Result, "flagged_")
	return out
}

// applyAccountUpdated mirrors a connected account's flags and open
// requirements onto its merchant. Accounts no merchant owns are ignored,
// as are events older than the state already applied.
func (s *Store) applyAccountUpdated(ctx context.Context, ev PaymentEvent, d AccountUpdated) PaymentEventOutcome {
	_, err := s.SetStripeAccountState(ctx, d.State)
	switch {
	case errors.Is(err, ErrNotFound):
		return PaymentEventOutcome{Result: StripeResultUnknownAccount,
			Notice: fmt.Sprintf("%s for account %s, which no merchant owns; ignored", ev.Type, d.State.AccountID)}
	case errors.Is(err, ErrStaleState):
		return PaymentEventOutcome{Result: StripeResultStale}
	case err != nil:
		return PaymentEventOutcome{Err: err}
	}
	return PaymentEventOutcome{Result: StripeResultApplied}
}

// applyCheckoutSession credits a top-up once the provider says it is paid,
// or marks it failed when an asynchronous payment failed. Sessions that
// are not a top-up's are ignored.
func (s *Store) applyCheckoutSession(ctx context.Context, d CheckoutSessionEvent) PaymentEventOutcome {
	if d.TopupID == "" || !strings.HasPrefix(d.TopupID, "tu_") {
		return PaymentEventOutcome{Result: "ignored_unknown_session"}
	}
	if d.Failed {
		if err := s.FailTopup(ctx, d.TopupID); errors.Is(err, ErrNotFound) {
			return PaymentEventOutcome{Result: "ignored_unknown_topup"}
		} else if err != nil {
			return PaymentEventOutcome{Err: err}
		}
		return PaymentEventOutcome{Result: "topup_failed"}
	}
	if !d.Paid {
		return PaymentEventOutcome{Result: "awaiting_payment"}
	}
	credited, err := s.CompleteTopup(ctx, d.TopupID, d.SessionID, d.PaymentIntentID, d.AmountTotal)
	switch {
	case errors.Is(err, ErrNotFound):
		return PaymentEventOutcome{Result: "ignored_unknown_topup",
			Notice: fmt.Sprintf("checkout session for an unknown top-up %s; ignored", d.TopupID)}
	case err != nil:
		return PaymentEventOutcome{Err: err}
	case !credited:
		return PaymentEventOutcome{Result: "already_credited"}
	}
	return PaymentEventOutcome{Result: "credited"}
}

// applyChargeSucceeded remembers which charge paid a payment intent, so a
// payout funded by exactly one top-up can name it as source_transaction.
func (s *Store) applyChargeSucceeded(ctx context.Context, d ChargeSucceeded) PaymentEventOutcome {
	if d.PaymentIntentID == "" || d.ChargeID == "" {
		return PaymentEventOutcome{Result: "ignored_no_payment_intent"}
	}
	if err := s.RecordStripeCharge(ctx, d.PaymentIntentID, d.ChargeID); err != nil {
		return PaymentEventOutcome{Err: err}
	}
	return PaymentEventOutcome{Result: "charge_recorded"}
}

// applyChargeRefund books a refund of a top-up's payment. The provider's
// running total makes duplicates and late events harmless; a payment no
// top-up is known for yet (its checkout event still on the way) fails and
// is retried from the stored event.
func (s *Store) applyChargeRefund(ctx context.Context, d ChargeRefund) PaymentEventOutcome {
	res, err := s.BookChargeRefund(ctx, d)
	switch {
	case errors.Is(err, ErrUnknownPayment):
		return PaymentEventOutcome{Err: fmt.Errorf("charge.refunded: payment %q: %w", d.PaymentIntentID, err)}
	case err != nil:
		return PaymentEventOutcome{Err: err}
	case res.ShortfallCents > 0:
		return PaymentEventOutcome{Result: "flagged_refund_shortfall",
			Notice: fmt.Sprintf("stripe refund of charge %s exceeds the company's available credit; shortfall of %d cents booked and flagged", d.ChargeID, res.ShortfallCents)}
	case res.BookedCents == 0:
		return PaymentEventOutcome{Result: "already_booked"}
	}
	return PaymentEventOutcome{Result: "refund_booked"}
}

// applyTransferReversed books money that came back from a merchant's
// payout into a held account for the operator (the reconciliation page
// releases it to the merchant's payable). The event is flagged so it is
// looked at.
func (s *Store) applyTransferReversed(ctx context.Context, d TransferReversed) PaymentEventOutcome {
	booked, err := s.BookTransferReversal(ctx, d)
	switch {
	case errors.Is(err, ErrUnknownTransfer):
		return PaymentEventOutcome{Err: fmt.Errorf("transfer.reversed: transfer %q: %w", d.TransferID, err)}
	case err != nil:
		return PaymentEventOutcome{Err: err}
	case booked == 0:
		return PaymentEventOutcome{Result: "already_booked"}
	}
	return PaymentEventOutcome{Result: "flagged_transfer_reversed"}
}
