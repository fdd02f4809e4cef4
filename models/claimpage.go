package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

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
