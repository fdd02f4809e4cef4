package models

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Merchant statuses. Only approved merchants are listed and can be chosen.
const (
	MerchantDraft     = "draft"
	MerchantPending   = "pending"
	MerchantApproved  = "approved"
	MerchantRejected  = "rejected"
	MerchantSuspended = "suspended"
)

// Region is one marketplace (a city region with its own partners and
// commission).
type Region struct {
	ID           uint   `gorm:"primaryKey"`
	Slug         string `gorm:"size:64;not null;uniqueIndex"`
	Name         string `gorm:"size:120;not null"`
	Currency     string `gorm:"size:3;not null;default:EUR"`
	CommissionBP int64  `gorm:"not null;default:500"` // basis points: 500 = 5 %
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Merchant is a partner business whose vouchers companies gift.
type Merchant struct {
	ID           uint   `gorm:"primaryKey"`
	RegionID     uint   `gorm:"not null;index"`
	Region       Region `gorm:"constraint:OnDelete:RESTRICT"`
	Slug         string `gorm:"size:80;not null;uniqueIndex"`
	Name         string `gorm:"size:120;not null"`
	Category     string `gorm:"size:40;not null;index"`
	Description  string `gorm:"size:2000;not null;default:''"`
	Address      string `gorm:"size:200;not null;default:''"`
	Postcode     string `gorm:"size:10;not null;default:''"`
	City         string `gorm:"size:80;not null;default:'';index"`
	Lat          float64
	Lng          float64
	Website      string `gorm:"size:300;not null;default:''"`
	OpeningHours string `gorm:"size:500;not null;default:''"`
	ContactEmail string `gorm:"size:254;not null;default:''"`
	Status       string `gorm:"size:20;not null;default:draft;index"`
	// CityKey and SearchText are folded copies (lower case, umlauts spelled
	// out) kept by BeforeSave, so search is case- and umlaut-insensitive on
	// SQLite and PostgreSQL alike.
	CityKey    string `gorm:"size:80;not null;default:'';index"`
	SearchText string `gorm:"size:3000;not null;default:''"`
	// Stripe Connect state (stripe.go).
	MerchantStripe
	// Offer, logo, capacity and review state (merchant_onboarding.go,
	// merchant_logo.go, merchant_capacity.go, merchant_review.go).
	MerchantOnboarding
	// Commission override (MerchantCommission).
	MerchantCommission
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BeforeSave keeps the folded search columns in step with the visible ones.
func (m *Merchant) BeforeSave(*gorm.DB) error {
	m.CityKey = FoldText(m.City)
	m.SearchText = FoldText(strings.Join([]string{m.Name, m.Category, m.City, m.Postcode, m.Description}, " "))
	return nil
}

// Categories a merchant can be listed under; the views translate them.
var Categories = []string{
	"bakery", "bookshop", "cafe", "flowers", "chocolatier", "bike", "restaurant",
	"deli", "wine", "fashion", "toys", "beauty", "culture", "other",
}

// ValidCategory reports whether c is one of Categories.
func ValidCategory(c string) bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}

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

// MerchantByID loads a merchant with its region, regardless of status.
func (s *Store) MerchantByID(ctx context.Context, id uint) (*Merchant, error) {
	var m Merchant
	err := s.db.WithContext(ctx).Preload("Region").First(&m, id).Error
	return &m, notFound(err)
}

// MerchantBySlug finds a merchant regardless of status (callers decide who may
// see a non-approved one).
func (s *Store) MerchantBySlug(ctx context.Context, slug string) (*Merchant, error) {
	var m Merchant
	err := s.db.WithContext(ctx).Preload("Region").Where("slug = ?", slug).First(&m).Error
	return &m, notFound(err)
}

// MerchantOwners returns the owners of a merchant (mail recipients).
func (s *Store) MerchantOwners(ctx context.Context, merchantID uint) ([]User, error) {
	return merchantOwners(s.db.WithContext(ctx), merchantID)
}

func merchantOwners(tx *gorm.DB, merchantID uint) ([]User, error) {
	var us []User
	err := tx.Joins("JOIN memberships ON memberships.user_id = users.id").
		Where("memberships.merchant_id = ? AND memberships.role = ?", merchantID, RoleMerchantOwner).
		Order("users.id").Find(&us).Error
	return us, err
}
