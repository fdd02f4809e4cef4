package models

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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

// Message keys of claim and redemption validation.
const (
	MsgClaimMerchant  = "claim_merchant"
	MsgRedeemAmount   = "redeem_amount"
	MsgIdempotencyKey = "idempotency_key"
)

// GiftVoucher is what a gift gains when the recipient claims it: the keyed
// hash of its voucher code (embedded in Gift). The code itself is never
// stored; it is derived from the server secret and the gift's public id, so
// it can be shown to the recipient again while a database copy reveals none.
// MerchantCommission is a per-merchant commission override in basis points
// (embedded in Merchant); nil means the region's rate.
type MerchantCommission struct {
	CommissionBP *int64
}

// CommissionRate is the merchant's commission in basis points.
func (m *Merchant) CommissionRate() int64 {
	if m.CommissionBP != nil {
		return *m.CommissionBP
	}
	return m.Region.CommissionBP
}

type GiftVoucher struct {
	CodeHash *string `gorm:"size:64;uniqueIndex"`
	// Feedback is the recipient's answer to "Did this make up for it?"
	// (yes, partly, no), given once after use. It reaches the company,
	// never the partner.
	Feedback   string `gorm:"size:10;not null;default:''"`
	FeedbackAt *time.Time
}

// Feedback answers.
var FeedbackAnswers = []string{"yes", "partly", "no"}

// GiveFeedback records the recipient's answer once, after the voucher was
// used, and reports it to the company's webhooks (gift.feedback).
func (s *Store) GiveFeedback(ctx context.Context, token, answer string) (*Gift, error) {
	ok := false
	for _, a := range FeedbackAnswers {
		ok = ok || a == answer
	}
	if !ok {
		return nil, ValidationErrors{"feedback": MsgInvalid}
	}
	g, err := s.GiftByClaimToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if g.Status != GiftPartiallyRedeemed && g.Status != GiftRedeemed {
		return nil, ErrConflict
	}
	now := s.Now()
	err = s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Gift{}).Where("id = ? AND feedback = ''", g.ID).Updates(map[string]any{"feedback": answer, "feedback_at": now})
		if res.Error != nil || res.RowsAffected != 1 {
			return res.Error // answered already: the first answer stands
		}
		data := giftHookData(g)
		data["feedback"] = answer
		return s.emitHook(tx, g.CompanyID, HookGiftFeedback, data)
	})
	if err != nil {
		return nil, err
	}
	return s.giftByID(ctx, g.ID)
}

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

// crockford is Crockford's base32 alphabet (no I, L, O, U).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// VoucherCodeLen is the number of code characters: 20 × 5 = 100 bits.
const VoucherCodeLen = 20

// VoucherCode derives the gift's voucher code, grouped by four
// ("7K3M-…"). It is only meaningful once the gift was claimed.
func (s *Store) VoucherCode(g *Gift) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("voucher-code\x00" + g.PublicID))
	sum := m.Sum(nil)
	var b strings.Builder
	var acc uint64
	bits := 0
	n := 0
	for _, by := range sum {
		acc = acc<<8 | uint64(by)
		bits += 8
		for bits >= 5 && n < VoucherCodeLen {
			bits -= 5
			if n > 0 && n%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(crockford[(acc>>uint(bits))&31])
			n++
		}
		if n == VoucherCodeLen {
			break
		}
	}
	return b.String()
}

// NormalizeCode turns typed input into the canonical code: case, spaces and
// dashes do not matter, and look-alike letters are read as Crockford says
// (O→0, I/L→1, U→V). It reports false for anything that cannot be a code.
func NormalizeCode(in string) (string, bool) {
	if len(in) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(in) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		case r == 'U':
			r = 'V'
		}
		if !strings.ContainsRune(crockford, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != VoucherCodeLen {
		return "", false
	}
	return b.String(), true
}

func (s *Store) codeHash(code string) string {
	norm, _ := NormalizeCode(code)
	return s.keyedHash("voucher-code", norm)
}

// ClaimGift turns a sent gift into a voucher at one of its offered partners
// (merchantID 0 = the only offered partner). Claiming again returns the same
// voucher (created=false); a partner that was not offered is a validation
// error; a gift past its date is ErrExpired.
func (s *Store) ClaimGift(ctx context.Context, token string, merchantID uint) (*Gift, bool, error) {
	g, err := s.GiftByClaimToken(ctx, token)
	if err != nil {
		return nil, false, err
	}
	offers := g.OfferedMerchants()
	if merchantID == 0 && len(offers) == 1 {
		merchantID = offers[0].ID
	}
	if g.Status != GiftSent {
		if g.MerchantID != nil && (merchantID == 0 || merchantID == *g.MerchantID) && g.CodeHash != nil {
			return g, false, nil
		}
		if g.Status == GiftExpired {
			return nil, false, ErrExpired
		}
		return nil, false, ValidationErrors{"merchant_id": MsgClaimMerchant}
	}
	if !g.ExpiresAt.After(s.Now()) {
		return nil, false, ErrExpired
	}
	offered := false
	for _, m := range offers {
		offered = offered || m.ID == merchantID
	}
	if !offered {
		return nil, false, ValidationErrors{"merchant_id": MsgClaimMerchant}
	}
	hash := s.codeHash(s.VoucherCode(g))
	now := s.Now()
	err = s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Gift{}).Where("id = ? AND status = ? AND (merchant_id IS NULL OR merchant_id = ?)", g.ID, GiftSent, merchantID).
			Updates(map[string]any{"status": GiftClaimed, "merchant_id": merchantID, "claimed_at": now, "code_hash": hash, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		if err := audit(tx, Actor{Kind: "recipient"}, "gift.claimed", "gift", &g.ID, map[string]any{"merchant_id": merchantID}); err != nil {
			return err
		}
		claimed := *g
		claimed.Status, claimed.MerchantID = GiftClaimed, &merchantID
		return s.emitHook(tx, g.CompanyID, HookGiftClaimed, giftHookData(&claimed))
	})
	if errors.Is(err, ErrConflict) {
		// Claimed a moment ago (double tap, two devices): show that voucher.
		again, aerr := s.GiftByClaimToken(ctx, token)
		if aerr == nil && again.MerchantID != nil && *again.MerchantID == merchantID && again.CodeHash != nil {
			return again, false, nil
		}
		return nil, false, ValidationErrors{"merchant_id": MsgClaimMerchant}
	}
	if err != nil {
		return nil, false, err
	}
	out, err := s.giftByID(ctx, g.ID)
	return out, true, err
}

// VoucherForMerchant finds a claimed voucher by its code for the partner it
// belongs to. Unknown codes and other partners' codes are the same
// ErrNotFound, so codes cannot be probed across partners. It is one query
// (every redemption starts with it): the gift with its company, sender and
// partner; the offered partners of the claim are not loaded (Offers is
// empty), as a claimed voucher has exactly one.
func (s *Store) VoucherForMerchant(ctx context.Context, merchantID uint, code string) (*Gift, error) {
	if _, ok := NormalizeCode(code); !ok {
		return nil, ErrNotFound
	}
	var g Gift
	err := s.db.WithContext(ctx).Joins("Company").Joins("SenderUser").Joins("Merchant").
		Where("gifts.code_hash = ? AND gifts.merchant_id = ?", s.codeHash(code), merchantID).Take(&g).Error
	if err != nil {
		return nil, notFound(err)
	}
	s.markScheduled(&g)
	return &g, nil
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

// Commission is the platform's share of a redemption: amount × bp / 10 000,
// rounded half up, in integer arithmetic (5 % of 12,50 € = 62,5 ct → 63 ct).
func Commission(amountCents, bp int64) int64 { return (amountCents*bp + 5_000) / 10_000 }

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
	commission := Commission(in.AmountCents, bp)
	now := s.Now()
	r := Redemption{PublicID: "rd_" + newPublicID(), GiftID: g.ID, MerchantID: merchantID, AmountCents: in.AmountCents,
		CommissionCents: commission, Currency: g.Currency, Reference: in.Reference, BasketCents: in.BasketCents,
		NewCustomer: in.NewCustomer, RequestHash: reqHash, ByUserID: in.UserID, ByAPIKeyID: in.APIKeyID, CreatedAt: now}
	if in.IdempotencyKey != "" {
		r.IdempotencyKey = &in.IdempotencyKey
	}
	after := *g // the state this redemption leaves (balance and status from the UPDATE)
	err = s.tx(ctx, func(tx *gorm.DB) error {
		// The guard: the balance moves only if it covers the amount, and the
		// new balance and status come back from the same statement.
		rows, err := rawQuery(tx, "UPDATE gifts SET balance_cents = balance_cents - ?, "+
			"status = CASE WHEN balance_cents - ? = 0 THEN ? ELSE ? END, updated_at = ? "+
			"WHERE id = ? AND merchant_id = ? AND balance_cents >= ? AND status IN (?, ?) AND expires_at > ? "+
			"RETURNING balance_cents, status",
			in.AmountCents, in.AmountCents, GiftRedeemed, GiftPartiallyRedeemed, now,
			g.ID, merchantID, in.AmountCents, GiftClaimed, GiftPartiallyRedeemed, now)
		if err != nil {
			return err
		}
		updated := rows.Next()
		if updated {
			err = rows.Scan(&after.BalanceCents, &after.Status)
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return err
		}
		if !updated {
			var cur Gift
			if err := tx.Select("status", "balance_cents", "expires_at").First(&cur, g.ID).Error; err != nil {
				return err
			}
			if cur.Status == GiftExpired || cur.Status == GiftCancelled || !cur.ExpiresAt.After(now) {
				return ErrExpired
			}
			return ErrBalanceTooLow
		}
		after.UpdatedAt = now
		if r.ID, err = insertID(tx, "INSERT INTO redemptions (public_id, gift_id, merchant_id, amount_cents, commission_cents, currency, "+
			"reference, basket_cents, new_customer, idempotency_key, request_hash, by_user_id, by_api_key_id, created_at) "+
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
			r.PublicID, r.GiftID, r.MerchantID, r.AmountCents, r.CommissionCents, r.Currency,
			r.Reference, r.BasketCents, r.NewCustomer, r.IdempotencyKey, r.RequestHash, r.ByUserID, r.ByAPIKeyID, r.CreatedAt); err != nil {
			return err
		}
		postings := []Posting{{Account: AccountVoucher(g.ID), Amount: -in.AmountCents},
			{Account: AccountMerchantPayable(merchantID), Amount: in.AmountCents - commission}}
		if commission > 0 {
			postings = append(postings, Posting{Account: AccountPlatformCommission, Amount: commission})
		}
		// The key holds the redemption's new random public id, so no earlier
		// booking can have it (the unique index still guards it).
		if _, err := s.book(tx, Booking{Kind: "voucher.redeemed", IdempotencyKey: "redemption:" + r.PublicID, NewKey: true, Currency: g.Currency,
			Memo: "redemption " + r.PublicID, Postings: postings}); err != nil {
			return err
		}
		if err := audit(tx, redeemActor(in), "voucher.redeemed", "gift", &g.ID, map[string]any{"redemption": r.PublicID, "amount_cents": in.AmountCents}); err != nil {
			return err
		}
		data := giftHookData(&after)
		data["redemption_id"], data["redeemed_cents"] = r.PublicID, in.AmountCents
		return s.emitHook(tx, g.CompanyID, HookVoucherRedeem, data)
	})
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
