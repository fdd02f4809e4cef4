package models

import (
	"strings"
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
	// Stripe Connect state (models/stripe.go).
	MerchantStripe
	// Offer, logo, capacity and review state (models/onboarding.go).
	MerchantOnboarding
	// Commission override (models/voucher.go).
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

// LedgerAccount is one account of the double-entry ledger. Balance is a cache
// of the sum of its entries, updated in the same transaction; `ledger verify`
// recomputes it. Accounts with AllowNegative=false (wallets: company credit,
// vouchers, merchant payables, commission) can never go below zero; boundary
// accounts (cash:*, payout:*) mirror money entering and leaving the platform
// and run negative by design.
type LedgerAccount struct {
	ID            uint   `gorm:"primaryKey"`
	Code          string `gorm:"size:80;not null;uniqueIndex"`
	Currency      string `gorm:"size:3;not null"`
	AllowNegative bool   `gorm:"not null;default:false"`
	Balance       int64  `gorm:"not null;default:0"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// LedgerTransaction groups entries that sum to zero. Kind names the business
// event; IdempotencyKey (unique when set) makes re-booking the same event a
// no-op.
type LedgerTransaction struct {
	ID             uint          `gorm:"primaryKey"`
	Kind           string        `gorm:"size:40;not null;index"`
	IdempotencyKey *string       `gorm:"size:120;uniqueIndex"`
	Memo           string        `gorm:"size:300;not null;default:''"`
	Entries        []LedgerEntry `gorm:"foreignKey:TransactionID"`
	CreatedAt      time.Time     `gorm:"index"`
}

// LedgerEntry moves Amount cents into (positive) or out of (negative) an
// account.
type LedgerEntry struct {
	ID            uint          `gorm:"primaryKey"`
	TransactionID uint          `gorm:"not null;index"`
	AccountID     uint          `gorm:"not null;index"`
	Account       LedgerAccount `gorm:"constraint:OnDelete:RESTRICT"`
	Amount        int64         `gorm:"not null"`
	Currency      string        `gorm:"size:3;not null"`
}

// AuditLog records who did which money-moving or security-relevant action.
type AuditLog struct {
	ID          uint   `gorm:"primaryKey"`
	ActorKind   string `gorm:"size:20;not null"` // user, api_key, cli, system, webhook
	ActorID     *uint
	Action      string `gorm:"size:60;not null;index"`
	SubjectType string `gorm:"size:40;not null;default:''"`
	SubjectID   *uint
	Detail      string    `gorm:"size:2000;not null;default:''"`
	CreatedAt   time.Time `gorm:"index"`
}

// Mail is an outgoing e-mail and its delivery job: written in the same
// transaction as the event that causes it, delivered by the worker with
// retries and backoff (or kept for the dev mailbox when SMTP is not set up).
type Mail struct {
	ID          uint      `gorm:"primaryKey"`
	To          string    `gorm:"column:to_addr;size:254;not null"`
	Subject     string    `gorm:"size:200;not null"`
	Text        string    `gorm:"type:text;not null"`
	HTML        string    `gorm:"column:html;type:text;not null;default:''"`
	Status      string    `gorm:"size:12;not null;default:queued;index"` // queued, sent, failed, dev
	Attempts    int       `gorm:"not null;default:0"`
	LastError   string    `gorm:"size:500;not null;default:''"`
	NextAttempt time.Time `gorm:"index"`
	LockedUntil *time.Time
	LockedBy    string `gorm:"size:40;not null;default:''"` // the worker (Store.Owner) holding the lease
	SentAt      *time.Time
	GiftID      *uint `gorm:"index"` // the gift a recipient mail belongs to (withdrawn on cancel)
	CreatedAt   time.Time
}

// KV is a small expiring key-value table used for shared state such as rate
// limit counters and CSRF tokens, so several app instances agree.
type KV struct {
	Key       string `gorm:"primaryKey;size:200"`
	Value     []byte
	ExpiresAt int64 `gorm:"not null;default:0;index"` // unix seconds; 0 = never
}

// TableName keeps the table name stable.
func (KV) TableName() string { return "kv" }

// AllModels lists every table in creation order, for migrations and tests.
func AllModels() []any {
	return []any{
		&Region{}, &Merchant{}, &Company{}, &User{}, &Membership{}, &Session{},
		&PasswordReset{}, &APIKey{}, &LedgerAccount{}, &LedgerTransaction{},
		&LedgerEntry{}, &AuditLog{}, &Mail{}, &KV{},
		&Gift{}, &GiftMerchant{}, &AgentLimit{},
		&StripeEvent{},
		&MerchantLogo{}, &MerchantInvite{},
		&WebhookEndpoint{}, &WebhookDelivery{},
		&Redemption{}, &Payout{}, &Topup{},
		&GiftTemplate{}, &GiftReason{}, &PreferredPartner{}, &GiftSettings{},
		&StripeRefund{}, &CreditRefund{}, &TransferReversal{}, &PayoutItem{}, &StripeCharge{},
		&BulkBatch{}, &BulkRow{},
		&SearchVersion{},
		&JobLease{},
	}
}
