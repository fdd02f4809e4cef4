package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// Session and reset lifetimes.
const (
	SessionTTL       = 14 * 24 * time.Hour
	PasswordResetTTL = time.Hour
)

// Session is a logged-in browser. Only the SHA-256 of the cookie value is
// stored, so a database copy cannot be used to hijack sessions.
type Session struct {
	ID         uint      `gorm:"primaryKey"`
	TokenHash  string    `gorm:"size:64;not null;uniqueIndex"`
	UserID     uint      `gorm:"not null;index"`
	User       User      `gorm:"constraint:OnDelete:CASCADE"`
	IP         string    `gorm:"size:64;not null;default:''"`
	UserAgent  string    `gorm:"size:200;not null;default:''"`
	ExpiresAt  time.Time `gorm:"not null;index"`
	LastSeenAt time.Time
	CreatedAt  time.Time
}

// PasswordReset is a single-use, short-lived reset link (hash stored only).
type PasswordReset struct {
	ID        uint      `gorm:"primaryKey"`
	TokenHash string    `gorm:"size:64;not null;uniqueIndex"`
	UserID    uint      `gorm:"not null;index"`
	User      User      `gorm:"constraint:OnDelete:CASCADE"`
	ExpiresAt time.Time `gorm:"not null"`
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (s *Store) hashPassword(pw string) (string, error) {
	if len(pw) > PasswordMaxBytes {
		return "", ValidationErrors{"password": MsgPasswordLong}
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), s.bcryptCost)
	return string(h), err
}

// Authenticate checks an e-mail and password. Any mismatch is
// ErrInvalidCredentials; which part was wrong is not revealed.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	email = NormalizeEmail(email)
	if email == "" || password == "" || len(password) > PasswordMaxBytes || len(email) > 254 {
		return nil, ErrInvalidCredentials
	}
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", email).First(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return nil, ErrInvalidCredentials
	}
	return &u, nil
}

// CreateSession starts a new session for a user and returns the cookie value
// (a fresh random token each log-in; only its keyed hash is stored).
func (s *Store) CreateSession(ctx context.Context, userID uint, ip, userAgent string) (string, error) {
	token := newToken(32)
	if len(userAgent) > 200 {
		userAgent = userAgent[:200]
	}
	if len(ip) > 64 {
		ip = ip[:64]
	}
	now := s.Now()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Create(&Session{
			TokenHash: s.keyedHash("session", token), UserID: userID, IP: ip,
			UserAgent: strings.ToValidUTF8(userAgent, ""), ExpiresAt: now.Add(SessionTTL), LastSeenAt: now,
		}).Error
	})
	return token, err
}

// SessionUser returns the user behind a session cookie, or ErrNotFound when the
// session is unknown or expired.
func (s *Store) SessionUser(ctx context.Context, token string) (*User, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	var sess Session
	err := s.db.WithContext(ctx).Preload("User").
		Where("token_hash = ? AND expires_at > ?", s.keyedHash("session", token), s.Now()).
		First(&sess).Error
	if err != nil {
		return nil, notFound(err)
	}
	// Touch at most every few minutes to keep writes off the hot path.
	if s.Now().Sub(sess.LastSeenAt) > 5*time.Minute {
		s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", sess.ID).
			Updates(map[string]any{"last_seen_at": s.Now(), "expires_at": s.Now().Add(SessionTTL)})
	}
	return &sess.User, nil
}

// DeleteSession ends one session (log-out).
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Where("token_hash = ?", s.keyedHash("session", token)).Delete(&Session{}).Error
	})
}

// PasswordChange is the input of ChangePassword.
type PasswordChange struct {
	Current, New, Confirm string
}

// ChangePassword replaces a user's password after checking the current one,
// ends every session of the user (the caller starts a new one) and voids
// the user's outstanding reset links.
func (s *Store) ChangePassword(ctx context.Context, userID uint, in PasswordChange) error {
	var u User
	if err := s.db.WithContext(ctx).First(&u, userID).Error; err != nil {
		return notFound(err)
	}
	v := ValidationErrors{}
	if len(in.Current) > PasswordMaxBytes || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(in.Current)) != nil {
		v.Add("current", MsgInvalid)
	}
	checkPassword(v, "new", in.New)
	if in.New != in.Confirm {
		v.Add("confirm", MsgMismatch)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.setPassword(ctx, userID, in.New, UserActor(userID))
}

func (s *Store) setPassword(ctx context.Context, userID uint, pw string, a Actor) error {
	h, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&User{}).Where("id = ?", userID).
			Updates(map[string]any{"password_hash": h, "password_changed_at": s.Now()}).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", userID).Delete(&Session{}).Error; err != nil {
			return err
		}
		if err := s.voidResets(tx, userID); err != nil {
			return err
		}
		return audit(tx, a, "user.password_changed", "user", &userID, nil)
	})
}

// voidResets marks every unused reset link of the user used: once the
// password has changed (by a reset or on the account page), an older reset
// mail must not open the account again.
func (s *Store) voidResets(tx *gorm.DB, userID uint) error {
	return tx.Model(&PasswordReset{}).Where("user_id = ? AND used_at IS NULL", userID).Update("used_at", s.Now()).Error
}

// RequestPasswordReset creates a reset token and queues its mail when the
// address belongs to a user. For unknown addresses it does nothing and
// returns nil, so the answer does not reveal who has an account. The token
// and its mail are written in one transaction, together or not at all.
func (s *Store) RequestPasswordReset(ctx context.Context, email string) error {
	email = NormalizeEmail(email)
	v := ValidationErrors{}
	checkEmail(v, "email", email)
	if err := v.Err(); err != nil {
		return err
	}
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", email).First(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	token := newToken(32)
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&PasswordReset{TokenHash: s.keyedHash("reset", token), UserID: u.ID,
			ExpiresAt: s.Now().Add(PasswordResetTTL)}).Error; err != nil {
			return err
		}
		if s.mails == nil {
			return nil
		}
		m, err := s.mails.PasswordReset(&u, token)
		if err != nil {
			return err
		}
		return s.enqueueMail(tx, m)
	})
}

// CheckPasswordReset reports whether a reset token is valid (unused, not
// expired), without using it.
func (s *Store) CheckPasswordReset(ctx context.Context, token string) error {
	_, err := s.findReset(s.db.WithContext(ctx), token)
	return err
}

func (s *Store) findReset(tx *gorm.DB, token string) (*PasswordReset, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	var r PasswordReset
	err := tx.Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", s.keyedHash("reset", token), s.Now()).First(&r).Error
	return &r, notFound(err)
}

// ResetPassword sets a new password with a reset token; the token and every
// other outstanding reset link of the user are used up and every session of
// the user ends.
func (s *Store) ResetPassword(ctx context.Context, token, pw, confirm string) (*User, error) {
	v := ValidationErrors{}
	checkPassword(v, "password", pw)
	if pw != confirm {
		v.Add("confirm", MsgMismatch)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	h, err := s.hashPassword(pw)
	if err != nil {
		return nil, err
	}
	var u User
	err = s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.findReset(tx, token)
		if err != nil {
			return err
		}
		res := tx.Model(&PasswordReset{}).Where("id = ? AND used_at IS NULL", r.ID).Update("used_at", s.Now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		if err := tx.Model(&User{}).Where("id = ?", r.UserID).
			Updates(map[string]any{"password_hash": h, "password_changed_at": s.Now()}).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", r.UserID).Delete(&Session{}).Error; err != nil {
			return err
		}
		if err := s.voidResets(tx, r.UserID); err != nil {
			return err
		}
		if err := audit(tx, UserActor(r.UserID), "user.password_reset", "user", &r.UserID, nil); err != nil {
			return err
		}
		return tx.First(&u, r.UserID).Error
	})
	return &u, err
}
