package models

import (
	"context"

	"gorm.io/gorm"
)

// ReviewQueue lists merchants with the given status for the platform admin
// (pending first-come first-served; other statuses newest first).
func (s *Store) ReviewQueue(ctx context.Context, status string) ([]Merchant, error) {
	switch status {
	case MerchantDraft, MerchantPending, MerchantApproved, MerchantRejected, MerchantSuspended:
	default:
		return nil, ValidationErrors{"status": MsgInvalid}
	}
	order := "updated_at DESC, id DESC"
	if status == MerchantPending {
		order = "submitted_at, id"
	}
	var ms []Merchant
	err := s.db.WithContext(ctx).Where("status = ?", status).Order(order).Limit(500).Find(&ms).Error
	return ms, err
}

type reviewMove struct {
	action   string   // audit action and mail kind
	from     []string // statuses the move starts from
	to       string
	complete bool // needs a complete profile
	reason   bool // needs a reason
}

var (
	moveApprove    = reviewMove{action: "approved", from: []string{MerchantPending}, to: MerchantApproved, complete: true}
	moveReject     = reviewMove{action: "rejected", from: []string{MerchantPending}, to: MerchantRejected, reason: true}
	moveSuspend    = reviewMove{action: "suspended", from: []string{MerchantApproved}, to: MerchantSuspended, reason: true}
	moveReactivate = reviewMove{action: "reactivated", from: []string{MerchantSuspended}, to: MerchantApproved, complete: true}
)

// ApproveMerchant lists a pending merchant in the catalog. The profile must
// be complete (ValidationErrors otherwise).
func (s *Store) ApproveMerchant(ctx context.Context, merchantID, adminID uint) error {
	return s.review(ctx, merchantID, adminID, moveApprove, "")
}

// RejectMerchant sends a pending merchant back with a reason, which is
// mailed to its owners.
func (s *Store) RejectMerchant(ctx context.Context, merchantID, adminID uint, reason string) error {
	return s.review(ctx, merchantID, adminID, moveReject, reason)
}

// SuspendMerchant takes an approved merchant out of the catalog; vouchers
// already issued stay valid.
func (s *Store) SuspendMerchant(ctx context.Context, merchantID, adminID uint, reason string) error {
	return s.review(ctx, merchantID, adminID, moveSuspend, reason)
}

// ReactivateMerchant lists a suspended merchant again.
func (s *Store) ReactivateMerchant(ctx context.Context, merchantID, adminID uint) error {
	return s.review(ctx, merchantID, adminID, moveReactivate, "")
}

// review applies one admin decision: a conditional status update (so two
// admins deciding at once cannot both win), the audit entry and the owners'
// mails, all in one transaction. A merchant in another status is ErrConflict.
func (s *Store) review(ctx context.Context, merchantID, adminID uint, mv reviewMove, reason string) error {
	v := ValidationErrors{}
	if mv.reason {
		reason = checkText(v, "reason", reason, 3, 1000)
	} else {
		reason = ""
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var admin User
		if err := tx.First(&admin, adminID).Error; err != nil {
			return notFound(err)
		}
		if !admin.IsPlatformAdmin {
			return ErrForbidden
		}
		var m Merchant
		if err := tx.First(&m, merchantID).Error; err != nil {
			return notFound(err)
		}
		ok := false
		for _, f := range mv.from {
			ok = ok || m.Status == f
		}
		if !ok {
			return ErrConflict
		}
		if mv.complete {
			if err := m.ProfileMissing().Err(); err != nil {
				return err
			}
		}
		now := s.Now()
		upd := map[string]any{"status": mv.to, "reviewed_at": now, "updated_at": now}
		if mv.reason || mv.to == MerchantApproved {
			upd["review_note"] = reason
		}
		res := tx.Model(&Merchant{}).Where("id = ? AND status = ?", m.ID, m.Status).UpdateColumns(upd)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		detail := map[string]any{"from": m.Status, "to": mv.to}
		m.Status = mv.to
		if reason != "" {
			detail["reason"] = reason
		}
		if err := audit(tx, UserActor(adminID), "merchant."+mv.action, "merchant", &m.ID, detail); err != nil {
			return err
		}
		if s.mails == nil {
			return nil
		}
		owners, err := merchantOwners(tx, m.ID)
		if err != nil {
			return err
		}
		for i := range owners {
			ml, err := s.mails.MerchantDecision(mv.action, &owners[i], &m, reason)
			if err != nil {
				return err
			}
			if err := s.enqueueMail(tx, ml); err != nil {
				return err
			}
		}
		return nil
	})
}
