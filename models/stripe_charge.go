package models

import (
	"context"
	"errors"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// StripeCharge maps a payment intent to its charge, learnt from
// charge.succeeded (which often arrives before the checkout event that
// tells which top-up the payment intent belongs to).
type StripeCharge struct {
	ID              uint   `gorm:"primaryKey"`
	PaymentIntentID string `gorm:"size:255;not null;uniqueIndex"`
	ChargeID        string `gorm:"size:255;not null"`
}

// RecordStripeCharge remembers the charge of a payment intent (once).
func (s *Store) RecordStripeCharge(ctx context.Context, paymentIntentID, chargeID string) error {
	if paymentIntentID == "" || chargeID == "" {
		return ValidationErrors{"payment_intent": MsgRequired}
	}
	return s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "payment_intent_id"}}, DoNothing: true}).
		Create(&StripeCharge{PaymentIntentID: paymentIntentID, ChargeID: chargeID}).Error
}

// payoutSourceCharge finds the charge that funded a payout, when there is
// exactly one: every redemption the payout pays comes from gifts of one
// company, all money that ever came into that company's credit from outside
// (bookings from a cash:* account) is one Stripe top-up, its charge is
// known, and the payout does not exceed what is left of that top-up after
// refunds. Otherwise "" (the transfer is funded from the platform balance).
func payoutSourceCharge(tx *gorm.DB, payoutID uint, amountCents int64) (string, error) {
	var companies []struct{ CompanyID uint }
	if err := tx.Table("payout_items i").Select("DISTINCT g.company_id").
		Joins("JOIN redemptions r ON r.id = i.redemption_id").Joins("JOIN gifts g ON g.id = r.gift_id").
		Where("i.payout_id = ? AND i.reversal = ?", payoutID, false).Scan(&companies).Error; err != nil {
		return "", err
	}
	if len(companies) != 1 {
		return "", nil
	}
	var rows []struct {
		ID             uint
		IdempotencyKey *string
	}
	if err := tx.Table("ledger_transactions t").Select("DISTINCT t.id, t.idempotency_key").
		Joins("JOIN ledger_entries ec ON ec.transaction_id = t.id AND ec.amount > 0").
		Joins("JOIN ledger_accounts ac ON ac.id = ec.account_id AND ac.code = ?", AccountCompanyCredit(companies[0].CompanyID)).
		Joins("JOIN ledger_entries ex ON ex.transaction_id = t.id AND ex.amount < 0").
		Joins("JOIN ledger_accounts ax ON ax.id = ex.account_id AND ax.code LIKE ?", "cash:%").
		Scan(&rows).Error; err != nil {
		return "", err
	}
	if len(rows) != 1 || rows[0].IdempotencyKey == nil || !strings.HasPrefix(*rows[0].IdempotencyKey, "topup:") {
		return "", nil
	}
	var t Topup
	if err := tx.Where("public_id = ? AND status = ?", strings.TrimPrefix(*rows[0].IdempotencyKey, "topup:"), TopupPaid).First(&t).Error; err != nil {
		return "", ignoreNotFound(err)
	}
	refunded, err := refundedCents(tx, t.ID)
	if err != nil {
		return "", err
	}
	if amountCents > t.AmountCents-refunded {
		return "", nil
	}
	var ch StripeCharge
	if err := tx.Where("payment_intent_id = ?", t.PaymentIntentID).First(&ch).Error; err != nil {
		return "", ignoreNotFound(err)
	}
	return ch.ChargeID, nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	return err
}
