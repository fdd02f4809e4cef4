package models

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"gorm.io/gorm"
)

// PayoutItem ties a redemption (or its reversal) to the payout that paid
// (or deducted) it, so every payout has a statement. Items are assigned
// when the payout is recorded, in the same transaction that moves the
// payable balance, and released again when Stripe refuses the payout.
type PayoutItem struct {
	ID           uint `gorm:"primaryKey"`
	PayoutID     uint `gorm:"not null;index"`
	RedemptionID uint `gorm:"not null;uniqueIndex:idx_payout_item,priority:1"`
	Reversal     bool `gorm:"not null;uniqueIndex:idx_payout_item,priority:2"`
}

// assignPayoutItems gives a new payout every redemption and reversal of the
// merchant that no payout covers yet.
func assignPayoutItems(tx *gorm.DB, payoutID, merchantID uint) error {
	if err := tx.Exec(`INSERT INTO payout_items (payout_id, redemption_id, reversal)
		SELECT ?, r.id, ? FROM redemptions r WHERE r.merchant_id = ?
		AND NOT EXISTS (SELECT 1 FROM payout_items i WHERE i.redemption_id = r.id AND i.reversal = ?)`,
		payoutID, false, merchantID, false).Error; err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO payout_items (payout_id, redemption_id, reversal)
		SELECT ?, r.id, ? FROM redemptions r WHERE r.merchant_id = ? AND r.reversed_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM payout_items i WHERE i.redemption_id = r.id AND i.reversal = ?)`,
		payoutID, true, merchantID, true).Error
}

// StatementLine is one redemption (positive) or reversal (negative) on a
// statement. Reference is the voucher's public number and the merchant's
// own till reference — never customer data.
type StatementLine struct {
	Date            time.Time
	Redemption      string
	Voucher         string
	Reference       string
	Reversal        bool
	GrossCents      int64
	CommissionCents int64
	NetCents        int64
}

// Statement is what one payout paid: its lines, the commission rate and
// the totals. AdjustmentCents is the part of the payout not explained by
// the lines (reversed transfers released back to payable); usually zero.
type Statement struct {
	Payout          Payout
	Merchant        Merchant
	CommissionBP    int64
	Lines           []StatementLine
	GrossCents      int64
	CommissionCents int64
	NetCents        int64
	AdjustmentCents int64
}

// PayoutStatement returns the statement of one of the merchant's payouts;
// another merchant's payout is ErrNotFound.
func (s *Store) PayoutStatement(ctx context.Context, merchantID uint, payoutPublicID string) (*Statement, error) {
	db := s.db.WithContext(ctx)
	st := Statement{}
	if err := db.Where("public_id = ? AND merchant_id = ?", payoutPublicID, merchantID).First(&st.Payout).Error; err != nil {
		return nil, notFound(err)
	}
	if err := db.Preload("Region").First(&st.Merchant, merchantID).Error; err != nil {
		return nil, notFound(err)
	}
	st.CommissionBP = st.Merchant.CommissionRate()
	type row struct {
		Reversal        bool
		PublicID        string
		GiftPublicID    string
		Reference       string
		AmountCents     int64
		CommissionCents int64
		CreatedAt       time.Time
		ReversedAt      *time.Time
	}
	var rows []row
	if err := db.Table("payout_items i").
		Select("i.reversal, r.public_id, g.public_id AS gift_public_id, r.reference, r.amount_cents, r.commission_cents, r.created_at, r.reversed_at").
		Joins("JOIN redemptions r ON r.id = i.redemption_id").Joins("JOIN gifts g ON g.id = r.gift_id").
		Where("i.payout_id = ? AND r.merchant_id = ?", st.Payout.ID, merchantID).Order("r.created_at, r.id, i.reversal").Scan(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		l := StatementLine{Date: r.CreatedAt, Redemption: r.PublicID, Voucher: r.GiftPublicID, Reference: r.Reference,
			GrossCents: r.AmountCents, CommissionCents: r.CommissionCents, NetCents: r.AmountCents - r.CommissionCents}
		if r.Reversal {
			l.Reversal = true
			if r.ReversedAt != nil {
				l.Date = *r.ReversedAt
			}
			l.GrossCents, l.CommissionCents, l.NetCents = -l.GrossCents, -l.CommissionCents, -l.NetCents
		}
		st.Lines = append(st.Lines, l)
		st.GrossCents += l.GrossCents
		st.CommissionCents += l.CommissionCents
		st.NetCents += l.NetCents
	}
	st.AdjustmentCents = st.Payout.AmountCents - st.NetCents
	return &st, nil
}

// WriteStatementCSV writes a payout statement: header lines (payout,
// merchant, rate, rounding rule), one line per redemption or reversal, and
// the totals. Text cells are protected against formula injection.
func WriteStatementCSV(st *Statement, w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	p := st.Payout
	head := [][]string{
		{"Abrechnung", p.PublicID},
		{"Partner", SafeCell(st.Merchant.Name)},
		{"Datum", p.CreatedAt.UTC().Format("2006-01-02")},
		{"Stripe-Überweisung", SafeCell(p.StripeTransferID)},
		{"Provisionssatz", BasisPoints(st.CommissionBP)},
		{"Rundung", CommissionRule},
		{},
		{"datum", "einloesung", "gutschein", "referenz", "art", "brutto", "provision", "netto", "waehrung"},
	}
	for _, r := range head {
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	for _, l := range st.Lines {
		kind := "einloesung"
		if l.Reversal {
			kind = "storno"
		}
		if err := cw.Write([]string{l.Date.UTC().Format("2006-01-02"), l.Redemption, l.Voucher, SafeCell(l.Reference), kind,
			Euros(l.GrossCents), Euros(l.CommissionCents), Euros(l.NetCents), p.Currency}); err != nil {
			return err
		}
	}
	tail := [][]string{{"", "", "", "", "summe", Euros(st.GrossCents), Euros(st.CommissionCents), Euros(st.NetCents), p.Currency}}
	if st.AdjustmentCents != 0 {
		tail = append(tail, []string{"", "", "", "", "korrektur", "", "", Euros(st.AdjustmentCents), p.Currency})
	}
	tail = append(tail, []string{"", "", "", "", "auszahlung", "", "", Euros(p.AmountCents), p.Currency})
	for _, r := range tail {
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// verifyPayoutItems adds the statement invariants to VerifyLedger: a
// refused payout keeps no items (they move to the next payout), and no
// payout lists another merchant's redemptions.
func (s *Store) verifyPayoutItems(ctx context.Context) ([]LedgerProblem, error) {
	db := s.db.WithContext(ctx)
	var out []LedgerProblem
	var failed int64
	if err := db.Table("payout_items i").Joins("JOIN payouts p ON p.id = i.payout_id").Where("p.status = ?", PayoutFailed).Count(&failed).Error; err != nil {
		return nil, err
	}
	if failed > 0 {
		out = append(out, LedgerProblem{"payout_items", fmt.Sprintf("%d statement items on refused payouts", failed)})
	}
	var foreign int64
	if err := db.Table("payout_items i").Joins("JOIN payouts p ON p.id = i.payout_id").Joins("JOIN redemptions r ON r.id = i.redemption_id").
		Where("p.merchant_id <> r.merchant_id").Count(&foreign).Error; err != nil {
		return nil, err
	}
	if foreign > 0 {
		out = append(out, LedgerProblem{"payout_items", fmt.Sprintf("%d statement items of another merchant", foreign)})
	}
	return out, nil
}
