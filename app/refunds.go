package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/stripe/stripe-go/v76"

	"trostpflaster/handlers"
	"trostpflaster/models"
)

// Refunder refunds (part of) a payment. The idempotency key makes a
// repeated call (after a crash) return the first refund.
type Refunder interface {
	CreateRefund(ctx context.Context, paymentIntentID string, amountCents int64, idempotencyKey string) (string, error)
}

// CreateRefund refunds part of a top-up's payment intent.
func (p *stripePayments) CreateRefund(ctx context.Context, paymentIntentID string, amountCents int64, idempotencyKey string) (string, error) {
	params := &stripe.RefundParams{
		PaymentIntent: stripe.String(paymentIntentID),
		Amount:        stripe.Int64(amountCents),
		Reason:        stripe.String(string(stripe.RefundReasonRequestedByCustomer)),
	}
	params.Context = ctx
	params.SetIdempotencyKey(idempotencyKey)
	params.AddMetadata("trostpflaster_refund", idempotencyKey)
	r, err := p.api.Refunds.New(params)
	if err != nil {
		return "", fmt.Errorf("stripe: refund: %w", err)
	}
	return r.ID, nil
}

// creditRefunds pays refund requests back through Stripe like settlement
// pays merchants: record the parts (models.PrepareStripeRefund), call Stripe
// with each part's idempotency key, then confirm or, when Stripe refuses,
// mark the part failed (its amount stays reserved). An unknown outcome
// (network, rate limit) leaves the part pending; pressing the button again
// repeats the same call with the same key.
type creditRefunds struct {
	store *models.Store
	api   Refunder
	log   *slog.Logger
}

func (r creditRefunds) RefundCredit(ctx context.Context, publicID string, a models.Actor) error {
	jobs, err := r.store.PrepareStripeRefund(ctx, publicID, a)
	if err != nil {
		return err
	}
	incomplete := false
	for _, j := range jobs {
		id, err := r.api.CreateRefund(ctx, j.PaymentIntentID, j.Part.AmountCents, j.Part.Key)
		if err != nil {
			incomplete = true
			var se *stripe.Error
			if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != 429 {
				r.log.Warn("refund refused by Stripe", "refund", publicID, "part", j.Part.Key, "err", err)
				if ferr := r.store.FailRefundPart(ctx, j.Part.ID, err.Error()); ferr != nil {
					return ferr
				}
				continue
			}
			r.log.Warn("refund outcome unknown, will retry with the same key", "refund", publicID, "part", j.Part.Key, "err", err)
			continue
		}
		if err := r.store.ConfirmRefundPart(ctx, j.Part.ID, id); err != nil {
			return err
		}
	}
	if incomplete {
		return handlers.ErrRefundIncomplete
	}
	return nil
}

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
		_, done, err := a.h.RetryStripeEvent(ctx, ev.EventID)
		switch {
		case errors.Is(err, models.ErrEventBusy), done:
		case err != nil:
			failed++
		default:
			applied++
		}
	}
	return applied, failed, nil
}

// creditRefundsOrNil keeps a nil adapter from becoming a non-nil interface.
func creditRefundsOrNil(store *models.Store, sp *stripePayments, log *slog.Logger) handlers.CreditRefunder {
	if sp == nil {
		return nil
	}
	return creditRefunds{store: store, api: sp, log: log}
}
