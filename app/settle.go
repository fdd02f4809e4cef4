package app

import (
	"context"
	"errors"
	"time"

	"trostpflaster/models"
)

// SettleResult counts what one settlement run did.
type SettleResult struct {
	Paid, Failed int
	// Unknown counts payouts whose transfer outcome is unknown (network,
	// Stripe outage); they stay pending for the next run.
	Unknown   int
	PaidCents int64
}

// ErrSettlementRunning is returned by Settle when another run (on this or
// another instance, or a `settle` command) holds the settlement lease.
var ErrSettlementRunning = errors.New("another settlement run is in progress; try again later")

// settleLease is how long a settlement run's lease lasts; it is renewed
// before every Stripe call, so only a run stalled for this long loses it.
const settleLease = 5 * time.Minute

// errNoStripe is returned by Settle when Stripe is not configured: payables
// simply stay payable (and visible) until it is.
var errNoStripe = errors.New("stripe is not configured: merchant payables stay pending")

// Settle pays merchants what was redeemed: record intent (payable → transit,
// models.PrepareSettlement), call Stripe (the models.Transfers port) with
// the payout's idempotency key, then confirm (transit → payout:stripe) or,
// when Stripe refuses (models.ErrPaymentRefused), give the amount back to
// payable. A crash between the call and the confirmation
// leaves the payout pending; the next run calls Stripe again with the same
// key, gets the same transfer and confirms it — never a second transfer.
//
// One run at a time across all instances: a run takes the "settlement"
// lease (models.JobLease) or returns ErrSettlementRunning, and renews it
// before each Stripe call, stopping if it was lost. So two instances never
// prepare or send the same batch.
func (a *App) Settle(ctx context.Context) (r SettleResult, err error) {
	if a.Transfers == nil {
		return r, errNoStripe
	}
	holder := models.NewLeaseHolder()
	ok, err := a.Store.AcquireLease(ctx, leaseSettlement, holder, settleLease)
	if err != nil {
		a.Metrics.JobRunFailed("settlement")
		return r, err
	}
	if !ok {
		return r, ErrSettlementRunning
	}
	defer a.releaseLease(leaseSettlement, holder)
	defer func() {
		a.Metrics.Settled(r, err)
	}()
	jobs, err := a.Store.PrepareSettlement(ctx, a.Cfg.SettlementMinCents)
	if err != nil {
		return r, err
	}
	for _, j := range jobs {
		if ok, err := a.Store.AcquireLease(ctx, leaseSettlement, holder, settleLease); err != nil || !ok {
			if err == nil {
				err = ErrSettlementRunning
			}
			return r, err
		}
		p := j.Payout
		id, err := a.Transfers.CreateTransfer(ctx, models.TransferInput{AccountID: j.StripeAccountID, AmountCents: p.AmountCents,
			Currency: p.Currency, Group: "settlement-" + p.PublicID, IdempotencyKey: p.IdempotencyKey, SourceCharge: p.SourceTransaction})
		if err != nil {
			if errors.Is(err, models.ErrPaymentRefused) {
				a.Log.Warn("payout refused by Stripe", "payout", p.PublicID, "err", err)
				if ferr := a.Store.FailPayout(ctx, p.ID, err.Error()); ferr != nil {
					return r, ferr
				}
				r.Failed++
				continue
			}
			// Network trouble, rate limit or Stripe outage: the outcome is
			// unknown, so the payout stays pending and the next run repeats
			// the call with the same idempotency key.
			a.Log.Warn("payout outcome unknown, will retry", "payout", p.PublicID, "err", err)
			r.Unknown++
			continue
		}
		if err := a.Store.ConfirmPayout(ctx, p.ID, id); err != nil {
			return r, err
		}
		r.Paid++
		r.PaidCents += p.AmountCents
	}
	return r, nil
}
