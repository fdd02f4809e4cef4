package app

import (
	"context"
	"errors"

	"trostpflaster/models"
)

// RetryStripeEvents processes stored events whose processing failed and
// whose backoff has passed (the worker calls it every minute; `stripe-events
// retry` by hand). Each event is leased, so two instances never process
// the same event at once. It returns how many were applied and failed.
func (a *App) RetryStripeEvents(ctx context.Context, includeFlagged bool) (applied, failed int, err error) {
	evs, err := a.Store.DueStripeEvents(ctx, 100, includeFlagged)
	if err != nil {
		return 0, 0, err
	}
	for _, ev := range evs {
		out, err := a.retryStripeEvent(ctx, ev.EventID)
		switch {
		case errors.Is(err, models.ErrEventBusy), out.Duplicate:
		case err != nil:
			failed++
		default:
			applied++
		}
	}
	return applied, failed, nil
}

// retryStripeEvent processes one stored event again from its payload,
// decoded by the Stripe adapter and applied by models (the same rules as a
// live delivery), and logs the outcome.
func (a *App) retryStripeEvent(ctx context.Context, eventID string) (models.PaymentEventOutcome, error) {
	out, err := a.Store.RetryPaymentEvent(ctx, a.events, eventID)
	log := a.Log.With("event", eventID)
	switch {
	case errors.Is(err, models.ErrEventBusy), out.Duplicate:
		return out, err
	case out.Notice != "":
		log.Warn("stripe event retry: " + out.Notice)
	}
	if err != nil {
		log.Warn("stripe event retry failed", "attempt", out.Attempts, "err", err)
		return out, err
	}
	log.Info("stripe event retried", "result", out.Result)
	return out, nil
}
