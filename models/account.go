package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Roles a membership can carry. Platform admins are flagged on the user.
const (
	RoleCompanyAdmin  = "company_admin"
	RoleCompanyAgent  = "company_agent"
	RoleMerchantOwner = "merchant_owner"
	RoleMerchantStaff = "merchant_staff"
)

// User is a person who logs in. E-mail is stored lower-cased.
type User struct {
	ID                uint   `gorm:"primaryKey"`
	Email             string `gorm:"size:254;not null;uniqueIndex"`
	Name              string `gorm:"size:120;not null;default:''"`
	PasswordHash      string `gorm:"size:100;not null"`
	IsPlatformAdmin   bool   `gorm:"not null;default:false"`
	Locale            string `gorm:"size:5;not null;default:de"`
	PasswordChangedAt time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Membership ties a user to exactly one company or merchant with a role.
type Membership struct {
	ID         uint      `gorm:"primaryKey"`
	UserID     uint      `gorm:"not null;uniqueIndex:idx_membership_company;uniqueIndex:idx_membership_merchant"`
	User       User      `gorm:"constraint:OnDelete:CASCADE"`
	CompanyID  *uint     `gorm:"uniqueIndex:idx_membership_company"`
	Company    *Company  `gorm:"constraint:OnDelete:CASCADE"`
	MerchantID *uint     `gorm:"uniqueIndex:idx_membership_merchant"`
	Merchant   *Merchant `gorm:"constraint:OnDelete:CASCADE"`
	Role       string    `gorm:"size:20;not null"`
	CreatedAt  time.Time
}

// Signup is the input of the company and merchant sign-up forms.
type Signup struct {
	OrgName  string // company or business name
	Name     string // the person's name
	Email    string
	Password string
	Confirm  string
	Category string // merchants only
	City     string // merchants only
	Locale   string
}

func (s *Store) validateSignup(ctx context.Context, in *Signup, merchant bool) error {
	v := ValidationErrors{}
	in.OrgName = checkText(v, "org_name", in.OrgName, 2, 120)
	in.Name = checkText(v, "name", in.Name, 2, 120)
	in.Email = checkEmail(v, "email", in.Email)
	checkPassword(v, "password", in.Password)
	if in.Password != in.Confirm {
		v.Add("confirm", MsgMismatch)
	}
	if merchant {
		if in.Category == "" {
			v.Add("category", MsgRequired)
		} else if !ValidCategory(in.Category) {
			v.Add("category", MsgInvalid)
		}
		in.City = checkText(v, "city", in.City, 2, 80)
	}
	if in.Locale != "en" {
		in.Locale = "de"
	}
	if _, ok := v["email"]; !ok {
		var n int64
		if err := s.db.WithContext(ctx).Model(&User{}).Where("email = ?", in.Email).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			v.Add("email", MsgTaken)
		}
	}
	return v.Err()
}

// defaultRegion is the region new sign-ups join (the marketplace runs one
// region per deployment unless more are created).
func defaultRegion(tx *gorm.DB) (*Region, error) {
	var r Region
	err := tx.Order("id").First(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		r = Region{Slug: "rheinland", Name: "Rheinland", Currency: DefaultCurrency, CommissionBP: 500}
		err = tx.Create(&r).Error
	}
	return &r, err
}

// uniqueSlug finds a free slug for table, appending -2, -3, … as needed. The
// unique index remains the real guard; this only makes the common case nice.
func uniqueSlug(tx *gorm.DB, table, name string) (string, error) {
	base := Slugify(name)
	for i := 1; i < 1000; i++ {
		slug := base
		if i > 1 {
			slug = fmt.Sprintf("%s-%d", base, i)
		}
		var n int64
		if err := tx.Table(table).Where("slug = ?", slug).Count(&n).Error; err != nil {
			return "", err
		}
		if n == 0 {
			return slug, nil
		}
	}
	return "", ErrConflict
}

// SignupCompany creates a company, its first admin user and the membership in
// one transaction.
func (s *Store) SignupCompany(ctx context.Context, in Signup) (*User, *Company, error) {
	if err := s.validateSignup(ctx, &in, false); err != nil {
		return nil, nil, err
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return nil, nil, err
	}
	var u User
	var c Company
	err = s.tx(ctx, func(tx *gorm.DB) error {
		r, err := defaultRegion(tx)
		if err != nil {
			return err
		}
		slug, err := uniqueSlug(tx, "companies", in.OrgName)
		if err != nil {
			return err
		}
		c = Company{RegionID: r.ID, Slug: slug, Name: in.OrgName}
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		u = User{Email: in.Email, Name: in.Name, PasswordHash: hash, Locale: in.Locale, PasswordChangedAt: s.Now()}
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		if err := tx.Create(&Membership{UserID: u.ID, CompanyID: &c.ID, Role: RoleCompanyAdmin}).Error; err != nil {
			return err
		}
		return audit(tx, UserActor(u.ID), "company.signup", "company", &c.ID, map[string]any{"slug": c.Slug})
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, nil, ValidationErrors{"email": MsgTaken}
	}
	return &u, &c, err
}

// SignupMerchant creates a draft merchant (not listed until a platform admin
// approves it), its owner user and the membership in one transaction.
func (s *Store) SignupMerchant(ctx context.Context, in Signup) (*User, *Merchant, error) {
	if err := s.validateSignup(ctx, &in, true); err != nil {
		return nil, nil, err
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return nil, nil, err
	}
	var u User
	var m Merchant
	err = s.tx(ctx, func(tx *gorm.DB) error {
		r, err := defaultRegion(tx)
		if err != nil {
			return err
		}
		slug, err := uniqueSlug(tx, "merchants", in.OrgName)
		if err != nil {
			return err
		}
		m = Merchant{RegionID: r.ID, Slug: slug, Name: in.OrgName, Category: in.Category,
			City: in.City, ContactEmail: in.Email, Status: MerchantDraft}
		if err := tx.Create(&m).Error; err != nil {
			return err
		}
		u = User{Email: in.Email, Name: in.Name, PasswordHash: hash, Locale: in.Locale, PasswordChangedAt: s.Now()}
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		if err := tx.Create(&Membership{UserID: u.ID, MerchantID: &m.ID, Role: RoleMerchantOwner}).Error; err != nil {
			return err
		}
		return audit(tx, UserActor(u.ID), "merchant.signup", "merchant", &m.ID, map[string]any{"slug": m.Slug})
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, nil, ValidationErrors{"email": MsgTaken}
	}
	return &u, &m, err
}

// NewUser is the input of CreateUser (command line and seeding).
type NewUser struct {
	Email, Name, Password string
	PlatformAdmin         bool
}

// CreateUser creates a user without a membership (for example a platform
// admin). The e-mail must be free.
func (s *Store) CreateUser(ctx context.Context, in NewUser) (*User, error) {
	v := ValidationErrors{}
	in.Email = checkEmail(v, "email", in.Email)
	in.Name = checkText(v, "name", in.Name, 0, 120)
	checkPassword(v, "password", in.Password)
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	u := User{Email: in.Email, Name: in.Name, PasswordHash: hash, IsPlatformAdmin: in.PlatformAdmin, PasswordChangedAt: s.Now()}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		return audit(tx, ActorCLI, "user.created", "user", &u.ID, map[string]any{"platform_admin": in.PlatformAdmin})
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, ValidationErrors{"email": MsgTaken}
	}
	return &u, err
}

// AddMember gives an existing user a role at a company or merchant.
func (s *Store) AddMember(ctx context.Context, userID uint, companyID, merchantID *uint, role string) error {
	switch {
	case companyID != nil && (role == RoleCompanyAdmin || role == RoleCompanyAgent):
	case merchantID != nil && (role == RoleMerchantOwner || role == RoleMerchantStaff):
	default:
		return ValidationErrors{"role": MsgInvalid}
	}
	return notFound(s.db.WithContext(ctx).Create(&Membership{UserID: userID, CompanyID: companyID, MerchantID: merchantID, Role: role}).Error)
}

// Memberships returns the user's memberships with company or merchant loaded.
func (s *Store) Memberships(ctx context.Context, userID uint) ([]Membership, error) {
	var ms []Membership
	err := s.db.WithContext(ctx).Preload("Company").Preload("Merchant").
		Where("user_id = ?", userID).Order("id").Find(&ms).Error
	return ms, err
}

// UserByEmail finds a user by e-mail.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", NormalizeEmail(email)).First(&u).Error
	return &u, notFound(err)
}

// SetUserLocale stores the preferred UI language ("de" or "en").
func (s *Store) SetUserLocale(ctx context.Context, userID uint, locale string) error {
	if locale != "en" {
		locale = "de"
	}
	return s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Update("locale", locale).Error
}
