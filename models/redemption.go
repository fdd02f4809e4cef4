package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ErrBalanceTooLow is a redemption larger than the voucher's balance (409).
var ErrBalanceTooLow = fmt.Errorf("%w: voucher balance too low", ErrConflict)

// ErrReversalWindow is a reversal asked for after the caller's window
// closed (ReversalAllowed): the till's shift has ended, or the API's 90 days
// have passed.
var ErrReversalWindow = fmt.Errorf("%w: reversal window has passed", ErrConflict)

// Reversal windows. Staff at the till may undo their own redemptions during
// their shift: the same person, the same calendar day in Europe/Berlin and
// at most TillUndoWindow after the redemption (a till mistake is noticed at
// once; the next day's undo would be a refund, which is the shop's API or
// the operator's business). A merchant's API keys may reverse any of the
// merchant's redemptions within APIReversalWindow, long enough for a
// cancelled or returned online order (14-day withdrawal period plus
// delivery and payment delays).
const (
	TillUndoWindow    = 12 * time.Hour
	APIReversalWindow = 90 * 24 * time.Hour
)

// Redemption is one use of a voucher at its partner, in store or online.
type Redemption struct {
	ID              uint   `gorm:"primaryKey"`
	PublicID        string `gorm:"size:24;not null;uniqueIndex"`
	GiftID          uint   `gorm:"not null;index"`
	Gift            *Gift  `gorm:"constraint:OnDelete:RESTRICT"`
	MerchantID      uint   `gorm:"not null;index;uniqueIndex:idx_redemption_idem,priority:1"`
	AmountCents     int64  `gorm:"not null"`
	CommissionCents int64  `gorm:"not null"`
	Currency        string `gorm:"size:3;not null"`
	Reference       string `gorm:"size:120;not null;default:''"`
	BasketCents     *int64
	NewCustomer     *bool
	IdempotencyKey  *string `gorm:"size:200;uniqueIndex:idx_redemption_idem,priority:2"`
	RequestHash     string  `gorm:"size:64;not null;default:''"`
	ByUserID        *uint
	ByAPIKeyID      *uint
	ReversedAt      *time.Time
	CreatedAt       time.Time `gorm:"index"`
}

// RedeemInput is one redemption at the till or from the web shop.
type RedeemInput struct {
	AmountCents    int64
	Reference      string
	BasketCents    *int64
	NewCustomer    *bool
	IdempotencyKey string
	UserID         *uint
	APIKeyID       *uint
}

// Redeem takes amount from a voucher of the merchant, atomically: the
// balance moves by a conditional UPDATE (… AND balance_cents >= amount), so
// concurrent tills can never take more than there is, on SQLite and
// PostgreSQL alike. The ledger books voucher → merchant payable (minus
// commission) + platform commission in the same transaction. Errors:
// ErrNotFound (unknown or another partner's code), ErrBalanceTooLow (409),
// ErrExpired (410: expired or cancelled), ValidationErrors (422). With an
// idempotency key a repeated request returns the first redemption (replay
// = true); the same key with a different request is ErrConflict. With a new
// redemption the gift returned is the voucher's state after it (ids,
// amounts, balance, status, currency, reference, code hash, dates; no
// relations or texts: the till and the API show the balance); a replay
// returns the whole gift.
func (s *Store) Redeem(ctx context.Context, merchantID uint, code string, in RedeemInput) (*Redemption, *Gift, bool, error) {
	v := checkRedeemInput(&in)
	g, bp, err := s.voucherToRedeem(ctx, merchantID, code)
	if err != nil {
		return nil, nil, false, err
	}
	if err := v.Err(); err != nil {
		return nil, nil, false, err
	}
	reqHash := s.keyedHash("redeem-req", fmt.Sprintf("%d|%d|%s|%v|%v", g.ID, in.AmountCents, in.Reference, deref(in.BasketCents), deref(in.NewCustomer)))
	if in.IdempotencyKey != "" {
		if r, err := s.redemptionByKey(ctx, merchantID, in.IdempotencyKey, reqHash); !errors.Is(err, ErrNotFound) {
			if err != nil {
				return nil, nil, false, err
			}
			g, err := s.giftByID(ctx, r.GiftID)
			return r, g, true, err
		}
	}
	now := s.Now()
	r := Redemption{PublicID: "rd_" + newPublicID(), GiftID: g.ID, MerchantID: merchantID, AmountCents: in.AmountCents,
		CommissionCents: Commission(in.AmountCents, bp), Currency: g.Currency, Reference: in.Reference, BasketCents: in.BasketCents,
		NewCustomer: in.NewCustomer, RequestHash: reqHash, ByUserID: in.UserID, ByAPIKeyID: in.APIKeyID, CreatedAt: now}
	if in.IdempotencyKey != "" {
		r.IdempotencyKey = &in.IdempotencyKey
	}
	after := *g // the state this redemption leaves (balance and status from the UPDATE)
	err = s.tx(ctx, func(tx *gorm.DB) error { return s.writeRedemption(tx, &r, &after, in, now) })
	if err != nil && in.IdempotencyKey != "" && (errors.Is(err, gorm.ErrDuplicatedKey) || errors.Is(err, ErrConflict) && !errors.Is(err, ErrBalanceTooLow)) {
		// A concurrent request with the same key won the race.
		if prev, perr := s.redemptionByKey(ctx, merchantID, in.IdempotencyKey, reqHash); perr == nil {
			g, gerr := s.giftByID(ctx, prev.GiftID)
			return prev, g, true, gerr
		}
	}
	if err != nil {
		return nil, nil, false, notFound(err)
	}
	// Only balance, status and updated_at changed, and the UPDATE returned
	// them.
	return &r, &after, false, nil
}

// checkRedeemInput validates a redemption's input (the code is checked by
// looking it up).
func checkRedeemInput(in *RedeemInput) ValidationErrors {
	v := ValidationErrors{}
	if in.AmountCents < 1 || in.AmountCents > 100_000_00 {
		v.Add("amount_cents", MsgRedeemAmount)
	}
	in.Reference = checkText(v, "reference", in.Reference, 0, 120)
	if in.BasketCents != nil && (*in.BasketCents < 0 || *in.BasketCents > 100_000_000) {
		v.Add("basket_cents", MsgInvalid)
	}
	if len(in.IdempotencyKey) > 200 {
		v.Add("idempotency_key", MsgIdempotencyKey)
	}
	return v
}

// writeRedemption is Redeem's transaction, in fixed SQL on the hot path:
// the voucher's balance moves (takeFromVoucher, which fills in after), the
// redemption row is inserted, the ledger books it, and the audit entry and
// the voucher.redeemed webhook are written.
func (s *Store) writeRedemption(tx *gorm.DB, r *Redemption, after *Gift, in RedeemInput, now time.Time) error {
	if err := takeFromVoucher(tx, after, r.MerchantID, r.AmountCents, now); err != nil {
		return err
	}
	after.UpdatedAt = now
	var err error
	if r.ID, err = insertID(tx, "INSERT INTO redemptions (public_id, gift_id, merchant_id, amount_cents, commission_cents, currency, "+
		"reference, basket_cents, new_customer, idempotency_key, request_hash, by_user_id, by_api_key_id, created_at) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
		r.PublicID, r.GiftID, r.MerchantID, r.AmountCents, r.CommissionCents, r.Currency,
		r.Reference, r.BasketCents, r.NewCustomer, r.IdempotencyKey, r.RequestHash, r.ByUserID, r.ByAPIKeyID, r.CreatedAt); err != nil {
		return err
	}
	if err := s.bookRedemption(tx, r); err != nil {
		return err
	}
	if err := audit(tx, redeemActor(in), "voucher.redeemed", "gift", &r.GiftID, map[string]any{"redemption": r.PublicID, "amount_cents": r.AmountCents}); err != nil {
		return err
	}
	data := giftHookData(after)
	data["redemption_id"], data["redeemed_cents"] = r.PublicID, r.AmountCents
	return s.emitHook(tx, after.CompanyID, HookVoucherRedeem, data)
}

// takeFromVoucher lowers the voucher's balance by amount, guarded: the
// balance moves only if it covers the amount, and the new balance and
// status come back from the same statement into g. When nothing moved it
// tells an expired or cancelled voucher (ErrExpired) from a too small
// balance (ErrBalanceTooLow).
func takeFromVoucher(tx *gorm.DB, g *Gift, merchantID uint, amount int64, now time.Time) error {
	rows, err := rawQuery(tx, "UPDATE gifts SET balance_cents = balance_cents - ?, "+
		"status = CASE WHEN balance_cents - ? = 0 THEN ? ELSE ? END, updated_at = ? "+
		"WHERE id = ? AND merchant_id = ? AND balance_cents >= ? AND status IN (?, ?) AND expires_at > ? "+
		"RETURNING balance_cents, status",
		amount, amount, GiftRedeemed, GiftPartiallyRedeemed, now,
		g.ID, merchantID, amount, GiftClaimed, GiftPartiallyRedeemed, now)
	if err != nil {
		return err
	}
	updated := rows.Next()
	if updated {
		err = rows.Scan(&g.BalanceCents, &g.Status)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil || updated {
		return err
	}
	var cur Gift
	if err := tx.Select("status", "balance_cents", "expires_at").First(&cur, g.ID).Error; err != nil {
		return err
	}
	if cur.Status == GiftExpired || cur.Status == GiftCancelled || !cur.ExpiresAt.After(now) {
		return ErrExpired
	}
	return ErrBalanceTooLow
}

// bookRedemption books a redemption: voucher → merchant payable (minus
// commission) and platform commission.
func (s *Store) bookRedemption(tx *gorm.DB, r *Redemption) error {
	postings := []Posting{{Account: AccountVoucher(r.GiftID), Amount: -r.AmountCents},
		{Account: AccountMerchantPayable(r.MerchantID), Amount: r.AmountCents - r.CommissionCents}}
	if r.CommissionCents > 0 {
		postings = append(postings, Posting{Account: AccountPlatformCommission, Amount: r.CommissionCents})
	}
	// The key holds the redemption's new random public id, so no earlier
	// booking can have it (the unique index still guards it).
	_, err := s.book(tx, Booking{Kind: "voucher.redeemed", IdempotencyKey: "redemption:" + r.PublicID, NewKey: true, Currency: r.Currency,
		Memo: "redemption " + r.PublicID, Postings: postings})
	return err
}

// voucherToRedeem is VoucherForMerchant for Redeem, in one fixed statement
// scanned into plain variables (every redemption starts with it): the
// voucher's own state without its relations (see Redeem) and the
// commission in basis points, the merchant's own rate else its region's
// (Merchant.CommissionRate). Unknown codes and other partners' codes are
// ErrNotFound.
func (s *Store) voucherToRedeem(ctx context.Context, merchantID uint, code string) (*Gift, int64, error) {
	if _, ok := NormalizeCode(code); !ok {
		return nil, 0, ErrNotFound
	}
	g := Gift{MerchantID: &merchantID}
	var own sql.NullInt64
	var bp int64
	err := s.db.WithContext(ctx).Raw("SELECT gifts.id, gifts.public_id, gifts.company_id, gifts.amount_cents, gifts.balance_cents, "+
		"gifts.currency, gifts.reference, gifts.status, gifts.code_hash, gifts.expires_at, gifts.created_at, gifts.updated_at, "+
		"merchants.commission_bp, regions.commission_bp FROM gifts JOIN merchants ON merchants.id = gifts.merchant_id "+
		"JOIN regions ON regions.id = merchants.region_id WHERE gifts.code_hash = ? AND gifts.merchant_id = ?",
		s.codeHash(code), merchantID).Row().Scan(&g.ID, &g.PublicID, &g.CompanyID, &g.AmountCents, &g.BalanceCents,
		&g.Currency, &g.Reference, &g.Status, &g.CodeHash, &g.ExpiresAt, &g.CreatedAt, &g.UpdatedAt, &own, &bp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	if own.Valid {
		bp = own.Int64
	}
	return &g, bp, nil
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func redeemActor(in RedeemInput) Actor {
	if in.UserID != nil {
		return UserActor(*in.UserID)
	}
	return Actor{Kind: "api_key", ID: in.APIKeyID}
}

// redemptionByKey finds the merchant's redemption with the idempotency key:
// ErrNotFound if there is none (the usual case, one fixed statement),
// ErrConflict if it answered a different request.
func (s *Store) redemptionByKey(ctx context.Context, merchantID uint, key, reqHash string) (*Redemption, error) {
	var id uint
	var hash string
	err := s.db.WithContext(ctx).Raw("SELECT id, request_hash FROM redemptions WHERE merchant_id = ? AND idempotency_key = ?",
		merchantID, key).Row().Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if hash != reqHash {
		return nil, ErrConflict
	}
	var r Redemption
	if err := s.db.WithContext(ctx).First(&r, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// ReverseRedemption undoes a redemption of the merchant once (for example a
// cancelled online order): the amount goes back onto the voucher and the
// ledger books the opposite transaction. Who asks decides how long that is
// possible (ReversalAllowed): staff at the till only within their shift,
// the merchant's API keys within APIReversalWindow, the operator's CLI
// always. Unknown or foreign: ErrNotFound; already reversed: ErrConflict;
// too late for the caller: ErrReversalWindow; voucher expired meanwhile:
// ErrExpired; the merchant was already paid more than remains payable:
// ErrInsufficientBalance.
func (s *Store) ReverseRedemption(ctx context.Context, merchantID uint, publicID string, by Actor) (*Redemption, *Gift, error) {
	var r Redemption
	if err := s.db.WithContext(ctx).Where("public_id = ? AND merchant_id = ?", publicID, merchantID).First(&r).Error; err != nil {
		return nil, nil, notFound(err)
	}
	now := s.Now()
	if r.ReversedAt != nil {
		return nil, nil, ErrConflict
	}
	if !r.ReversalAllowed(by, now) {
		return nil, nil, ErrReversalWindow
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Redemption{}).Where("id = ? AND reversed_at IS NULL", r.ID).Update("reversed_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		res = tx.Model(&Gift{}).Where("id = ? AND status IN ? AND expires_at > ?", r.GiftID, []string{GiftPartiallyRedeemed, GiftRedeemed}, now).
			Updates(map[string]any{"balance_cents": gorm.Expr("balance_cents + ?", r.AmountCents), "status": GiftPartiallyRedeemed, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrExpired
		}
		postings := []Posting{{Account: AccountMerchantPayable(merchantID), Amount: -(r.AmountCents - r.CommissionCents)},
			{Account: AccountVoucher(r.GiftID), Amount: r.AmountCents}}
		if r.CommissionCents > 0 {
			postings = append(postings, Posting{Account: AccountPlatformCommission, Amount: -r.CommissionCents})
		}
		if _, err := s.book(tx, Booking{Kind: "voucher.redemption_reversed", IdempotencyKey: "reversal:" + r.PublicID, Currency: r.Currency,
			Memo: "reversal of " + r.PublicID, Postings: postings}); err != nil {
			return err
		}
		// A voucher whose full amount is back counts as claimed again.
		if err := tx.Model(&Gift{}).Where("id = ? AND balance_cents = amount_cents", r.GiftID).Update("status", GiftClaimed).Error; err != nil {
			return err
		}
		return audit(tx, by, "voucher.redemption_reversed", "gift", &r.GiftID, map[string]any{"redemption": r.PublicID, "amount_cents": r.AmountCents})
	})
	if err != nil {
		return nil, nil, err
	}
	r.ReversedAt = &now
	g, err := s.giftByID(ctx, r.GiftID)
	return &r, g, err
}

// ReversalAllowed reports whether by may still reverse the redemption at
// now (see TillUndoWindow and APIReversalWindow). Users (the till) are
// bound to their shift, API keys to APIReversalWindow; the CLI and system
// jobs are not limited (operator corrections).
func (r *Redemption) ReversalAllowed(by Actor, now time.Time) bool {
	age := now.Sub(r.CreatedAt)
	switch by.Kind {
	case "user":
		if by.ID == nil || r.ByUserID == nil || *r.ByUserID != *by.ID || age > TillUndoWindow {
			return false
		}
		y1, m1, d1 := r.CreatedAt.In(berlin).Date()
		y2, m2, d2 := now.In(berlin).Date()
		return y1 == y2 && m1 == m2 && d1 == d2
	case "api_key":
		return age <= APIReversalWindow
	}
	return true
}

// LocalCreatedAt is the redemption's time in Europe/Berlin, as shown on
// receipts.
func (r *Redemption) LocalCreatedAt() time.Time { return r.CreatedAt.In(berlin) }

// LastShiftRedemption is the user's latest redemption at the merchant that
// the user may still undo (ReversalAllowed at now), for the till's "undo
// the last one" button; ErrNotFound when there is none.
func (s *Store) LastShiftRedemption(ctx context.Context, merchantID, userID uint) (*Redemption, *Gift, error) {
	now := s.Now()
	var r Redemption
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND by_user_id = ? AND created_at > ?", merchantID, userID, now.Add(-TillUndoWindow)).
		Order("created_at DESC, id DESC").First(&r).Error
	if err != nil {
		return nil, nil, notFound(err)
	}
	if r.ReversedAt != nil || !r.ReversalAllowed(UserActor(userID), now) {
		return nil, nil, ErrNotFound
	}
	g, err := s.giftByID(ctx, r.GiftID)
	return &r, g, err
}
