package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AccountRefundReserve holds credit a company asked to have refunded, so it
// cannot be gifted while the platform admin decides.
func AccountRefundReserve(companyID uint) string { return fmt.Sprintf("refund:company:%d", companyID) }

// Statuses of a company's credit refund request.
const (
	CreditRefundRequested  = "requested"   // amount reserved, waiting for the platform admin
	CreditRefundProcessing = "processing"  // Stripe refunds recorded and being sent
	CreditRefundRefunded   = "refunded"    // paid back through Stripe
	CreditRefundCreditNote = "credit_note" // settled by an invoice credit note
	CreditRefundDeclined   = "declined"    // amount released back to the credit
)

// MsgRefundExceedsCredit and friends are validation codes of refunds.
const (
	MsgRefundExceedsCredit = "refund_exceeds_credit"
	MsgRefundNoStripe      = "refund_not_stripe_paid"
)

// CreditRefund is a company admin's request to get unused credit back. The
// amount moves credit → refund reserve when asked, so it cannot be gifted
// meanwhile; the platform admin refunds it through Stripe (reserve → cash
// per refunded part), settles it by credit note (reserve → cash:invoice) or
// declines it (reserve → credit).
type CreditRefund struct {
	ID            uint     `gorm:"primaryKey"`
	PublicID      string   `gorm:"size:24;not null;uniqueIndex"`
	CompanyID     uint     `gorm:"not null;index"`
	Company       *Company `gorm:"constraint:OnDelete:RESTRICT"`
	AmountCents   int64    `gorm:"not null"`
	RefundedCents int64    `gorm:"not null;default:0"` // paid back so far (Stripe parts or credit note)
	Currency      string   `gorm:"size:3;not null"`
	Status        string   `gorm:"size:12;not null;index"`
	Reason        string   `gorm:"size:500;not null;default:''"`
	Note          string   `gorm:"size:200;not null;default:''"` // credit note number or decline reason
	Error         string   `gorm:"size:500;not null;default:''"`
	RequestedBy   *uint
	DecidedBy     *uint
	CreatedAt     time.Time
	DecidedAt     *time.Time
}

// Open reports whether the admin can still act on the request.
func (r CreditRefund) Open() bool {
	return r.Status == CreditRefundRequested || r.Status == CreditRefundProcessing
}

// Remaining is the reserved amount not yet paid back.
func (r CreditRefund) Remaining() int64 { return r.AmountCents - r.RefundedCents }

// RequestCreditRefund reserves amountCents of the company's available
// credit for a refund. More than the available credit is a validation error
// (the conditional ledger update makes this hold under concurrent gifts).
func (s *Store) RequestCreditRefund(ctx context.Context, companyID uint, amountCents int64, reason string, a Actor) (*CreditRefund, error) {
	reason = strings.TrimSpace(reason)
	v := ValidationErrors{}
	if amountCents <= 0 || amountCents > 100_000_000_00 {
		v.Add("amount", MsgInvalid)
	}
	if len(reason) > 500 {
		v.Add("reason", MsgTooLong)
	}
	if len(v) > 0 {
		return nil, v
	}
	c, err := s.CompanyByID(ctx, companyID)
	if err != nil {
		return nil, err
	}
	r := CreditRefund{PublicID: "rf_" + newPublicID(), CompanyID: companyID, AmountCents: amountCents, Currency: c.Region.Currency,
		Status: CreditRefundRequested, Reason: reason, RequestedBy: a.ID}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		if _, err := s.book(tx, Booking{Kind: "refund.requested", IdempotencyKey: "refund.requested:" + r.PublicID, Currency: r.Currency,
			Memo: "refund request " + r.PublicID, Postings: Move(AccountCompanyCredit(companyID), AccountRefundReserve(companyID), amountCents)}); err != nil {
			return err
		}
		return audit(tx, a, "refund.requested", "company", &companyID, map[string]any{"refund": r.PublicID, "amount_cents": amountCents})
	})
	if errors.Is(err, ErrInsufficientBalance) {
		return nil, ValidationErrors{"amount": MsgRefundExceedsCredit}
	}
	return &r, err
}

// CompanyCreditRefunds lists a company's refund requests, newest first.
func (s *Store) CompanyCreditRefunds(ctx context.Context, companyID uint) ([]CreditRefund, error) {
	var rs []CreditRefund
	err := s.db.WithContext(ctx).Where("company_id = ?", companyID).Order("id DESC").Limit(100).Find(&rs).Error
	return rs, err
}

// CreditRefunds lists every refund request for the platform admin: open
// ones first, then the latest decided.
func (s *Store) CreditRefunds(ctx context.Context) ([]CreditRefund, error) {
	var rs []CreditRefund
	err := s.db.WithContext(ctx).Preload("Company").
		Order(clause.OrderBy{Expression: clause.Expr{SQL: "CASE WHEN status IN (?, ?) THEN 0 ELSE 1 END, id DESC",
			Vars: []any{CreditRefundRequested, CreditRefundProcessing}, WithoutParentheses: true}}).
		Limit(200).Find(&rs).Error
	return rs, err
}

// CreditRefundByPublicID returns one request.
func (s *Store) CreditRefundByPublicID(ctx context.Context, publicID string) (*CreditRefund, error) {
	var r CreditRefund
	err := s.db.WithContext(ctx).Preload("Company").Where("public_id = ?", publicID).First(&r).Error
	return &r, notFound(err)
}

// DeclineCreditRefund releases what is still reserved back to the
// company's credit.
func (s *Store) DeclineCreditRefund(ctx context.Context, publicID, note string, a Actor) error {
	return s.closeCreditRefund(ctx, publicID, CreditRefundDeclined, note, a)
}

// CreditNoteRefund settles what is still reserved by an invoice credit
// note (the money goes back by bank transfer against the invoice):
// reserve → cash:invoice.
func (s *Store) CreditNoteRefund(ctx context.Context, publicID, note string, a Actor) error {
	note = strings.TrimSpace(note)
	if note == "" || len(note) > 60 {
		return ValidationErrors{"note": MsgRequired}
	}
	return s.closeCreditRefund(ctx, publicID, CreditRefundCreditNote, note, a)
}

func (s *Store) closeCreditRefund(ctx context.Context, publicID, status, note string, a Actor) error {
	if len(note) > 200 {
		return ValidationErrors{"note": MsgTooLong}
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var r CreditRefund
		if err := lockRow(tx).Where("public_id = ?", publicID).First(&r).Error; err != nil {
			return notFound(err)
		}
		if !r.Open() {
			return ErrConflict
		}
		var pending int64
		if err := tx.Model(&StripeRefund{}).Where("credit_refund_id = ? AND status = ?", r.ID, RefundPartPending).Count(&pending).Error; err != nil {
			return err
		}
		if pending > 0 {
			return ErrConflict // Stripe's answer for a part is outstanding
		}
		rest := r.Remaining()
		upd := map[string]any{"status": status, "note": note, "decided_by": a.ID, "decided_at": s.Now()}
		if status == CreditRefundCreditNote {
			upd["refunded_cents"] = r.AmountCents
		}
		if r.RefundedCents > 0 && status == CreditRefundDeclined {
			// Partly refunded through Stripe already: what was paid stays
			// paid, the rest goes back.
			upd["status"] = CreditRefundRefunded
		}
		if err := tx.Model(&CreditRefund{}).Where("id = ?", r.ID).Updates(upd).Error; err != nil {
			return err
		}
		if rest > 0 {
			to, kind := AccountCompanyCredit(r.CompanyID), "refund.declined"
			if status == CreditRefundCreditNote {
				to, kind = AccountCashInvoice, "refund.credit_note"
			}
			if _, err := s.book(tx, Booking{Kind: kind, IdempotencyKey: kind + ":" + r.PublicID, Currency: r.Currency,
				Memo: strings.TrimSpace("refund " + r.PublicID + " " + note), Postings: Move(AccountRefundReserve(r.CompanyID), to, rest)}); err != nil {
				return err
			}
		}
		return audit(tx, a, "refund."+status, "company", &r.CompanyID, map[string]any{"refund": r.PublicID, "amount_cents": rest, "note": note})
	})
}

// RefundJob is one Stripe refund to send: a recorded pending part and the
// payment intent it refunds.
type RefundJob struct {
	Part            StripeRefund
	PaymentIntentID string
}

// PrepareStripeRefund records the Stripe refunds that pay back what is
// still reserved on a request, split over the company's paid top-ups
// (newest first, each only up to what is not yet refunded of it), before
// any Stripe call. It returns every pending part of the request, including
// parts a crashed earlier attempt left behind, for the caller to send with
// their idempotency keys. More than the top-ups can cover is a validation
// error (then settle the rest by credit note).
func (s *Store) PrepareStripeRefund(ctx context.Context, publicID string, a Actor) ([]RefundJob, error) {
	var out []RefundJob
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var r CreditRefund
		if err := lockRow(tx).Where("public_id = ?", publicID).First(&r).Error; err != nil {
			return notFound(err)
		}
		if !r.Open() {
			return ErrConflict
		}
		var inflight int64
		if err := tx.Model(&StripeRefund{}).Select("COALESCE(SUM(amount_cents), 0)").
			Where("credit_refund_id = ? AND status = ?", r.ID, RefundPartPending).Scan(&inflight).Error; err != nil {
			return err
		}
		need := r.Remaining() - inflight
		if need > 0 {
			var ts []Topup
			if err := tx.Where("company_id = ? AND status = ? AND payment_intent_id <> ''", r.CompanyID, TopupPaid).
				Order("paid_at DESC, id DESC").Find(&ts).Error; err != nil {
				return err
			}
			var parts []StripeRefund
			for _, t := range ts {
				if need == 0 {
					break
				}
				done, err := refundedCents(tx, t.ID)
				if err != nil {
					return err
				}
				take := min(need, t.AmountCents-done)
				if take <= 0 {
					continue
				}
				parts = append(parts, StripeRefund{Key: "trostpflaster-refund-" + r.PublicID + "-" + t.PublicID + "-" + fmt.Sprint(done),
					TopupID: t.ID, CompanyID: r.CompanyID, CreditRefundID: &r.ID, AmountCents: take, Currency: r.Currency, Status: RefundPartPending})
				need -= take
			}
			if need > 0 {
				return ValidationErrors{"refund": MsgRefundNoStripe}
			}
			for i := range parts {
				if err := tx.Create(&parts[i]).Error; err != nil {
					return err
				}
			}
			if err := tx.Model(&CreditRefund{}).Where("id = ?", r.ID).Updates(map[string]any{"status": CreditRefundProcessing, "error": "", "decided_by": a.ID}).Error; err != nil {
				return err
			}
			if err := audit(tx, a, "refund.stripe_prepared", "company", &r.CompanyID, map[string]any{"refund": r.PublicID, "parts": len(parts)}); err != nil {
				return err
			}
		}
		var pend []StripeRefund
		if err := tx.Where("credit_refund_id = ? AND status = ?", r.ID, RefundPartPending).Order("id").Find(&pend).Error; err != nil {
			return err
		}
		for _, p := range pend {
			var t Topup
			if err := tx.First(&t, p.TopupID).Error; err != nil {
				return err
			}
			out = append(out, RefundJob{Part: p, PaymentIntentID: t.PaymentIntentID})
		}
		return nil
	})
	return out, err
}

// ErrRefundIncomplete means some refund parts were refused or their
// outcome is unknown; the request stays open with the problem shown.
var ErrRefundIncomplete = errors.New("stripe refund incomplete")

// RefundCredit pays a refund request back through the payment provider
// like settlement pays merchants: record the parts (PrepareStripeRefund),
// call the provider with each part's idempotency key, then confirm or, when
// the provider refuses, mark the part failed (its amount stays reserved).
// An unknown outcome (network, rate limit) leaves the part pending; pressing
// the button again repeats the same call with the same key. No transaction
// is open during a provider call. Unless every part is confirmed the error
// is ErrRefundIncomplete, with each part's failure joined for the log.
func (s *Store) RefundCredit(ctx context.Context, refunds Refunds, publicID string, a Actor) error {
	if refunds == nil {
		return ErrPaymentsUnavailable
	}
	jobs, err := s.PrepareStripeRefund(ctx, publicID, a)
	if err != nil {
		return err
	}
	var failed []error
	for _, j := range jobs {
		id, err := refunds.CreateRefund(ctx, j.PaymentIntentID, j.Part.AmountCents, j.Part.Key)
		if err != nil {
			failed = append(failed, fmt.Errorf("part %s: %w", j.Part.Key, err))
			if errors.Is(err, ErrPaymentRefused) {
				if ferr := s.FailRefundPart(ctx, j.Part.ID, err.Error()); ferr != nil {
					return ferr
				}
			}
			continue
		}
		if err := s.ConfirmRefundPart(ctx, j.Part.ID, id); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %w", ErrRefundIncomplete, errors.Join(failed...))
	}
	return nil
}

// ConfirmRefundPart records Stripe's refund for a part: reserve → cash,
// once; the request is refunded when nothing is left.
func (s *Store) ConfirmRefundPart(ctx context.Context, partID uint, stripeRefundID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var p StripeRefund
		if err := tx.First(&p, partID).Error; err != nil {
			return notFound(err)
		}
		res := tx.Model(&StripeRefund{}).Where("id = ? AND status = ?", p.ID, RefundPartPending).
			Updates(map[string]any{"status": RefundPartSucceeded, "stripe_refund_id": stripeRefundID, "error": "", "updated_at": s.Now()})
		if res.Error != nil || res.RowsAffected != 1 {
			return res.Error
		}
		var r CreditRefund
		if err := tx.First(&r, *p.CreditRefundID).Error; err != nil {
			return err
		}
		if _, err := s.book(tx, Booking{Kind: "refund.stripe", IdempotencyKey: "refund.stripe:" + p.Key, Currency: p.Currency,
			Memo: "Stripe refund " + stripeRefundID + " for " + r.PublicID, Postings: Move(AccountRefundReserve(r.CompanyID), AccountCashStripe, p.AmountCents)}); err != nil {
			return err
		}
		upd := map[string]any{"refunded_cents": gorm.Expr("refunded_cents + ?", p.AmountCents)}
		if r.RefundedCents+p.AmountCents >= r.AmountCents {
			upd["status"] = CreditRefundRefunded
			upd["decided_at"] = s.Now()
		}
		if err := tx.Model(&CreditRefund{}).Where("id = ?", r.ID).Updates(upd).Error; err != nil {
			return err
		}
		return audit(tx, ActorSystem, "refund.stripe_paid", "company", &r.CompanyID, map[string]any{"refund": r.PublicID, "stripe_refund": stripeRefundID, "amount_cents": p.AmountCents})
	})
}

// FailRefundPart records that Stripe refused a part: it no longer counts as
// refunded and its amount stays reserved on the request (the admin can try
// again, settle by credit note or decline).
func (s *Store) FailRefundPart(ctx context.Context, partID uint, cause string) error {
	if len(cause) > 500 {
		cause = cause[:500]
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var p StripeRefund
		if err := tx.First(&p, partID).Error; err != nil {
			return notFound(err)
		}
		res := tx.Model(&StripeRefund{}).Where("id = ? AND status = ?", p.ID, RefundPartPending).
			Updates(map[string]any{"status": RefundPartFailed, "error": cause, "updated_at": s.Now()})
		if res.Error != nil || res.RowsAffected != 1 {
			return res.Error
		}
		return tx.Model(&CreditRefund{}).Where("id = ?", *p.CreditRefundID).Update("error", cause).Error
	})
}

// RefundParts lists the Stripe refund parts of a request.
func (s *Store) RefundParts(ctx context.Context, creditRefundID uint) ([]StripeRefund, error) {
	var ps []StripeRefund
	err := s.db.WithContext(ctx).Where("credit_refund_id = ?", creditRefundID).Order("id").Find(&ps).Error
	return ps, err
}

// verifyRefunds adds the refund invariants to VerifyLedger: no top-up is
// refunded beyond what was paid; each request's reserve equals what is
// still open on it; requests never record more paid back than asked; and
// every Stripe refund part the ledger relies on is booked once.
func (s *Store) verifyRefunds(ctx context.Context) ([]LedgerProblem, error) {
	db := s.db.WithContext(ctx)
	var out []LedgerProblem
	type over struct {
		PublicID string
		Amount   int64
		Refunded int64
	}
	var ov []over
	if err := db.Table("topups t").Select("t.public_id, t.amount_cents AS amount, SUM(r.amount_cents) AS refunded").
		Joins("JOIN stripe_refunds r ON r.topup_id = t.id AND r.status <> ?", RefundPartFailed).
		Group("t.id, t.public_id, t.amount_cents").Having("SUM(r.amount_cents) > t.amount_cents").Scan(&ov).Error; err != nil {
		return nil, err
	}
	for _, o := range ov {
		out = append(out, LedgerProblem{"refund_exceeds_topup", fmt.Sprintf("top-up %s paid %d, refunded %d", o.PublicID, o.Amount, o.Refunded)})
	}
	var unpaid int64
	if err := db.Table("stripe_refunds r").Joins("JOIN topups t ON t.id = r.topup_id").Where("t.status <> ?", TopupPaid).Count(&unpaid).Error; err != nil {
		return nil, err
	}
	if unpaid > 0 {
		out = append(out, LedgerProblem{"refund_exceeds_topup", fmt.Sprintf("%d refunds of top-ups that were never paid", unpaid)})
	}
	var rs []CreditRefund
	if err := db.Find(&rs).Error; err != nil {
		return nil, err
	}
	reserved := map[uint]int64{}
	for _, r := range rs {
		if r.RefundedCents < 0 || r.RefundedCents > r.AmountCents {
			out = append(out, LedgerProblem{"refund_request", fmt.Sprintf("%s paid back %d of %d", r.PublicID, r.RefundedCents, r.AmountCents)})
		}
		if r.Open() {
			reserved[r.CompanyID] += r.Remaining()
		}
		var paid int64
		if err := db.Model(&StripeRefund{}).Select("COALESCE(SUM(amount_cents), 0)").
			Where("credit_refund_id = ? AND status = ?", r.ID, RefundPartSucceeded).Scan(&paid).Error; err != nil {
			return nil, err
		}
		if r.Status != CreditRefundCreditNote && paid != r.RefundedCents {
			out = append(out, LedgerProblem{"refund_request", fmt.Sprintf("%s records %d paid back, Stripe refunds %d", r.PublicID, r.RefundedCents, paid)})
		}
	}
	var accs []LedgerAccount
	if err := db.Where("code LIKE ?", "refund:company:%").Find(&accs).Error; err != nil {
		return nil, err
	}
	for _, a := range accs {
		var id uint
		fmt.Sscanf(a.Code, "refund:company:%d", &id)
		if a.Balance != reserved[id] {
			out = append(out, LedgerProblem{"refund_reserve", fmt.Sprintf("%s holds %d, open requests %d", a.Code, a.Balance, reserved[id])})
		}
		delete(reserved, id)
	}
	for id, amt := range reserved {
		if amt != 0 {
			out = append(out, LedgerProblem{"refund_reserve", fmt.Sprintf("company %d has open requests of %d but no reserve", id, amt)})
		}
	}
	var booked int64
	if err := db.Model(&LedgerTransaction{}).Where("kind IN ?", []string{"topup.refunded", "refund.stripe"}).Count(&booked).Error; err != nil {
		return nil, err
	}
	var parts int64
	if err := db.Model(&StripeRefund{}).Where("status = ?", RefundPartSucceeded).Count(&parts).Error; err != nil {
		return nil, err
	}
	if booked != parts {
		out = append(out, LedgerProblem{"refund_booked", fmt.Sprintf("%d refunds succeeded, %d refund bookings", parts, booked)})
	}
	var shortCents int64
	if err := db.Model(&StripeRefund{}).Select("COALESCE(SUM(shortfall_cents), 0)").Scan(&shortCents).Error; err != nil {
		return nil, err
	}
	bal, err := s.AccountBalance(ctx, AccountShortfall)
	if err != nil {
		return nil, err
	}
	if bal != -shortCents {
		out = append(out, LedgerProblem{"refund_shortfall", fmt.Sprintf("%s is %d, recorded shortfalls %d", AccountShortfall, bal, shortCents)})
	}
	return out, nil
}
