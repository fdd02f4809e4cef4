package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// APIKey authenticates a company's help desk or a merchant's shop. The key is
// shown once; only its keyed hash and a display prefix are stored.
type APIKey struct {
	ID         uint      `gorm:"primaryKey"`
	CompanyID  *uint     `gorm:"index"`
	Company    *Company  `gorm:"constraint:OnDelete:CASCADE"`
	MerchantID *uint     `gorm:"index"`
	Merchant   *Merchant `gorm:"constraint:OnDelete:CASCADE"`
	Name       string    `gorm:"size:80;not null"`
	Prefix     string    `gorm:"size:16;not null"`
	Hash       string    `gorm:"size:64;not null;uniqueIndex"`
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	CreatedAt  time.Time
}

// TableName keeps the table name readable ("api_keys", not "api_keys" vs "a_p_i_keys").
func (APIKey) TableName() string { return "api_keys" }

// APIKeyPrefix starts every key so leaked keys are easy to recognise and scan for.
const APIKeyPrefix = "tp_"

// CreateAPIKey makes a key for a company or a merchant (exactly one of the
// two) and returns the key itself, which is never stored or shown again.
func (s *Store) CreateAPIKey(ctx context.Context, companyID, merchantID *uint, name string, a Actor) (string, *APIKey, error) {
	v := ValidationErrors{}
	name = checkText(v, "name", name, 1, 80)
	if (companyID == nil) == (merchantID == nil) {
		v.Add("owner", MsgInvalid)
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	secret := APIKeyPrefix + newToken(32)
	k := APIKey{CompanyID: companyID, MerchantID: merchantID, Name: name,
		Prefix: secret[:len(APIKeyPrefix)+6], Hash: s.keyedHash("apikey", secret)}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if companyID != nil {
			if err := tx.First(&Company{}, *companyID).Error; err != nil {
				return notFound(err)
			}
		} else if err := tx.First(&Merchant{}, *merchantID).Error; err != nil {
			return notFound(err)
		}
		if err := tx.Create(&k).Error; err != nil {
			return err
		}
		return audit(tx, a, "apikey.created", "api_key", &k.ID, map[string]any{"name": name, "prefix": k.Prefix})
	})
	if err != nil {
		return "", nil, err
	}
	return secret, &k, nil
}

// AuthenticateAPIKey returns the active key for a presented secret, or
// ErrNotFound. Last use is recorded at most once a minute.
func (s *Store) AuthenticateAPIKey(ctx context.Context, secret string) (*APIKey, error) {
	if !strings.HasPrefix(secret, APIKeyPrefix) || len(secret) > 100 {
		return nil, ErrNotFound
	}
	var k APIKey
	err := s.db.WithContext(ctx).Where("hash = ? AND revoked_at IS NULL", s.keyedHash("apikey", secret)).First(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		// Best effort (the key is valid either way), through the write queue.
		_ = s.tx(ctx, func(tx *gorm.DB) error {
			return tx.Model(&APIKey{}).Where("id = ?", k.ID).Update("last_used_at", now).Error
		})
	}
	return &k, nil
}
