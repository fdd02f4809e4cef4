package models

import (
	"context"

	"gorm.io/gorm"
)

// GiftCanceller says who cancels or decides: a member or an API key.
type GiftCanceller = GiftSender

// CancelGift takes back a gift that was not claimed yet: the amount returns
// to the company's credit in the same transaction. Agents may cancel only
// their own gifts; admins and API keys any of the company. After a claim it
// is ErrConflict.
func (s *Store) CancelGift(ctx context.Context, by GiftCanceller, publicID string) (*Gift, error) {
	g, err := s.GiftByPublicID(ctx, by.CompanyID, publicID)
	if err != nil {
		return nil, err
	}
	if by.APIKeyID == nil {
		if by.UserID == nil {
			return nil, ErrForbidden
		}
		role, err := s.companyRole(s.db.WithContext(ctx), by.CompanyID, *by.UserID)
		if err != nil {
			return nil, err
		}
		if role != RoleCompanyAdmin && (g.SenderUserID == nil || *g.SenderUserID != *by.UserID) {
			return nil, ErrForbidden
		}
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		return s.giveBack(tx, g, []string{GiftPendingApproval, GiftSent}, "gift.cancelled", "", by.actor(), nil)
	})
	if err != nil {
		return nil, err
	}
	return s.giftByID(ctx, g.ID)
}

// giveBack cancels a gift that is still in one of the from statuses (a
// conditional update, so it cannot race a claim or an approval) and books its
// value back to the company's credit.
func (s *Store) giveBack(tx *gorm.DB, g *Gift, from []string, kind, note string, a Actor, decidedBy *uint) error {
	now := s.Now()
	upd := map[string]any{"status": GiftCancelled, "balance_cents": 0, "cancelled_at": now, "updated_at": now}
	if decidedBy != nil {
		upd["decided_by"], upd["decided_at"], upd["decision_note"] = *decidedBy, now, note
	}
	res := tx.Model(&Gift{}).Where("id = ? AND status IN ? AND balance_cents = ?", g.ID, from, g.AmountCents).Updates(upd)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrConflict
	}
	if _, err := s.book(tx, Booking{Kind: kind, IdempotencyKey: kind + ":" + g.PublicID, Currency: g.Currency, Memo: "gift " + g.PublicID,
		Postings: Move(AccountVoucher(g.ID), AccountCompanyCredit(g.CompanyID), g.AmountCents)}); err != nil {
		return err
	}
	// A scheduled mail that has not gone out yet is withdrawn.
	if err := tx.Where("gift_id = ? AND status = ?", g.ID, MailQueued).Delete(&Mail{}).Error; err != nil {
		return err
	}
	if err := audit(tx, a, kind, "gift", &g.ID, map[string]any{"public_id": g.PublicID, "amount_cents": g.AmountCents}); err != nil {
		return err
	}
	cancelled := *g
	cancelled.Status, cancelled.BalanceCents = GiftCancelled, 0
	return s.emitHook(tx, g.CompanyID, HookGiftCancelled, giftHookData(&cancelled))
}

// giftToDecide checks an admin's decision on a waiting gift: the user
// administers the company and the note is valid. It returns the gift and
// the cleaned note.
func (s *Store) giftToDecide(ctx context.Context, companyID, adminID uint, publicID, note string) (*Gift, string, error) {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return nil, "", err
	}
	v := ValidationErrors{}
	note = checkText(v, "note", note, 0, 1000)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	g, err := s.GiftByPublicID(ctx, companyID, publicID)
	return g, note, err
}

// ApproveGift lets a company admin send a gift that waited for approval
// (its amount was reserved when it was created); the mail is queued now.
func (s *Store) ApproveGift(ctx context.Context, companyID, adminID uint, publicID, note string) (*Gift, error) {
	g, note, err := s.giftToDecide(ctx, companyID, adminID, publicID, note)
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		now := s.Now()
		res := tx.Model(&Gift{}).Where("id = ? AND status = ?", g.ID, GiftPendingApproval).
			Updates(map[string]any{"status": GiftSent, "sent_at": now, "decided_by": adminID, "decided_at": now, "decision_note": note, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		if err := audit(tx, UserActor(adminID), "gift.approved", "gift", &g.ID, map[string]any{"public_id": g.PublicID}); err != nil {
			return err
		}
		sent := *g
		sent.Status = GiftSent
		if err := s.emitHook(tx, g.CompanyID, HookGiftSent, giftHookData(&sent)); err != nil {
			return err
		}
		if err := s.queueGiftMail(tx, g); err != nil {
			return err
		}
		return s.queueDecisionMail(tx, g, adminID, true, note)
	})
	if err != nil {
		return nil, err
	}
	return s.giftByID(ctx, g.ID)
}

// queueDecisionMail tells the agent who sent g about the admin's decision,
// in the same transaction as the decision. Nothing is sent when the gift
// came through the API, when the admin decided on their own gift, or
// without a composer.
func (s *Store) queueDecisionMail(tx *gorm.DB, g *Gift, adminID uint, approved bool, note string) error {
	if s.mails == nil || g.SenderUserID == nil || *g.SenderUserID == adminID {
		return nil
	}
	var agent User
	if err := tx.First(&agent, *g.SenderUserID).Error; err != nil {
		return notFound(err)
	}
	decided := *g
	decided.DecisionNote = note
	m, err := s.mails.GiftDecision(&decided, &agent, approved)
	if err != nil {
		return err
	}
	m.To = agent.Email
	return s.enqueueMail(tx, m)
}

// DeclineGift lets a company admin turn down a waiting gift with a note for
// the agent; the reserved amount returns to the credit.
func (s *Store) DeclineGift(ctx context.Context, companyID, adminID uint, publicID, note string) (*Gift, error) {
	g, note, err := s.giftToDecide(ctx, companyID, adminID, publicID, note)
	if err != nil {
		return nil, err
	}
	if g.Status != GiftPendingApproval {
		return nil, ErrConflict
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.giveBack(tx, g, []string{GiftPendingApproval}, "gift.declined", note, UserActor(adminID), &adminID); err != nil {
			return err
		}
		return s.queueDecisionMail(tx, g, adminID, false, note)
	})
	if err != nil {
		return nil, err
	}
	return s.giftByID(ctx, g.ID)
}
