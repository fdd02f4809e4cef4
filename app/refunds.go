package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// runStripeEventsCommand runs `stripe-events retry`; handled is false for
// other commands.
func runStripeEventsCommand(ctx context.Context, cmd string, args []string, fs *flag.FlagSet, open func(bool) (*App, error), stdout, stderr io.Writer) (handled bool, err error) {
	if cmd != "stripe-events retry" {
		return false, nil
	}
	one := fs.String("event", "", "retry this event id now (also when flagged or not yet due)")
	flagged := fs.Bool("flagged", false, "include events flagged for the operator")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: trostpflaster stripe-events retry [--event evt_…] [--flagged]\n\nProcesses stored Stripe events whose processing failed again from their\nstored payload (due ones; --flagged also those given up after too many\nattempts; --event one event now). Prints one line per event.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return true, err
	}
	a, err := open(false)
	if err != nil {
		return true, err
	}
	defer a.Close()
	if *one != "" {
		result, done, err := a.h.RetryStripeEvent(ctx, *one)
		switch {
		case done:
			fmt.Fprintf(stdout, "%s: already processed\n", *one)
			return true, nil
		case err != nil:
			return true, fmt.Errorf("%s: %w", *one, err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", *one, result)
		return true, nil
	}
	applied, failed, err := a.RetryStripeEvents(ctx, *flagged)
	if err != nil {
		return true, err
	}
	fmt.Fprintf(stdout, "stripe events: %d applied, %d still failing\n", applied, failed)
	if failed > 0 {
		return true, exitError{1}
	}
	return true, nil
}

// creditRefundsOrNil keeps a nil adapter from becoming a non-nil interface.
func creditRefundsOrNil(store *models.Store, sp *stripePayments, log *slog.Logger) handlers.CreditRefunder {
	if sp == nil {
		return nil
	}
	return creditRefunds{store: store, api: sp, log: log}
}
