package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AccountMerchantHeld holds money that came back from a merchant's payout
// (a transfer reversal) until the operator decides: release it to the
// merchant's payable (paid again by the next settlement run) or keep it
// (e.g. a fraud case, settled outside the app).
func AccountMerchantHeld(merchantID uint) string { return fmt.Sprintf("held:merchant:%d", merchantID) }

// TransferReversal is money Stripe moved back from a connected account to
// the platform for one payout. Key is the reversal id when the event lists
// it, else "<transfer>@<amount_reversed>". Released marks reversals the
// operator moved on to the merchant's payable.
type TransferReversal struct {
	ID          uint   `gorm:"primaryKey"`
	Key         string `gorm:"size:200;not null;uniqueIndex"`
	PayoutID    uint   `gorm:"not null;index"`
	Payout      *Payout
	MerchantID  uint   `gorm:"not null;index"`
	AmountCents int64  `gorm:"not null"`
	Currency    string `gorm:"size:3;not null"`
	ReleasedAt  *time.Time
	ReleasedBy  *uint
	CreatedAt   time.Time
}

// TransferReversed is what a transfer.reversed event says. AmountReversed is
// Stripe's running total for the transfer.
type TransferReversed struct {
	TransferID     string
	TransferGroup  string // "settlement-<payout public id>"
	AmountReversed int64
	LastReversalID string
}

// ErrUnknownTransfer means no confirmed payout is known for the transfer
// yet (the settlement run may not have confirmed it); retry later.
var ErrUnknownTransfer = errors.New("no paid payout known for this transfer")

// BookTransferReversal books money that came back from a payout:
// payout:stripe → held:merchant:<id>, only what exceeds the reversals
// already booked for the payout (duplicates and late events book nothing),
// never more than the payout. It returns the amount booked.
func (s *Store) BookTransferReversal(ctx context.Context, in TransferReversed) (int64, error) {
	var booked int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var p Payout
		q := lockRow(tx).Where("status = ?", PayoutPaid)
		const prefix = "settlement-"
		if in.TransferID != "" && len(in.TransferGroup) > len(prefix) && in.TransferGroup[:len(prefix)] == prefix {
			q = q.Where("stripe_transfer_id = ? OR public_id = ?", in.TransferID, in.TransferGroup[len(prefix):])
		} else {
			q = q.Where("stripe_transfer_id = ?", in.TransferID)
		}
		if in.TransferID == "" {
			return ErrUnknownTransfer
		}
		if err := q.First(&p).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrUnknownTransfer
			}
			return err
		}
		var known int64
		if err := tx.Model(&TransferReversal{}).Select("COALESCE(SUM(amount_cents), 0)").Where("payout_id = ?", p.ID).Scan(&known).Error; err != nil {
			return err
		}
		delta := min(in.AmountReversed, p.AmountCents) - known
		if delta <= 0 {
			return nil
		}
		key := in.TransferID + "@" + fmt.Sprint(in.AmountReversed)
		if in.LastReversalID != "" {
			key = in.LastReversalID
		}
		rv := TransferReversal{Key: key, PayoutID: p.ID, MerchantID: p.MerchantID, AmountCents: delta, Currency: p.Currency}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rv)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		if _, err := s.book(tx, Booking{Kind: "payout.reversed", IdempotencyKey: "payout.reversed:" + key, Currency: p.Currency,
			Memo: "transfer reversal " + key + " of " + p.PublicID, Postings: Move(AccountPayoutStripe, AccountMerchantHeld(p.MerchantID), delta)}); err != nil {
			return err
		}
		booked = delta
		return audit(tx, Actor{Kind: "webhook"}, "payout.reversed", "merchant", &p.MerchantID, map[string]any{"payout": p.PublicID, "amount_cents": delta, "key": key})
	})
	return booked, err
}

// ReleaseTransferReversal moves a held reversal on to the merchant's
// payable, once, so the next settlement run pays it again.
func (s *Store) ReleaseTransferReversal(ctx context.Context, id uint, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var rv TransferReversal
		if err := tx.First(&rv, id).Error; err != nil {
			return notFound(err)
		}
		res := tx.Model(&TransferReversal{}).Where("id = ? AND released_at IS NULL", rv.ID).
			Updates(map[string]any{"released_at": s.Now(), "released_by": a.ID})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		if _, err := s.book(tx, Booking{Kind: "payout.reversal_released", IdempotencyKey: "payout.reversal_released:" + rv.Key, Currency: rv.Currency,
			Memo: "reversal " + rv.Key + " released to payable", Postings: Move(AccountMerchantHeld(rv.MerchantID), AccountMerchantPayable(rv.MerchantID), rv.AmountCents)}); err != nil {
			return err
		}
		return audit(tx, a, "payout.reversal_released", "merchant", &rv.MerchantID, map[string]any{"reversal": rv.Key, "amount_cents": rv.AmountCents})
	})
}

// verifyReversals adds the reversal invariants to VerifyLedger: no payout
// is reversed beyond its amount, only paid payouts are reversed, and each
// merchant's held account equals its unreleased reversals.
func (s *Store) verifyReversals(ctx context.Context) ([]LedgerProblem, error) {
	db := s.db.WithContext(ctx)
	var out []LedgerProblem
	type over struct {
		PublicID string
		Amount   int64
		Reversed int64
	}
	var ov []over
	if err := db.Table("payouts p").Select("p.public_id, p.amount_cents AS amount, SUM(r.amount_cents) AS reversed").
		Joins("JOIN transfer_reversals r ON r.payout_id = p.id").
		Group("p.id, p.public_id, p.amount_cents").Having("SUM(r.amount_cents) > p.amount_cents").Scan(&ov).Error; err != nil {
		return nil, err
	}
	for _, o := range ov {
		out = append(out, LedgerProblem{"reversal_exceeds_payout", fmt.Sprintf("payout %s of %d reversed by %d", o.PublicID, o.Amount, o.Reversed)})
	}
	var notPaid int64
	if err := db.Table("transfer_reversals r").Joins("JOIN payouts p ON p.id = r.payout_id").Where("p.status <> ?", PayoutPaid).Count(&notPaid).Error; err != nil {
		return nil, err
	}
	if notPaid > 0 {
		out = append(out, LedgerProblem{"reversal_exceeds_payout", fmt.Sprintf("%d reversals of payouts that were not paid", notPaid)})
	}
	type held struct {
		MerchantID uint
		Total      int64
	}
	var hs []held
	if err := db.Model(&TransferReversal{}).Select("merchant_id, SUM(amount_cents) AS total").Where("released_at IS NULL").
		Group("merchant_id").Scan(&hs).Error; err != nil {
		return nil, err
	}
	want := map[string]int64{}
	for _, h := range hs {
		want[AccountMerchantHeld(h.MerchantID)] = h.Total
	}
	var accs []LedgerAccount
	if err := db.Where("code LIKE ?", "held:merchant:%").Find(&accs).Error; err != nil {
		return nil, err
	}
	for _, a := range accs {
		if a.Balance != want[a.Code] {
			out = append(out, LedgerProblem{"reversal_held", fmt.Sprintf("%s holds %d, unreleased reversals %d", a.Code, a.Balance, want[a.Code])})
		}
		delete(want, a.Code)
	}
	for code, amt := range want {
		out = append(out, LedgerProblem{"reversal_held", fmt.Sprintf("%s missing for unreleased reversals of %d", code, amt)})
	}
	return out, nil
}
