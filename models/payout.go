package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Payout statuses.
const (
	PayoutPending = "pending" // recorded and booked to transit; the Stripe transfer may or may not exist yet
	PayoutPaid    = "paid"    // Stripe confirmed the transfer
	PayoutFailed  = "failed"  // Stripe refused; the amount is payable again
)

// AccountMerchantTransit holds a payout between its intent and Stripe's
// answer, so the amount is neither payable twice nor lost.
func AccountMerchantTransit(merchantID uint) string {
	return fmt.Sprintf("transit:merchant:%d", merchantID)
}

// Payout is one settlement transfer to a merchant's Stripe account. The row
// is written (with the amount moved from payable to transit) BEFORE Stripe is
// called; the Stripe call uses IdempotencyKey, so re-running after a crash
// repeats the same transfer instead of making a second one.
type Payout struct {
	ID               uint   `gorm:"primaryKey"`
	PublicID         string `gorm:"size:24;not null;uniqueIndex"`
	MerchantID       uint   `gorm:"not null;index"`
	AmountCents      int64  `gorm:"not null"`
	Currency         string `gorm:"size:3;not null"`
	Status           string `gorm:"size:10;not null;index"`
	IdempotencyKey   string `gorm:"size:64;not null;uniqueIndex"`
	StripeTransferID string `gorm:"size:80;not null;default:''"`
	// SourceTransaction is the charge that funded this payout, when exactly
	// one is known (see payoutSourceCharge); sent as the transfer's
	// source_transaction.
	SourceTransaction string `gorm:"size:255;not null;default:''"`
	Error             string `gorm:"size:500;not null;default:''"`
	Attempts          int    `gorm:"not null;default:0"`
	CreatedAt         time.Time
	PaidAt            *time.Time
}

// PayoutJob is a pending payout with what the Stripe call needs.
type PayoutJob struct {
	Payout          Payout
	StripeAccountID string
}

// PrepareSettlement records one payout per merchant whose Stripe account can
// receive payouts and whose payable balance is at least minCents, moving the
// amount payable → transit in the same transaction. It then returns every
// pending payout — including those a crashed earlier run left behind — for
// the caller to send to Stripe. A merchant with a pending payout gets no
// second one.
func (s *Store) PrepareSettlement(ctx context.Context, minCents int64) ([]PayoutJob, error) {
	db := s.db.WithContext(ctx)
	var ms []Merchant
	if err := db.Preload("Region").Where("stripe_account_id IS NOT NULL AND payouts_enabled = ?", true).Find(&ms).Error; err != nil {
		return nil, err
	}
	for _, m := range ms {
		payable, err := s.AccountBalance(ctx, AccountMerchantPayable(m.ID))
		if err != nil {
			return nil, err
		}
		if payable <= 0 || payable < minCents {
			continue
		}
		err = s.tx(ctx, func(tx *gorm.DB) error {
			// Re-read the payable under a row lock: a redemption committing
			// meanwhile is then either in both the amount and the statement
			// items, or in neither.
			var acc LedgerAccount
			if err := lockRow(tx).Where("code = ?", AccountMerchantPayable(m.ID)).First(&acc).Error; err != nil {
				return notFound(err)
			}
			payable := acc.Balance
			if payable <= 0 || payable < minCents {
				return nil
			}
			var n int64
			if err := tx.Model(&Payout{}).Where("merchant_id = ? AND status = ?", m.ID, PayoutPending).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			pid := "po_" + newPublicID()
			p := Payout{PublicID: pid, MerchantID: m.ID, AmountCents: payable, Currency: m.Region.Currency,
				Status: PayoutPending, IdempotencyKey: "trostpflaster-payout-" + pid}
			if err := tx.Create(&p).Error; err != nil {
				return err
			}
			// book fails with ErrInsufficientBalance if a concurrent run
			// moved the money first; then this run records nothing.
			if err := assignPayoutItems(tx, p.ID, m.ID); err != nil {
				return err
			}
			src, err := payoutSourceCharge(tx, p.ID, payable)
			if err != nil {
				return err
			}
			if src != "" {
				if err := tx.Model(&Payout{}).Where("id = ?", p.ID).Update("source_transaction", src).Error; err != nil {
					return err
				}
			}
			if _, err := s.book(tx, Booking{Kind: "payout.intent", IdempotencyKey: "payout.intent:" + pid, Currency: p.Currency,
				Memo: "payout " + pid, Postings: Move(AccountMerchantPayable(m.ID), AccountMerchantTransit(m.ID), payable)}); err != nil {
				return err
			}
			return audit(tx, ActorSystem, "payout.prepared", "merchant", &m.ID, map[string]any{"payout": pid, "amount_cents": payable})
		})
		if err != nil && !errors.Is(err, ErrInsufficientBalance) {
			return nil, err
		}
	}
	var pending []Payout
	if err := db.Where("status = ?", PayoutPending).Order("id").Find(&pending).Error; err != nil {
		return nil, err
	}
	out := make([]PayoutJob, 0, len(pending))
	for _, p := range pending {
		var m Merchant
		if err := db.First(&m, p.MerchantID).Error; err != nil {
			return nil, err
		}
		if m.StripeAccountID == nil {
			continue
		}
		out = append(out, PayoutJob{Payout: p, StripeAccountID: *m.StripeAccountID})
	}
	return out, nil
}

// ConfirmPayout records Stripe's transfer: transit → payout:stripe, once.
func (s *Store) ConfirmPayout(ctx context.Context, payoutID uint, transferID string) error {
	now := s.Now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		var p Payout
		if err := tx.First(&p, payoutID).Error; err != nil {
			return notFound(err)
		}
		res := tx.Model(&Payout{}).Where("id = ? AND status = ?", p.ID, PayoutPending).
			Updates(map[string]any{"status": PayoutPaid, "stripe_transfer_id": transferID, "paid_at": now, "attempts": gorm.Expr("attempts + 1"), "error": ""})
		if res.Error != nil || res.RowsAffected != 1 {
			return res.Error // already confirmed by another run
		}
		if _, err := s.book(tx, Booking{Kind: "payout.paid", IdempotencyKey: "payout.paid:" + p.PublicID, Currency: p.Currency,
			Memo: "transfer " + transferID, Postings: Move(AccountMerchantTransit(p.MerchantID), AccountPayoutStripe, p.AmountCents)}); err != nil {
			return err
		}
		return audit(tx, ActorSystem, "payout.paid", "merchant", &p.MerchantID, map[string]any{"payout": p.PublicID, "transfer": transferID})
	})
}

// FailPayout records that Stripe refused the transfer (account not ready,
// insufficient platform balance, …): the amount goes back to payable, where
// it stays visible and is retried by the next run.
func (s *Store) FailPayout(ctx context.Context, payoutID uint, cause string) error {
	if len(cause) > 500 {
		cause = cause[:500]
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var p Payout
		if err := tx.First(&p, payoutID).Error; err != nil {
			return notFound(err)
		}
		res := tx.Model(&Payout{}).Where("id = ? AND status = ?", p.ID, PayoutPending).
			Updates(map[string]any{"status": PayoutFailed, "error": cause, "attempts": gorm.Expr("attempts + 1")})
		if res.Error != nil || res.RowsAffected != 1 {
			return res.Error
		}
		// The statement items go back too: the next payout pays them.
		if err := tx.Where("payout_id = ?", p.ID).Delete(&PayoutItem{}).Error; err != nil {
			return err
		}
		if _, err := s.book(tx, Booking{Kind: "payout.failed", IdempotencyKey: "payout.failed:" + p.PublicID, Currency: p.Currency,
			Memo: "payout failed", Postings: Move(AccountMerchantTransit(p.MerchantID), AccountMerchantPayable(p.MerchantID), p.AmountCents)}); err != nil {
			return err
		}
		return audit(tx, ActorSystem, "payout.failed", "merchant", &p.MerchantID, map[string]any{"payout": p.PublicID, "error": cause})
	})
}

// MerchantPayouts lists a merchant's payouts, newest first.
func (s *Store) MerchantPayouts(ctx context.Context, merchantID uint) ([]Payout, error) {
	var ps []Payout
	err := s.db.WithContext(ctx).Where("merchant_id = ?", merchantID).Order("id DESC").Limit(200).Find(&ps).Error
	return ps, err
}

// verifyPayouts adds the settlement invariant to VerifyLedger: what sits in a
// merchant's transit account is exactly its pending payouts, and every paid
// payout has its Stripe transfer id.
func (s *Store) verifyPayouts(ctx context.Context) ([]LedgerProblem, error) {
	db := s.db.WithContext(ctx)
	type row struct {
		MerchantID uint
		Pending    int64
	}
	var rows []row
	if err := db.Model(&Payout{}).Select("merchant_id, SUM(amount_cents) AS pending").Where("status = ?", PayoutPending).
		Group("merchant_id").Scan(&rows).Error; err != nil {
		return nil, err
	}
	pending := map[string]int64{}
	for _, r := range rows {
		pending[AccountMerchantTransit(r.MerchantID)] = r.Pending
	}
	var accs []LedgerAccount
	if err := db.Where("code LIKE ?", "transit:merchant:%").Find(&accs).Error; err != nil {
		return nil, err
	}
	var out []LedgerProblem
	for _, a := range accs {
		if a.Balance != pending[a.Code] {
			out = append(out, LedgerProblem{"payout_transit", fmt.Sprintf("%s holds %d, pending payouts %d", a.Code, a.Balance, pending[a.Code])})
		}
		delete(pending, a.Code)
	}
	for code, amt := range pending {
		out = append(out, LedgerProblem{"payout_transit", fmt.Sprintf("%s missing for pending payouts of %d", code, amt)})
	}
	var unpaid int64
	if err := db.Model(&Payout{}).Where("status = ? AND stripe_transfer_id = ''", PayoutPaid).Count(&unpaid).Error; err != nil {
		return nil, err
	}
	if unpaid > 0 {
		out = append(out, LedgerProblem{"payout_transfer", fmt.Sprintf("%d paid payouts without a Stripe transfer id", unpaid)})
	}
	return out, nil
}
