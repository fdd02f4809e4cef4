package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Lifecycle defaults.
const (
	ExpiryReminderBefore = 30 * 24 * time.Hour
	DefaultRetentionDays = 90
)

// GiftLifecycle holds the timestamps of the jobs that act on a gift after
// it was sent (embedded in Gift).
type GiftLifecycle struct {
	ExpiredAt       *time.Time
	ReminderSentAt  *time.Time
	PseudonymisedAt *time.Time
}

// LifecycleResult counts what one RunLifecycle pass did.
type LifecycleResult struct {
	Expired, Reminded, Pseudonymised int
	MailsErased                      int // sent or failed mails deleted after the retention period
}

// RunLifecycle is the periodic job over gifts, safe to run on several
// instances at once (every step is a conditional update):
//   - expiry: a gift past its expiry date returns its remaining balance to
//     the company's credit (ledger voucher → company credit, idempotent) and
//     reports gift.expired to the company's webhooks;
//   - reminders: one mail ExpiryReminderBefore the expiry date to recipients
//     who still have a balance;
//   - retention: retentionDays after a gift was used up, expired or
//     cancelled, the recipient's name and e-mail address are erased (the
//     keyed hash stays, so "already received a gesture" still works); sent
//     and given-up mails that were due longer ago than that are deleted
//     with their recipient address (and a body the dev mailbox kept).
func (s *Store) RunLifecycle(ctx context.Context, retentionDays int) (LifecycleResult, error) {
	var r LifecycleResult
	now := s.Now()
	db := s.db.WithContext(ctx)

	var due []Gift
	if err := db.Where("expires_at <= ? AND status IN ?", now,
		[]string{GiftPendingApproval, GiftSent, GiftClaimed, GiftPartiallyRedeemed}).Limit(500).Find(&due).Error; err != nil {
		return r, err
	}
	for i := range due {
		g := &due[i]
		err := s.tx(ctx, func(tx *gorm.DB) error {
			res := tx.Model(&Gift{}).Where("id = ? AND status = ? AND balance_cents = ?", g.ID, g.Status, g.BalanceCents).
				Updates(map[string]any{"status": GiftExpired, "balance_cents": 0, "expired_at": now, "updated_at": now})
			if res.Error != nil || res.RowsAffected != 1 {
				return res.Error // someone else got there first: nothing to do
			}
			if g.BalanceCents > 0 {
				if _, err := s.book(tx, Booking{Kind: "gift.expired", IdempotencyKey: "gift.expired:" + g.PublicID, Currency: g.Currency,
					Memo: "gift " + g.PublicID, Postings: Move(AccountVoucher(g.ID), AccountCompanyCredit(g.CompanyID), g.BalanceCents)}); err != nil {
					return err
				}
			}
			if err := audit(tx, ActorSystem, "gift.expired", "gift", &g.ID, map[string]any{"public_id": g.PublicID, "returned_cents": g.BalanceCents}); err != nil {
				return err
			}
			expired := *g
			expired.Status, expired.BalanceCents = GiftExpired, 0
			r.Expired++
			return s.emitHook(tx, g.CompanyID, HookGiftExpired, giftHookData(&expired))
		})
		if err != nil {
			return r, err
		}
	}

	if s.mails != nil {
		var soon []Gift
		if err := db.Where("expires_at > ? AND expires_at <= ? AND reminder_sent_at IS NULL AND balance_cents > 0 AND recipient_email <> '' AND status IN ?",
			now, now.Add(ExpiryReminderBefore), []string{GiftSent, GiftClaimed, GiftPartiallyRedeemed}).Limit(500).Find(&soon).Error; err != nil {
			return r, err
		}
		for i := range soon {
			g := &soon[i]
			err := s.tx(ctx, func(tx *gorm.DB) error {
				res := tx.Model(&Gift{}).Where("id = ? AND reminder_sent_at IS NULL", g.ID).Update("reminder_sent_at", now)
				if res.Error != nil || res.RowsAffected != 1 {
					return res.Error
				}
				var full Gift
				if err := tx.Preload("Company").Preload("Merchant").
					Preload("Offers", func(db *gorm.DB) *gorm.DB { return db.Order("position") }).Preload("Offers.Merchant").
					First(&full, g.ID).Error; err != nil {
					return err
				}
				m, err := s.mails.ExpiryReminder(&full, s.GiftClaimToken(&full))
				if err != nil {
					return err
				}
				m.To = full.RecipientEmail
				r.Reminded++
				return s.enqueueMail(tx, m)
			})
			if err != nil {
				return r, err
			}
		}
	}

	if retentionDays > 0 {
		cutoff := now.Add(-time.Duration(retentionDays) * 24 * time.Hour)
		res := db.Model(&Gift{}).
			Where("recipient_email <> '' AND ((status = ? AND cancelled_at <= ?) OR (status = ? AND expired_at <= ?) OR (status = ? AND updated_at <= ?))",
				GiftCancelled, cutoff, GiftExpired, cutoff, GiftRedeemed, cutoff).
			Updates(map[string]any{"recipient_email": "", "recipient_name": "", "pseudonymised_at": now})
		if res.Error != nil {
			return r, res.Error
		}
		r.Pseudonymised = int(res.RowsAffected)
		// next_attempt is when a mail was last due (≈ sent or given up); the
		// (status, next_attempt, id) index serves this.
		res = db.Where("status IN ? AND next_attempt <= ?", []string{MailSent, MailFailed}, cutoff).Delete(&Mail{})
		if res.Error != nil {
			return r, res.Error
		}
		r.MailsErased = int(res.RowsAffected)
	}
	return r, nil
}
