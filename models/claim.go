package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// GiftByClaimToken finds a gift by its claim link (any company). Gifts still
// waiting for approval or cancelled are not claimable and look unknown.
func (s *Store) GiftByClaimToken(ctx context.Context, token string) (*Gift, error) {
	if len(token) < 20 || len(token) > 64 {
		return nil, ErrNotFound
	}
	g, err := s.loadGift(s.db.WithContext(ctx).Where("gifts.claim_hash = ?", s.claimHash(token)))
	if err != nil {
		return nil, err
	}
	return s.claimable(g)
}

// ClaimPageGift is GiftByClaimToken for the claim page, the busiest page:
// one query for the gift with its company and partner; the offered
// partners (two more queries) only while the gift is not claimed yet (no
// code), as the claimed voucher does not show them. A gift for one named
// partner has its merchant from the start and is still unclaimed: its one
// offer is what the page asks the recipient to take. SenderUser is not
// loaded.
func (s *Store) ClaimPageGift(ctx context.Context, token string) (*Gift, error) {
	if len(token) < 20 || len(token) > 64 {
		return nil, ErrNotFound
	}
	var g Gift
	err := s.db.WithContext(ctx).Joins("Company").Joins("Merchant").
		Where("gifts.claim_hash = ?", s.claimHash(token)).Take(&g).Error
	if err != nil {
		return nil, notFound(err)
	}
	if g.CodeHash == nil {
		err := s.db.WithContext(ctx).Where("gift_id = ?", g.ID).Order("position").Preload("Merchant").Find(&g.Offers).Error
		if err != nil {
			return nil, err
		}
	}
	s.markScheduled(&g)
	return s.claimable(&g)
}

func (s *Store) claimable(g *Gift) (*Gift, error) {
	if g.Status == GiftPendingApproval || g.Status == GiftCancelled {
		return nil, ErrNotFound
	}
	if g.SendAt != nil && g.SendAt.After(s.Now()) {
		return nil, ErrNotFound // scheduled: the link works from SendAt on
	}
	return g, nil
}

// ClaimPageVersion is what a rendered claimed-voucher page depends on, read
// by ClaimPageVersionOf in one indexed statement without GORM. Two versions
// are equal (==) only if the page they describe would come out the same:
// the gift's own shown state is compared directly (status, balance,
// feedback, expiry, chosen partner; amount, currency and code never change
// once claimed), and everything else on the page — the partner's profile
// (name, address, opening hours, how to redeem, logo, review status) and
// the company's name — through the updated_at of its row, which every
// write of those rows sets (saveStep, the status moves, capacity, Stripe
// state; claim, redemption, reversal, expiry and feedback for the gift).
type ClaimPageVersion struct {
	GiftID uint
	// voucher: a partner is chosen, the code exists, and the gift is
	// neither waiting for approval nor cancelled.
	voucher bool
	sendAt  int64 // Unix nanoseconds; 0: delivered at once
	// state is the compared columns as one text, so the look-up scans four
	// columns instead of eleven (each column is a cgo call or more on
	// SQLite) and parses no times. (The short column aliases spare the
	// driver copying the expressions' text as column names per query.)
	state string
}

// Voucher reports whether the claim link shows the claimed voucher at now;
// otherwise it shows the partner choice or answers like an unknown link
// (waiting for approval, cancelled, scheduled for later: ClaimPageGift).
func (v ClaimPageVersion) Voucher(now time.Time) bool {
	return v.voucher && (v.sendAt == 0 || v.sendAt <= now.UnixNano())
}

const claimPageVersionSQL = "SELECT g.id, " +
	"CASE WHEN g.merchant_id IS NOT NULL AND g.code_hash IS NOT NULL AND g.status <> '" + GiftPendingApproval + "' AND g.status <> '" + GiftCancelled + "' THEN 1 ELSE 0 END AS v, " +
	"g.send_at, " +
	"g.status || '|' || CAST(g.balance_cents AS TEXT) || '|' || g.feedback || '|' || CAST(g.expires_at AS TEXT) || '|' || " +
	"CAST(g.updated_at AS TEXT) || '|' || COALESCE(CAST(g.merchant_id AS TEXT), '') || '|' || " +
	"COALESCE(CAST(m.updated_at AS TEXT), '') || '|' || CAST(c.updated_at AS TEXT) AS s " +
	"FROM gifts g JOIN companies c ON c.id = g.company_id LEFT JOIN merchants m ON m.id = g.merchant_id " +
	"WHERE g.claim_hash = ?"

// ClaimPageVersionOf reads the version of the gift behind a claim link
// (ErrNotFound for unknown links). It is the claim page's check whether a
// rendered copy is still right, so it is one prepared statement on the
// unique claim_hash index, scanned into plain values.
func (s *Store) ClaimPageVersionOf(ctx context.Context, token string) (ClaimPageVersion, error) {
	var v ClaimPageVersion
	if len(token) < 20 || len(token) > 64 {
		return v, ErrNotFound
	}
	st, err := s.claimVersion.get(ctx, s)
	if err != nil {
		return v, err
	}
	var sendAt sql.NullTime
	err = st.QueryRowContext(ctx, s.claimHash(token)).Scan(&v.GiftID, &v.voucher, &sendAt, &v.state)
	if errors.Is(err, sql.ErrNoRows) {
		return ClaimPageVersion{}, ErrNotFound
	}
	if err != nil {
		return ClaimPageVersion{}, fmt.Errorf("claim page version: %w", err)
	}
	if sendAt.Valid {
		v.sendAt = sendAt.Time.UnixNano()
	}
	return v, nil
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
