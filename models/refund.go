package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AccountShortfall collects money Stripe refunded to a payer after the
// company had already spent the credit the payment bought: the platform is
// out of pocket until the operator settles it with the company. It is a
// boundary account (may go negative) and every booking to it is flagged.
const AccountShortfall = "shortfall:refund"

// Statuses of a StripeRefund part.
const (
	RefundPartPending   = "pending"   // recorded before the Stripe call; outcome unknown
	RefundPartSucceeded = "succeeded" // Stripe refunded (our call, or seen in charge.refunded)
	RefundPartFailed    = "failed"    // Stripe refused our call; the amount is not refunded
)

// StripeRefund is one refund of a top-up's payment, either started by the
// platform admin (Key = our idempotency key, written before the Stripe
// call) or learnt from a charge.refunded event (Key = "charge:<refund id>"
// or, when the event lists no refunds, "charge:<charge>@<amount_refunded>").
// The sum of non-failed parts of a top-up never exceeds its amount.
type StripeRefund struct {
	ID             uint   `gorm:"primaryKey"`
	Key            string `gorm:"size:200;not null;uniqueIndex"`
	TopupID        uint   `gorm:"not null;index"`
	CompanyID      uint   `gorm:"not null;index"`
	CreditRefundID *uint  `gorm:"index"`
	AmountCents    int64  `gorm:"not null"`
	Currency       string `gorm:"size:3;not null"`
	Status         string `gorm:"size:10;not null;index"`
	StripeRefundID string `gorm:"size:80;not null;default:'';index"`
	// ShortfallCents is the part of an outside refund the company's credit
	// no longer covered (booked to AccountShortfall, flagged).
	ShortfallCents int64  `gorm:"not null;default:0"`
	Error          string `gorm:"size:500;not null;default:''"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ChargeRefund is what a charge.refunded event says about a top-up's
// payment. AmountRefunded is Stripe's running total for the charge, so an
// older event arriving late books nothing.
type ChargeRefund struct {
	PaymentIntentID string
	ChargeID        string
	AmountRefunded  int64
	LastRefundID    string // newest refund in the event, if listed
}

// ChargeRefundResult says what BookChargeRefund did.
type ChargeRefundResult struct {
	BookedCents    int64
	ShortfallCents int64
}

// ErrUnknownPayment means no top-up is known for the payment yet (its
// checkout event may still be on its way); the caller retries later.
var ErrUnknownPayment = errors.New("no top-up known for this payment")

// refundedCents is what has been (or is being) refunded of a top-up.
func refundedCents(tx *gorm.DB, topupID uint) (int64, error) {
	var sum int64
	err := tx.Model(&StripeRefund{}).Select("COALESCE(SUM(amount_cents), 0)").
		Where("topup_id = ? AND status <> ?", topupID, RefundPartFailed).Scan(&sum).Error
	return sum, err
}

// BookChargeRefund books a refund of a top-up's payment that Stripe
// reported. Only what exceeds the refunds already known (including the
// platform's own refunds still in flight) is booked, so duplicates, late
// events and the echo of our own refunds book nothing. The new amount comes
// off the company's credit as far as it is still available (credit → cash);
// the rest is a shortfall (shortfall:refund → cash), flagged for the
// operator, so credit never goes negative.
func (s *Store) BookChargeRefund(ctx context.Context, in ChargeRefund) (ChargeRefundResult, error) {
	var r ChargeRefundResult
	if in.PaymentIntentID == "" {
		return r, ErrUnknownPayment
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var t Topup
		if err := lockRow(tx).Where("payment_intent_id = ? AND status = ?", in.PaymentIntentID, TopupPaid).First(&t).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrUnknownPayment
			}
			return err
		}
		known, err := refundedCents(tx, t.ID)
		if err != nil {
			return err
		}
		total := min(in.AmountRefunded, t.AmountCents)
		delta := total - known
		if delta <= 0 {
			return nil
		}
		key := "charge:" + in.ChargeID + "@" + fmt.Sprint(in.AmountRefunded)
		if in.LastRefundID != "" {
			key = "charge:" + in.LastRefundID
		}
		credit, err := balanceTx(tx, AccountCompanyCredit(t.CompanyID))
		if err != nil {
			return err
		}
		fromCredit := min(delta, max(credit, 0))
		short := delta - fromCredit
		part := StripeRefund{Key: key, TopupID: t.ID, CompanyID: t.CompanyID, AmountCents: delta, Currency: t.Currency,
			Status: RefundPartSucceeded, StripeRefundID: in.LastRefundID, ShortfallCents: short}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&part)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil // this refund id was booked already
		}
		var postings []Posting
		if fromCredit > 0 {
			postings = append(postings, Posting{Account: AccountCompanyCredit(t.CompanyID), Amount: -fromCredit})
		}
		if short > 0 {
			postings = append(postings, Posting{Account: AccountShortfall, Amount: -short})
		}
		postings = append(postings, Posting{Account: AccountCashStripe, Amount: delta})
		if _, err := s.book(tx, Booking{Kind: "topup.refunded", IdempotencyKey: "refund:" + key, Currency: t.Currency,
			Memo: "Stripe refund of top-up " + t.PublicID, Postings: postings}); err != nil {
			return err
		}
		r = ChargeRefundResult{BookedCents: delta, ShortfallCents: short}
		return audit(tx, Actor{Kind: "webhook"}, "topup.refunded", "company", &t.CompanyID,
			map[string]any{"topup": t.PublicID, "amount_cents": delta, "shortfall_cents": short, "key": key})
	})
	return r, err
}
