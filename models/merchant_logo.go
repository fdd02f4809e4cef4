package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// MerchantLogo is a merchant's logo, stored in the database (so several
// app instances serve the same file) already scaled to LogoMaxSide and
// re-encoded as PNG, never as uploaded.
type MerchantLogo struct {
	MerchantID  uint     `gorm:"primaryKey;autoIncrement:false"`
	Merchant    Merchant `gorm:"constraint:OnDelete:CASCADE"`
	ContentType string   `gorm:"size:40;not null"`
	Data        []byte   `gorm:"not null"`
	Width       int      `gorm:"not null"`
	Height      int      `gorm:"not null"`
	Hash        string   `gorm:"size:64;not null"`
	UpdatedAt   time.Time
}

// HasLogo reports whether a logo was uploaded.
func (o MerchantOnboarding) HasLogo() bool { return o.LogoHash != "" }

// LogoImage is a logo already checked, scaled and encoded by the caller
// (handlers decode images; models only stores them).
type LogoImage struct {
	ContentType   string
	Data          []byte
	Width, Height int
	Hash          string
}

// SetMerchantLogo stores (or replaces) the merchant's logo.
func (s *Store) SetMerchantLogo(ctx context.Context, merchantID uint, img LogoImage, a Actor) error {
	if len(img.Data) == 0 || img.Hash == "" || img.ContentType == "" {
		return ValidationErrors{"logo": MsgRequired}
	}
	return s.saveStep(ctx, merchantID, a, "logo", []string{"logo_hash"}, func(tx *gorm.DB, m *Merchant) error {
		l := MerchantLogo{MerchantID: m.ID, ContentType: img.ContentType, Data: img.Data, Width: img.Width, Height: img.Height, Hash: img.Hash}
		if err := tx.Where("merchant_id = ?", m.ID).Delete(&MerchantLogo{}).Error; err != nil {
			return err
		}
		if err := tx.Omit("Merchant").Create(&l).Error; err != nil {
			return err
		}
		m.LogoHash = img.Hash
		return nil
	})
}

// DeleteMerchantLogo removes the logo.
func (s *Store) DeleteMerchantLogo(ctx context.Context, merchantID uint, a Actor) error {
	return s.saveStep(ctx, merchantID, a, "logo_removed", []string{"logo_hash"}, func(tx *gorm.DB, m *Merchant) error {
		m.LogoHash = ""
		return tx.Where("merchant_id = ?", m.ID).Delete(&MerchantLogo{}).Error
	})
}

// MerchantLogoByID returns a merchant's stored logo, or ErrNotFound.
func (s *Store) MerchantLogoByID(ctx context.Context, merchantID uint) (*MerchantLogo, error) {
	var l MerchantLogo
	err := s.db.WithContext(ctx).Where("merchant_id = ?", merchantID).First(&l).Error
	return &l, notFound(err)
}
