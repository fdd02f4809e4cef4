package models

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Gift statuses. A gift is the voucher: one row from sending to the last
// redemption, so its ledger account is AccountVoucher(gift.ID) throughout.
const (
	GiftPendingApproval   = "pending_approval"
	GiftSent              = "sent"
	GiftClaimed           = "claimed"
	GiftPartiallyRedeemed = "partially_redeemed"
	GiftRedeemed          = "redeemed"
	GiftExpired           = "expired"
	GiftCancelled         = "cancelled"
)

// GiftStatuses lists every status, for filters and validation.
var GiftStatuses = []string{GiftPendingApproval, GiftSent, GiftClaimed, GiftPartiallyRedeemed, GiftRedeemed, GiftExpired, GiftCancelled}

// Gift delivery: by mail to the recipient, or none (the agent shares the link).
const (
	NotifyEmail = "email"
	NotifyNone  = "none"
)

// Gift amount bounds (cents) and other limits.
const (
	GiftMinCents       = 1_00
	GiftMaxCents       = 1000_00
	GiftMaxMerchants   = 5
	GiftNearMerchants  = 3  // partners offered for "near the customer"
	GiftRecentDays     = 90 // window of the "already received a gesture" hint
	IdempotencyKeyMax  = 200
	GiftMessageMaxRune = 1000
)

// Message keys of gift validation errors.
const (
	MsgGiftAmountRange    = "gift_amount_range"
	MsgGiftMerchant       = "gift_merchant"
	MsgGiftMerchantCount  = "gift_merchant_count"
	MsgGiftMerchantOrNear = "gift_merchant_or_near"
	MsgGiftCurrency       = "gift_currency"
	MsgGiftNearEmpty      = "gift_near_empty"
)

// GiftReasons are the default reason codes every company starts with (see
// defaultGiftReasons); what an agent may pick is the company's own active
// list (Store.GiftReasons), which SendGift checks.
var GiftReasons = []string{"late_delivery", "defect", "service_failure", "wrong_item", "billing", "goodwill", "other"}

// Gift is a company's goodwill gift and, once claimed, the recipient's
// voucher at the chosen partner.
//
// Money: while the gift exists its value sits on the ledger account
// AccountVoucher(ID), and BalanceCents always equals that account's balance
// (VerifyLedger checks it): AmountCents from sending (also while it waits for
// approval: the credit is reserved at once, so it cannot be overspent) until
// redemptions lower it; 0 after cancellation or expiry, when the value went
// back to the company's credit.
//
// Secrets: the claim token is never stored. It is derived as
// HMAC(secret, "claim:"+PublicID), so the link can be shown again to the
// company, and only its keyed hash is stored for look-ups; a copy of the
// database alone does not yield a usable link. Rotating SECRET_KEY
// invalidates all links.
type Gift struct {
	ID             uint    `gorm:"primaryKey"`
	PublicID       string  `gorm:"size:16;not null;uniqueIndex"`
	CompanyID      uint    `gorm:"not null;uniqueIndex:idx_gift_idem,priority:1;index:idx_gift_company_ref,priority:1;index:idx_gift_recipient,priority:1"`
	Company        Company `gorm:"constraint:OnDelete:RESTRICT"`
	SenderUserID   *uint   `gorm:"index"`
	SenderUser     *User   `gorm:"constraint:OnDelete:SET NULL"`
	SenderAPIKeyID *uint   `gorm:"index"`
	RecipientName  string  `gorm:"size:120;not null;default:''"`
	RecipientEmail string  `gorm:"size:254;not null;default:''"`
	// RecipientHash is the keyed hash of the normalised e-mail ("" without
	// one): it finds earlier gestures to the same customer even after the
	// address itself was pseudonymised.
	RecipientHash string    `gorm:"size:64;not null;default:'';index:idx_gift_recipient,priority:2"`
	AmountCents   int64     `gorm:"not null"`
	BalanceCents  int64     `gorm:"not null"`
	Currency      string    `gorm:"size:3;not null"`
	Message       string    `gorm:"size:4000;not null;default:''"`
	Reference     string    `gorm:"size:120;not null;default:'';index:idx_gift_company_ref,priority:2"`
	ReasonCode    string    `gorm:"size:40;not null;default:''"`
	Lang          string    `gorm:"size:2;not null;default:de"`
	Notify        string    `gorm:"size:10;not null;default:email"`
	Near          string    `gorm:"size:100;not null;default:''"`
	Status        string    `gorm:"size:20;not null;index"`
	ClaimHash     string    `gorm:"size:64;not null;uniqueIndex"`
	MerchantID    *uint     `gorm:"index"` // chosen partner; set at claim when several are offered
	Merchant      *Merchant `gorm:"constraint:OnDelete:RESTRICT"`
	ExpiresAt     time.Time `gorm:"not null;index"`
	// IdempotencyKey is unique per company; RequestHash tells a replay of the
	// same request from a different request under a reused key.
	IdempotencyKey *string `gorm:"size:200;uniqueIndex:idx_gift_idem,priority:2"`
	RequestHash    string  `gorm:"size:64;not null;default:''"`
	DecisionNote   string  `gorm:"size:1000;not null;default:''"`
	DecidedBy      *uint
	DecidedAt      *time.Time
	SentAt         *time.Time
	ClaimedAt      *time.Time
	CancelledAt    *time.Time
	// SendAt is the scheduled delivery (nil: at once). The amount is
	// reserved at creation; the mail waits in the queue and the claim link
	// answers like an unknown one until then.
	SendAt    *time.Time `gorm:"index"`
	Scheduled bool       `gorm:"-"` // derived: SendAt still ahead (set when loaded)
	CreatedAt time.Time  `gorm:"index"`
	UpdatedAt time.Time
	GiftLifecycle
	GiftVoucher

	Offers []GiftMerchant `gorm:"foreignKey:GiftID"`
}

// GiftMerchant is a partner offered with a gift, in the order shown.
type GiftMerchant struct {
	GiftID     uint     `gorm:"primaryKey;autoIncrement:false"`
	MerchantID uint     `gorm:"primaryKey;autoIncrement:false;index"`
	Merchant   Merchant `gorm:"constraint:OnDelete:RESTRICT"`
	Position   int      `gorm:"not null"`
}

// OfferedMerchants returns the offered partners in order (Offers must be
// loaded with their Merchant).
func (g *Gift) OfferedMerchants() []Merchant {
	out := make([]Merchant, 0, len(g.Offers))
	for _, o := range g.Offers {
		out = append(out, o.Merchant)
	}
	return out
}

// Cancellable reports whether the company may still take the gift back.
func (g *Gift) Cancellable() bool {
	return g.Status == GiftPendingApproval || g.Status == GiftSent
}

// GiftExpiry is the default validity: the end of the third year after the
// year of issue (German statutory limitation), 31 Dec 23:59:59 in Berlin.
func GiftExpiry(issued time.Time) time.Time {
	y := issued.In(berlin).Year()
	return time.Date(y+3, 12, 31, 23, 59, 59, 0, berlin).UTC()
}

var publicIDEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newPublicID is 80 random bits as 16 lower-case Crockford base32 letters.
func newPublicID() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return publicIDEncoding.EncodeToString(b)
}

// NewRandomKey is a random 128-bit key (for example a web form's
// idempotency key).
func NewRandomKey() string { return newToken(16) }

// GiftClaimToken derives the gift's claim token (192 bits): the link can be
// shown again without storing it.
func (s *Store) GiftClaimToken(g *Gift) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("claim:" + g.PublicID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

func (s *Store) claimHash(token string) string { return s.keyedHash("claim", token) }

// RecipientHash is the keyed hash of a normalised e-mail address.
func (s *Store) RecipientHash(email string) string {
	email = NormalizeEmail(email)
	if email == "" {
		return ""
	}
	return s.keyedHash("recipient", email)
}

// GiftByPublicID returns a company's gift; other companies' gifts and unknown
// ids are ErrNotFound alike.
func (s *Store) GiftByPublicID(ctx context.Context, companyID uint, publicID string) (*Gift, error) {
	if publicID == "" || len(publicID) > 32 {
		return nil, ErrNotFound
	}
	var g Gift
	if err := s.db.WithContext(ctx).Select("id").Where("company_id = ? AND public_id = ?", companyID, publicID).First(&g).Error; err != nil {
		return nil, notFound(err)
	}
	return s.giftByID(ctx, g.ID)
}

func (s *Store) giftByID(ctx context.Context, id uint) (*Gift, error) {
	return s.loadGift(s.db.WithContext(ctx).Where("gifts.id = ?", id))
}

// loadGift reads the gift q selects with its company, sender, partner and
// offers: the single-row relations in the same query (the claim page is
// the busiest page), the offers in two more.
func (s *Store) loadGift(q *gorm.DB) (*Gift, error) {
	var g Gift
	err := q.Joins("Company").Joins("SenderUser").Joins("Merchant").
		Preload("Offers", func(db *gorm.DB) *gorm.DB { return db.Order("position") }).Preload("Offers.Merchant").
		Take(&g).Error
	s.markScheduled(&g)
	return &g, notFound(err)
}

// markScheduled sets the derived Scheduled flag of loaded gifts.
func (s *Store) markScheduled(gs ...*Gift) {
	now := s.Now()
	for _, g := range gs {
		g.Scheduled = g.SendAt != nil && g.SendAt.After(now) && (g.Status == GiftSent || g.Status == GiftPendingApproval)
	}
}

// GiftQuery filters a company's gifts, newest first, with a cursor.
type GiftQuery struct {
	Status    string
	Reference string
	Reason    string
	SenderID  *uint
	BulkID    string // public id of a bulk batch: only its gifts
	Limit     int
	Cursor    string
}

// Gift list page sizes.
const (
	GiftListDefault = 25
	GiftListMax     = 100
)

// Gifts lists a company's gifts. The cursor is opaque (the last id seen).
func (s *Store) Gifts(ctx context.Context, companyID uint, q GiftQuery) ([]Gift, string, error) {
	v := ValidationErrors{}
	if q.Limit == 0 {
		q.Limit = GiftListDefault
	}
	if q.Limit < 1 || q.Limit > GiftListMax {
		v.Add("limit", MsgInvalid)
	}
	if q.Status != "" && !slices.Contains(GiftStatuses, q.Status) {
		v.Add("status", MsgInvalid)
	}
	if len(q.Reference) > 120 {
		v.Add("reference", MsgTooLong)
	}
	if len(q.Reason) > 40 {
		v.Add("reason", MsgInvalid)
	}
	var before uint64
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err == nil && len(b) > 1 && b[0] == 'g' {
			before, err = strconv.ParseUint(string(b[1:]), 10, 32)
		}
		if err != nil || before == 0 {
			v.Add("cursor", MsgInvalid)
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	db := s.db.WithContext(ctx).Where("company_id = ?", companyID)
	if q.Status != "" {
		db = db.Where("status = ?", q.Status)
	}
	if q.Reference != "" {
		db = db.Where("reference = ?", q.Reference)
	}
	if q.Reason != "" {
		db = db.Where("reason_code = ?", q.Reason)
	}
	if q.SenderID != nil {
		db = db.Where("sender_user_id = ?", *q.SenderID)
	}
	if q.BulkID != "" {
		db = db.Where("idempotency_key LIKE ?", bulkGiftKeyPrefix(q.BulkID)+"%")
	}
	if before > 0 {
		db = db.Where("id < ?", before)
	}
	var gs []Gift
	if err := db.Preload("SenderUser").Preload("Merchant").
		Preload("Offers", func(db *gorm.DB) *gorm.DB { return db.Order("position") }).Preload("Offers.Merchant").
		Order("id DESC").Limit(q.Limit + 1).Find(&gs).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(gs) > q.Limit {
		gs = gs[:q.Limit]
		next = base64.RawURLEncoding.EncodeToString([]byte("g" + strconv.FormatUint(uint64(gs[len(gs)-1].ID), 10)))
	}
	for i := range gs {
		s.markScheduled(&gs[i])
	}
	return gs, next, nil
}

// RecentGiftsTo lists the company's gifts of the last GiftRecentDays to the
// same recipient (by hashed e-mail, any agent), not counting cancelled ones.
func (s *Store) RecentGiftsTo(ctx context.Context, companyID uint, email string) ([]Gift, error) {
	h := s.RecipientHash(email)
	if h == "" {
		return nil, nil
	}
	var gs []Gift
	err := s.db.WithContext(ctx).Preload("SenderUser").
		Where("company_id = ? AND recipient_hash = ? AND status <> ? AND created_at >= ?",
			companyID, h, GiftCancelled, s.Now().AddDate(0, 0, -GiftRecentDays)).
		Order("id DESC").Limit(10).Find(&gs).Error
	for i := range gs {
		s.markScheduled(&gs[i])
	}
	return gs, err
}

// verifyGifts adds the gift invariants to VerifyLedger: each gift's balance
// equals its voucher account, and a gift's state matches its balance.
func (s *Store) verifyGifts(ctx context.Context) ([]LedgerProblem, error) {
	type row struct {
		ID           uint
		PublicID     string
		Status       string
		AmountCents  int64
		BalanceCents int64
		Account      int64
	}
	var rows []row
	err := s.db.WithContext(ctx).Table("gifts g").
		Select("g.id, g.public_id, g.status, g.amount_cents, g.balance_cents, COALESCE(a.balance, 0) AS account").
		Joins("LEFT JOIN ledger_accounts a ON a.code = 'voucher:' || CAST(g.id AS TEXT)").
		Where("COALESCE(a.balance, 0) <> g.balance_cents OR g.balance_cents < 0 OR g.balance_cents > g.amount_cents" +
			" OR (g.status IN ('cancelled', 'expired', 'redeemed') AND g.balance_cents <> 0)" +
			" OR (g.status IN ('pending_approval', 'sent', 'claimed') AND g.balance_cents <> g.amount_cents)").
		Order("g.id").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]LedgerProblem, 0, len(rows))
	for _, r := range rows {
		out = append(out, LedgerProblem{"gift_balance", fmt.Sprintf("gift %s (%s): balance %d of %d, voucher account %d",
			r.PublicID, r.Status, r.BalanceCents, r.AmountCents, r.Account)})
	}
	return out, nil
}
