package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// MerchantInvite invites a person by e-mail to join a merchant as staff.
// Only the keyed hash of the link's token is stored.
type MerchantInvite struct {
	ID          uint     `gorm:"primaryKey"`
	MerchantID  uint     `gorm:"not null;index"`
	Merchant    Merchant `gorm:"constraint:OnDelete:CASCADE"`
	Email       string   `gorm:"size:254;not null;index"`
	TokenHash   string   `gorm:"size:64;not null;uniqueIndex"`
	InvitedByID uint     `gorm:"not null"`
	ExpiresAt   time.Time
	AcceptedAt  *time.Time
	CreatedAt   time.Time
}

// StaffList is the team page of a merchant: members and open invitations.
type StaffList struct {
	Members []Membership // with User loaded
	Invites []MerchantInvite
}

// MerchantStaff lists a merchant's members and its open invitations.
func (s *Store) MerchantStaff(ctx context.Context, merchantID uint) (*StaffList, error) {
	var out StaffList
	db := s.db.WithContext(ctx)
	if err := db.Preload("User").Where("merchant_id = ?", merchantID).Order("role DESC, id").Find(&out.Members).Error; err != nil {
		return nil, err
	}
	err := db.Where("merchant_id = ? AND accepted_at IS NULL AND expires_at > ?", merchantID, s.Now()).Order("id").Find(&out.Invites).Error
	return &out, err
}

// InviteStaff invites email to join the merchant as staff and queues the
// mail in the same transaction, in lang (the inviter's page language). An
// earlier open invitation for the same address is replaced (its link stops
// working).
func (s *Store) InviteStaff(ctx context.Context, merchantID, inviterID uint, email, lang string) error {
	v := ValidationErrors{}
	email = checkEmail(v, "email", email)
	if err := v.Err(); err != nil {
		return err
	}
	token := newToken(32)
	return s.tx(ctx, func(tx *gorm.DB) error {
		var m Merchant
		if err := tx.First(&m, merchantID).Error; err != nil {
			return notFound(err)
		}
		var inviter User
		if err := tx.First(&inviter, inviterID).Error; err != nil {
			return notFound(err)
		}
		var n int64
		if err := tx.Model(&Membership{}).Joins("JOIN users ON users.id = memberships.user_id").
			Where("memberships.merchant_id = ? AND users.email = ?", merchantID, email).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ValidationErrors{"email": MsgAlreadyMember}
		}
		if err := tx.Where("merchant_id = ? AND email = ? AND accepted_at IS NULL", merchantID, email).Delete(&MerchantInvite{}).Error; err != nil {
			return err
		}
		inv := MerchantInvite{MerchantID: merchantID, Email: email, TokenHash: s.keyedHash("invite", token),
			InvitedByID: inviterID, ExpiresAt: s.Now().Add(InviteTTL)}
		if err := tx.Omit("Merchant").Create(&inv).Error; err != nil {
			return err
		}
		if err := audit(tx, UserActor(inviterID), "merchant.staff.invited", "merchant", &m.ID, map[string]any{"email": email}); err != nil {
			return err
		}
		if s.mails == nil {
			return nil
		}
		ml, err := s.mails.StaffInvite(&inv, &m, &inviter, token, lang)
		if err != nil {
			return err
		}
		return s.enqueueMail(tx, ml)
	})
}

// InviteByToken returns the open invitation of a link token with its
// merchant: ErrNotFound for unknown tokens, ErrExpired for used or expired
// ones.
func (s *Store) InviteByToken(ctx context.Context, token string) (*MerchantInvite, error) {
	return s.findInvite(s.db.WithContext(ctx), token)
}

func (s *Store) findInvite(tx *gorm.DB, token string) (*MerchantInvite, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	var inv MerchantInvite
	if err := tx.Preload("Merchant").Where("token_hash = ?", s.keyedHash("invite", token)).First(&inv).Error; err != nil {
		return nil, notFound(err)
	}
	if inv.AcceptedAt != nil || !s.Now().Before(inv.ExpiresAt) {
		return nil, ErrExpired
	}
	return &inv, nil
}

// useInvite marks the invitation used (conditionally, so a link works once)
// and adds the staff membership.
func (s *Store) useInvite(tx *gorm.DB, inv *MerchantInvite, userID uint) error {
	now := s.Now()
	res := tx.Model(&MerchantInvite{}).Where("id = ? AND accepted_at IS NULL", inv.ID).Update("accepted_at", now)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrExpired
	}
	var n int64
	if err := tx.Model(&Membership{}).Where("user_id = ? AND merchant_id = ?", userID, inv.MerchantID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		mid := inv.MerchantID
		if err := tx.Create(&Membership{UserID: userID, MerchantID: &mid, Role: RoleMerchantStaff}).Error; err != nil {
			return err
		}
	}
	return audit(tx, UserActor(userID), "merchant.staff.joined", "merchant", &inv.MerchantID, map[string]any{"email": inv.Email})
}

// AcceptInvite lets a logged-in user accept an invitation sent to their own
// address; another address is ErrForbidden.
func (s *Store) AcceptInvite(ctx context.Context, token string, user *User) (*MerchantInvite, error) {
	var inv *MerchantInvite
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if inv, err = s.findInvite(tx, token); err != nil {
			return err
		}
		if NormalizeEmail(user.Email) != inv.Email {
			return ErrForbidden
		}
		return s.useInvite(tx, inv, user.ID)
	})
	return inv, err
}

// NewStaffAccount is what an invitee without an account types.
type NewStaffAccount struct {
	Name, Password, Confirm, Locale string
}

// AcceptInviteNewUser creates the invitee's account (with the invited
// address) and the staff membership in one transaction. If the address
// has an account already, that is ErrConflict (the person logs in first).
func (s *Store) AcceptInviteNewUser(ctx context.Context, token string, in NewStaffAccount) (*User, error) {
	v := ValidationErrors{}
	in.Name = checkText(v, "name", in.Name, 2, 120)
	checkPassword(v, "password", in.Password)
	if in.Password != in.Confirm {
		v.Add("confirm", MsgMismatch)
	}
	if in.Locale != "en" {
		in.Locale = "de"
	}
	if _, err := s.InviteByToken(ctx, token); err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	var u User
	err = s.tx(ctx, func(tx *gorm.DB) error {
		inv, err := s.findInvite(tx, token)
		if err != nil {
			return err
		}
		u = User{Email: inv.Email, Name: in.Name, PasswordHash: hash, Locale: in.Locale, PasswordChangedAt: s.Now()}
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		return s.useInvite(tx, inv, u.ID)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, ErrConflict
	}
	return &u, err
}

// RemoveStaff ends a staff member's membership of the merchant. Owners
// cannot be removed this way; members of other merchants are ErrNotFound.
func (s *Store) RemoveStaff(ctx context.Context, merchantID, userID uint, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("merchant_id = ? AND user_id = ? AND role = ?", merchantID, userID, RoleMerchantStaff).Delete(&Membership{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return audit(tx, a, "merchant.staff.removed", "merchant", &merchantID, map[string]any{"user_id": userID})
	})
}

// RevokeInvite withdraws an open invitation of the merchant.
func (s *Store) RevokeInvite(ctx context.Context, merchantID, inviteID uint, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND merchant_id = ? AND accepted_at IS NULL", inviteID, merchantID).Delete(&MerchantInvite{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return audit(tx, a, "merchant.staff.invite_revoked", "merchant", &merchantID, map[string]any{"invite_id": inviteID})
	})
}

// MerchantMembership returns the user's membership of a merchant with the
// merchant loaded fresh: by slug when given, else the user's first
// merchant. Users without one get ErrNotFound.
func (s *Store) MerchantMembership(ctx context.Context, userID uint, slug string) (*Membership, error) {
	db := s.db.WithContext(ctx).Preload("Merchant").Preload("Merchant.Region").
		Where("memberships.user_id = ? AND memberships.merchant_id IS NOT NULL", userID)
	if slug != "" {
		db = db.Joins("JOIN merchants ON merchants.id = memberships.merchant_id").Where("merchants.slug = ?", slug)
	}
	var ms Membership
	if err := db.Order("memberships.id").First(&ms).Error; err != nil {
		return nil, notFound(err)
	}
	return &ms, nil
}
