package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Company sends goodwill gifts from its prepaid credit.
type Company struct {
	ID        uint   `gorm:"primaryKey"`
	RegionID  uint   `gorm:"not null;index"`
	Region    Region `gorm:"constraint:OnDelete:RESTRICT"`
	Slug      string `gorm:"size:80;not null;uniqueIndex"`
	Name      string `gorm:"size:120;not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CompanyByID returns a company with its region.
func (s *Store) CompanyByID(ctx context.Context, id uint) (*Company, error) {
	var c Company
	err := s.db.WithContext(ctx).Preload("Region").First(&c, id).Error
	return &c, notFound(err)
}

// CompanyBySlug finds a company.
func (s *Store) CompanyBySlug(ctx context.Context, slug string) (*Company, error) {
	var c Company
	err := s.db.WithContext(ctx).Where("slug = ?", slug).First(&c).Error
	return &c, notFound(err)
}

// CompanyBalance is a company's credit: available to send, and reserved in
// gifts that were not claimed yet (waiting for approval or sent), which
// return to the credit if cancelled.
type CompanyBalance struct {
	AvailableCents int64
	ReservedCents  int64
	Currency       string
}

// CompanyBalance reports a company's available and reserved credit.
func (s *Store) CompanyBalance(ctx context.Context, companyID uint) (*CompanyBalance, error) {
	var c Company
	if err := s.db.WithContext(ctx).Preload("Region").First(&c, companyID).Error; err != nil {
		return nil, notFound(err)
	}
	out := &CompanyBalance{Currency: c.Region.Currency}
	var err error
	if out.AvailableCents, err = s.AccountBalance(ctx, AccountCompanyCredit(companyID)); err != nil {
		return nil, err
	}
	err = s.db.WithContext(ctx).Model(&Gift{}).Select("COALESCE(SUM(balance_cents), 0)").
		Where("company_id = ? AND status IN ?", companyID, []string{GiftPendingApproval, GiftSent}).Scan(&out.ReservedCents).Error
	if err != nil {
		return nil, err
	}
	inBulk, err := bulkReservedCents(s.db.WithContext(ctx), companyID, nil)
	out.ReservedCents += inBulk
	return out, err
}

// requireCompanyAdmin returns ErrForbidden unless userID administers the company.
func (s *Store) requireCompanyAdmin(ctx context.Context, companyID, userID uint) error {
	role, err := s.companyRole(s.db.WithContext(ctx), companyID, userID)
	if err != nil {
		return err
	}
	if role != RoleCompanyAdmin {
		return ErrForbidden
	}
	return nil
}

func (s *Store) companyRole(tx *gorm.DB, companyID, userID uint) (string, error) {
	var m Membership
	err := tx.Where("company_id = ? AND user_id = ?", companyID, userID).First(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", ErrForbidden
	}
	return m.Role, err
}
