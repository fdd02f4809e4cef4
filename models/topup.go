package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Top-up statuses.
const (
	TopupPending = "pending"
	TopupPaid    = "paid"
	TopupFailed  = "failed"
)

// Top-up bounds.
const (
	TopupMinCents = 10_00
	TopupMaxCents = 50_000_00
	MsgTopupRange = "topup_range"
)

// Topup is a company's purchase of credit through Stripe Checkout. Credit is
// booked only when Stripe confirms the payment (verified webhook), exactly
// once however often and in whatever order the events arrive.
type Topup struct {
	ID              uint   `gorm:"primaryKey"`
	PublicID        string `gorm:"size:24;not null;uniqueIndex"`
	CompanyID       uint   `gorm:"not null;index"`
	AmountCents     int64  `gorm:"not null"`
	Currency        string `gorm:"size:3;not null"`
	Status          string `gorm:"size:10;not null;index"`
	StripeSessionID string `gorm:"size:255;not null;default:''"`
	PaymentIntentID string `gorm:"size:255;not null;default:''"`
	CreatedAt       time.Time
	PaidAt          *time.Time
}

// CreateTopup records a pending top-up (before the Checkout Session exists).
func (s *Store) CreateTopup(ctx context.Context, companyID uint, amountCents int64, a Actor) (*Topup, error) {
	if amountCents < TopupMinCents || amountCents > TopupMaxCents {
		return nil, ValidationErrors{"amount_cents": MsgTopupRange}
	}
	c, err := s.CompanyByID(ctx, companyID)
	if err != nil {
		return nil, err
	}
	t := Topup{PublicID: "tu_" + newPublicID(), CompanyID: companyID, AmountCents: amountCents, Currency: c.Region.Currency, Status: TopupPending}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&t).Error; err != nil {
			return err
		}
		return audit(tx, a, "topup.created", "company", &companyID, map[string]any{"topup": t.PublicID, "amount_cents": amountCents})
	})
	return &t, err
}

// SetTopupSession stores the Checkout Session created for a top-up.
func (s *Store) SetTopupSession(ctx context.Context, id uint, sessionID string) error {
	return s.db.WithContext(ctx).Model(&Topup{}).Where("id = ?", id).Update("stripe_session_id", sessionID).Error
}

// CompleteTopup books a paid top-up: cash:stripe → company credit, once
// (a conditional status update plus the ledger idempotency key). The amount
// Stripe collected must equal the top-up; anything else is an error and
// nothing is booked. credited is false when it was already paid.
func (s *Store) CompleteTopup(ctx context.Context, publicID, sessionID, paymentIntent string, amountTotal int64) (bool, error) {
	var t Topup
	if err := s.db.WithContext(ctx).Where("public_id = ?", publicID).First(&t).Error; err != nil {
		return false, notFound(err)
	}
	if t.Status == TopupPaid {
		return false, nil
	}
	if amountTotal != t.AmountCents {
		return false, errors.New("top-up amount does not match the payment")
	}
	credited := false
	now := s.Now()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Topup{}).Where("id = ? AND status <> ?", t.ID, TopupPaid).
			Updates(map[string]any{"status": TopupPaid, "paid_at": now, "payment_intent_id": paymentIntent, "stripe_session_id": sessionID})
		if res.Error != nil || res.RowsAffected != 1 {
			return res.Error
		}
		if _, err := s.book(tx, Booking{Kind: "credit.stripe", IdempotencyKey: "topup:" + t.PublicID, Currency: t.Currency,
			Memo: "top-up " + t.PublicID, Postings: Move(AccountCashStripe, AccountCompanyCredit(t.CompanyID), t.AmountCents)}); err != nil {
			return err
		}
		credited = true
		return audit(tx, Actor{Kind: "webhook"}, "topup.paid", "company", &t.CompanyID, map[string]any{"topup": t.PublicID, "amount_cents": t.AmountCents})
	})
	return credited, err
}

// FailTopup marks an unpaid top-up failed (SEPA debit bounced); a paid one
// stays paid (events may arrive out of order).
func (s *Store) FailTopup(ctx context.Context, publicID string) error {
	res := s.db.WithContext(ctx).Model(&Topup{}).Where("public_id = ? AND status = ?", publicID, TopupPending).Update("status", TopupFailed)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		var n int64
		s.db.WithContext(ctx).Model(&Topup{}).Where("public_id = ?", publicID).Count(&n)
		if n == 0 {
			return ErrNotFound
		}
	}
	return nil
}
