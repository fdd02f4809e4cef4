package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v76"

	"trostpflaster/handlers"
	"trostpflaster/models"
)

// Transferer sends money to a connected account. The idempotency key makes a
// repeated call (after a crash) return the first transfer instead of paying
// twice.
type Transferer interface {
	CreateTransfer(ctx context.Context, accountID string, amountCents int64, currency, group, idempotencyKey string) (string, error)
}

// SourcedTransferer can name the charge that funded a transfer
// (source_transaction), so the transfer draws on that charge's funds even
// before they are available in the platform balance.
type SourcedTransferer interface {
	CreateTransferFrom(ctx context.Context, accountID string, amountCents int64, currency, group, idempotencyKey, sourceCharge string) (string, error)
}

// CreateTransfer creates a Stripe transfer to a connected account.
func (p *stripePayments) CreateTransfer(ctx context.Context, accountID string, amountCents int64, currency, group, idempotencyKey string) (string, error) {
	return p.CreateTransferFrom(ctx, accountID, amountCents, currency, group, idempotencyKey, "")
}

// CreateTransferFrom creates a transfer, with source_transaction when
// sourceCharge is set.
func (p *stripePayments) CreateTransferFrom(ctx context.Context, accountID string, amountCents int64, currency, group, idempotencyKey, sourceCharge string) (string, error) {
	params := &stripe.TransferParams{
		Amount:        stripe.Int64(amountCents),
		Currency:      stripe.String(currency),
		Destination:   stripe.String(accountID),
		TransferGroup: stripe.String(group),
	}
	if sourceCharge != "" {
		params.SourceTransaction = stripe.String(sourceCharge)
	}
	params.Context = ctx
	params.SetIdempotencyKey(idempotencyKey)
	tr, err := p.api.Transfers.New(params)
	if err != nil {
		return "", fmt.Errorf("stripe: transfer: %w", err)
	}
	return tr.ID, nil
}

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
// models.PrepareSettlement), call Stripe with the payout's idempotency key,
// then confirm (transit → payout:stripe) or, when Stripe refuses, give the
// amount back to payable. A crash between the call and the confirmation
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
		var id string
		var err error
		if st, ok := a.Transfers.(SourcedTransferer); ok && p.SourceTransaction != "" {
			id, err = st.CreateTransferFrom(ctx, j.StripeAccountID, p.AmountCents, toLowerASCII(p.Currency), "settlement-"+p.PublicID, p.IdempotencyKey, p.SourceTransaction)
		} else {
			id, err = a.Transfers.CreateTransfer(ctx, j.StripeAccountID, p.AmountCents, toLowerASCII(p.Currency), "settlement-"+p.PublicID, p.IdempotencyKey)
		}
		if err != nil {
			var se *stripe.Error
			if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != 429 {
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

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// CreateCheckoutSession starts a Checkout payment (card or SEPA debit) for a
// company top-up.
func (p *stripePayments) CreateCheckoutSession(ctx context.Context, in handlers.CheckoutInput) (string, string, error) {
	params := &stripe.CheckoutSessionParams{
		Mode:               stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID:  stripe.String(in.TopupID),
		SuccessURL:         stripe.String(in.SuccessURL),
		CancelURL:          stripe.String(in.CancelURL),
		PaymentMethodTypes: stripe.StringSlice([]string{"card", "sepa_debit"}),
		LineItems: []*stripe.CheckoutSessionLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionLineItemPriceDataParams{
				Currency:   stripe.String(toLowerASCII(in.Currency)),
				UnitAmount: stripe.Int64(in.AmountCents),
				ProductData: &stripe.CheckoutSessionLineItemPriceDataProductDataParams{
					Name: stripe.String("Trostpflaster-Guthaben"),
				},
			},
		}},
	}
	params.Context = ctx
	params.AddMetadata("topup_id", in.TopupID)
	params.SetIdempotencyKey("trostpflaster-checkout-" + in.TopupID)
	sess, err := p.api.CheckoutSessions.New(params)
	if err != nil {
		return "", "", fmt.Errorf("stripe: checkout session: %w", err)
	}
	return sess.ID, sess.URL, nil
}
