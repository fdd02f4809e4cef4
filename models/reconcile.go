package models

import (
	"context"
	"time"
)

// TopupRecon compares one top-up as Stripe reported it with what the
// ledger booked. Diff is non-zero when they disagree.
type TopupRecon struct {
	PublicID      string
	CompanyName   string
	AmountCents   int64
	Currency      string
	Status        string
	CreatedAt     time.Time
	PaidAt        *time.Time
	CreditedCents int64 // booked cash:stripe → credit
	RefundedCents int64 // refunds known (ours and Stripe-reported)
	DiffCents     int64 // paid amount − credited
	Stale         bool  // pending for more than a day (abandoned or unanswered)
}

// PayoutRecon compares one payout with its Stripe transfer and booking.
type PayoutRecon struct {
	PublicID         string
	MerchantName     string
	AmountCents      int64
	Currency         string
	Status           string
	StripeTransferID string
	Error            string
	CreatedAt        time.Time
	BookedCents      int64 // booked transit → payout:stripe
	ReversedCents    int64
	DiffCents        int64 // paid amount − booked
}

// HeldReversal is a transfer reversal waiting for the operator.
type HeldReversal struct {
	ID           uint
	Key          string
	AmountCents  int64
	Currency     string
	CreatedAt    time.Time
	MerchantName string
	PayoutPublic string
}

// Reconciliation is the platform admin's comparison of Stripe and the books.
type Reconciliation struct {
	Topups     []TopupRecon
	Payouts    []PayoutRecon
	Events     []StripeEvent
	Held       []HeldReversal
	Shortfalls []StripeRefund
	Problems   int // rows with a difference, stale or failed
}

// Reconcile gathers the latest 200 top-ups and payouts with their bookings,
// the events not applied or flagged, held reversals and refund shortfalls.
func (s *Store) Reconcile(ctx context.Context) (*Reconciliation, error) {
	db := s.db.WithContext(ctx)
	r := &Reconciliation{}
	if err := db.Table("topups t").
		Select(`t.public_id, c.name AS company_name, t.amount_cents, t.currency, t.status, t.created_at, t.paid_at,
			COALESCE((SELECT SUM(e.amount) FROM ledger_transactions lt JOIN ledger_entries e ON e.transaction_id = lt.id AND e.amount > 0
				WHERE lt.idempotency_key = 'topup:' || t.public_id), 0) AS credited_cents,
			COALESCE((SELECT SUM(x.amount_cents) FROM stripe_refunds x WHERE x.topup_id = t.id AND x.status <> ?), 0) AS refunded_cents`, RefundPartFailed).
		Joins("JOIN companies c ON c.id = t.company_id").Order("t.id DESC").Limit(200).Scan(&r.Topups).Error; err != nil {
		return nil, err
	}
	day := s.Now().Add(-24 * time.Hour)
	for i := range r.Topups {
		t := &r.Topups[i]
		paid := int64(0)
		if t.Status == TopupPaid {
			paid = t.AmountCents
		}
		t.DiffCents = paid - t.CreditedCents
		t.Stale = t.Status == TopupPending && t.CreatedAt.Before(day)
		if t.DiffCents != 0 {
			r.Problems++
		}
	}
	if err := db.Table("payouts p").
		Select(`p.public_id, m.name AS merchant_name, p.amount_cents, p.currency, p.status, p.stripe_transfer_id, p.error, p.created_at,
			COALESCE((SELECT SUM(e.amount) FROM ledger_transactions lt JOIN ledger_entries e ON e.transaction_id = lt.id AND e.amount > 0
				WHERE lt.idempotency_key = 'payout.paid:' || p.public_id), 0) AS booked_cents,
			COALESCE((SELECT SUM(x.amount_cents) FROM transfer_reversals x WHERE x.payout_id = p.id), 0) AS reversed_cents`).
		Joins("JOIN merchants m ON m.id = p.merchant_id").Order("p.id DESC").Limit(200).Scan(&r.Payouts).Error; err != nil {
		return nil, err
	}
	for i := range r.Payouts {
		p := &r.Payouts[i]
		paid := int64(0)
		if p.Status == PayoutPaid {
			paid = p.AmountCents
		}
		p.DiffCents = paid - p.BookedCents
		if p.DiffCents != 0 || p.Status != PayoutPaid {
			r.Problems++
		}
	}
	var err error
	if r.Events, err = s.UnprocessedStripeEvents(ctx, 100); err != nil {
		return nil, err
	}
	r.Problems += len(r.Events)
	if err := db.Table("transfer_reversals r").Select("r.id, r.key, r.amount_cents, r.currency, r.created_at, m.name AS merchant_name, p.public_id AS payout_public").
		Joins("JOIN merchants m ON m.id = r.merchant_id").Joins("JOIN payouts p ON p.id = r.payout_id").
		Where("r.released_at IS NULL").Order("r.id").Scan(&r.Held).Error; err != nil {
		return nil, err
	}
	r.Problems += len(r.Held)
	if err := db.Where("shortfall_cents > 0").Order("id DESC").Limit(100).Find(&r.Shortfalls).Error; err != nil {
		return nil, err
	}
	r.Problems += len(r.Shortfalls)
	return r, nil
}
