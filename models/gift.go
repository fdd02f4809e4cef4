package models

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Berlin for expiry and monthly budgets, also on hosts without zoneinfo

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

// AgentLimit is what a company admin lets one agent send without approval.
// A nil limit means no limit; an agent without a row has no limits (the
// company's credit is the cap). Company admins and API keys have no limits.
type AgentLimit struct {
	ID                 uint    `gorm:"primaryKey"`
	CompanyID          uint    `gorm:"not null;uniqueIndex:idx_agent_limit,priority:1"`
	Company            Company `gorm:"constraint:OnDelete:CASCADE"`
	UserID             uint    `gorm:"not null;uniqueIndex:idx_agent_limit,priority:2"`
	User               User    `gorm:"constraint:OnDelete:CASCADE"`
	MaxPerGiftCents    *int64
	MonthlyBudgetCents *int64
	CreatedAt          time.Time
	UpdatedAt          time.Time
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

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.FixedZone("CET", 3600) // unreachable with time/tzdata
	}
	return loc
}()

// GiftExpiry is the default validity: the end of the third year after the
// year of issue (German statutory limitation), 31 Dec 23:59:59 in Berlin.
func GiftExpiry(issued time.Time) time.Time {
	y := issued.In(berlin).Year()
	return time.Date(y+3, 12, 31, 23, 59, 59, 0, berlin).UTC()
}

// monthStart is the first instant of t's calendar month in Berlin.
// merchantGiftsThisMonth counts the gifts offering a merchant that were
// created since the start of now's month (Berlin) and not cancelled, for the
// merchant's monthly cap.
func merchantGiftsThisMonth(tx *gorm.DB, merchantID uint, now time.Time) (int64, error) {
	var n int64
	err := tx.Table("gift_merchants gm").Joins("JOIN gifts g ON g.id = gm.gift_id").
		Where("gm.merchant_id = ? AND g.created_at >= ? AND g.status <> ?", merchantID, monthStart(now), GiftCancelled).
		Count(&n).Error
	return n, err
}

func monthStart(t time.Time) time.Time {
	b := t.In(berlin)
	return time.Date(b.Year(), b.Month(), 1, 0, 0, 0, 0, berlin).UTC()
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

// CompanyByID returns a company with its region.
func (s *Store) CompanyByID(ctx context.Context, id uint) (*Company, error) {
	var c Company
	err := s.db.WithContext(ctx).Preload("Region").First(&c, id).Error
	return &c, notFound(err)
}

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

// GiftInput is a gift to send (web form, API, later CSV).
type GiftInput struct {
	RecipientName  string
	RecipientEmail string
	AmountCents    int64
	Currency       string
	MerchantIDs    []uint
	Near           string
	Message        string
	Reference      string
	ReasonCode     string
	Notify         string // email or none; empty: email when an address is given
	Lang           string // de or en
	IdempotencyKey string
	SendAt         *time.Time // scheduled delivery; nil: at once
}

// GiftSender says who sends: a member of the company (agent or admin) or a
// company API key.
type GiftSender struct {
	CompanyID uint
	UserID    *uint
	APIKeyID  *uint
}

func (g GiftSender) actor() Actor {
	if g.APIKeyID != nil {
		return Actor{Kind: "api_key", ID: g.APIKeyID}
	}
	if g.UserID != nil {
		return UserActor(*g.UserID)
	}
	return ActorSystem
}

// GiftMailComposer renders the recipient's mail; it runs inside the sending
// (or approving) transaction, so the gift and its mail are written together.
// The gift comes with Company and Offers.Merchant loaded.
type GiftMailComposer func(g *Gift, claimToken string) (Mail, error)

func (s *Store) validateGift(in *GiftInput) (ValidationErrors, string) {
	v := ValidationErrors{}
	in.RecipientName = checkText(v, "recipient_name", in.RecipientName, 0, 120)
	in.RecipientEmail = NormalizeEmail(in.RecipientEmail)
	if in.Notify == "" {
		in.Notify = NotifyNone
		if in.RecipientEmail != "" {
			in.Notify = NotifyEmail
		}
	}
	switch in.Notify {
	case NotifyEmail:
		in.RecipientEmail = checkEmail(v, "recipient_email", in.RecipientEmail)
	case NotifyNone:
		if in.RecipientEmail != "" {
			in.RecipientEmail = checkEmail(v, "recipient_email", in.RecipientEmail)
		}
	default:
		v.Add("notify", MsgInvalid)
	}
	if in.AmountCents < GiftMinCents || in.AmountCents > GiftMaxCents {
		v.Add("amount_cents", MsgGiftAmountRange)
	}
	in.Currency = strings.ToUpper(strings.TrimSpace(in.Currency))
	in.Message = checkText(v, "message", in.Message, 0, GiftMessageMaxRune)
	in.Reference = checkText(v, "reference", in.Reference, 0, 120)
	in.Near = checkText(v, "near", in.Near, 0, 100)
	in.ReasonCode = strings.TrimSpace(in.ReasonCode)
	if len(in.ReasonCode) > 40 {
		v.Add("reason_code", MsgGiftReason)
	}
	checkSendAt(v, in.SendAt, s.Now())
	if in.Lang != "en" {
		in.Lang = "de"
	}
	switch {
	case len(in.MerchantIDs) > 0 && in.Near != "":
		v.Add("merchant_ids", MsgGiftMerchantOrNear)
	case len(in.MerchantIDs) == 0 && in.Near == "":
		v.Add("merchant_ids", MsgRequired)
	case len(in.MerchantIDs) > GiftMaxMerchants:
		v.Add("merchant_ids", MsgGiftMerchantCount)
	}
	seen := map[uint]bool{}
	for _, id := range in.MerchantIDs {
		if seen[id] || id == 0 {
			v.Add("merchant_ids", MsgGiftMerchant)
		}
		seen[id] = true
	}
	if len(in.IdempotencyKey) > IdempotencyKeyMax {
		v.Add("idempotency_key", MsgTooLong)
	}
	// The request hash covers the normalised request, so a replay with the
	// same meaning matches and any change of content is a conflict.
	fields := []any{in.RecipientName, in.RecipientEmail, in.AmountCents, in.Currency,
		in.MerchantIDs, in.Near, in.Message, in.Reference, in.ReasonCode, in.Notify, in.Lang}
	if in.SendAt != nil { // only when set, so hashes of earlier requests stay valid
		fields = append(fields, in.SendAt.UTC().Format(time.RFC3339))
	}
	canon, _ := json.Marshal(fields)
	sum := sha256.Sum256(canon)
	return v, hex.EncodeToString(sum[:])
}

// SendGift sends a gift in one transaction: it checks the input and the
// partners, reserves the amount from the company's credit
// (ErrInsufficientBalance when it does not cover it), decides by the agent's
// limits whether the gift goes out at once or waits for approval, and queues
// the recipient's mail when it goes out.
//
// With an idempotency key, repeating the same request returns the same gift
// (created=false), also under concurrency; the same key with a different
// request is ErrConflict.
func (s *Store) SendGift(ctx context.Context, places *Places, sender GiftSender, in GiftInput, compose GiftMailComposer) (*Gift, bool, error) {
	v, reqHash := s.validateGift(&in)
	if in.IdempotencyKey != "" {
		if g, err := s.giftByIdemKey(ctx, sender.CompanyID, in.IdempotencyKey, reqHash); !errors.Is(err, ErrNotFound) {
			return g, false, err
		}
	}
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	db := s.db.WithContext(ctx)
	var company Company
	if err := db.Preload("Region").First(&company, sender.CompanyID).Error; err != nil {
		return nil, false, notFound(err)
	}
	if in.Currency == "" {
		in.Currency = company.Region.Currency
	} else if in.Currency != company.Region.Currency {
		return nil, false, ValidationErrors{"currency": MsgGiftCurrency}
	}
	if err := s.checkGiftReason(db, company.ID, in.ReasonCode); err != nil {
		return nil, false, err
	}
	limited, err := s.senderLimits(ctx, sender)
	if err != nil {
		return nil, false, err
	}
	merchantIDs := in.MerchantIDs
	if in.Near != "" {
		hits, _, err := s.SearchMerchants(ctx, places, CatalogQuery{Region: company.Region.Slug, Near: in.Near, Limit: GiftNearMerchants})
		if err != nil {
			return nil, false, err
		}
		if len(hits) == 0 {
			return nil, false, ValidationErrors{"near": MsgGiftNearEmpty}
		}
		for _, h := range hits {
			merchantIDs = append(merchantIDs, h.ID)
		}
	}

	now := s.Now()
	g := s.newGift(company.ID, sender, &in, merchantIDs, reqHash, now)
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var ms []Merchant
		if err := tx.Where("id IN ? AND status = ? AND region_id = ?", merchantIDs, MerchantApproved, company.RegionID).Find(&ms).Error; err != nil {
			return err
		}
		if len(ms) != len(merchantIDs) {
			return ValidationErrors{"merchant_ids": MsgGiftMerchant}
		}
		// Partners on holiday or at their monthly cap take no new gifts;
		// gifts already issued stay valid.
		for i := range ms {
			issued, err := merchantGiftsThisMonth(tx, ms[i].ID, now)
			if err != nil {
				return err
			}
			if !ms[i].AcceptsGifts(now, issued) {
				return ValidationErrors{"merchant_ids": MsgGiftMerchant}
			}
		}
		if err := tx.Omit("Offers", "Company", "SenderUser", "Merchant").Create(&g).Error; err != nil {
			return err
		}
		for i, id := range merchantIDs {
			if err := tx.Omit("Merchant").Create(&GiftMerchant{GiftID: g.ID, MerchantID: id, Position: i}).Error; err != nil {
				return err
			}
		}
		// Booking first takes the company's credit row lock, so the budget
		// check below sees every earlier send of the company (no two sends
		// of one agent can both slip under the budget).
		if _, err := s.book(tx, Booking{Kind: "gift.sent", IdempotencyKey: "gift.sent:" + g.PublicID, Currency: g.Currency,
			Memo: "gift " + g.PublicID, Postings: Move(AccountCompanyCredit(company.ID), AccountVoucher(g.ID), g.AmountCents)}); err != nil {
			return err
		}
		if err := s.checkCustomerCap(tx, &g, now); err != nil {
			return err
		}
		if limited != nil {
			ok, err := s.withinLimits(tx, limited, sender, g.AmountCents, g.ID)
			if err != nil {
				return err
			}
			if !ok {
				g.Status = GiftPendingApproval
			}
		}
		if g.Status == GiftSent {
			g.SentAt = &now
		}
		if err := tx.Model(&Gift{}).Where("id = ?", g.ID).Updates(map[string]any{"status": g.Status, "sent_at": g.SentAt}).Error; err != nil {
			return err
		}
		if err := audit(tx, sender.actor(), "gift.created", "gift", &g.ID, map[string]any{"public_id": g.PublicID, "amount_cents": g.AmountCents, "status": g.Status}); err != nil {
			return err
		}
		if g.Status == GiftSent {
			if err := s.emitHook(tx, g.CompanyID, HookGiftSent, giftHookData(&g)); err != nil {
				return err
			}
			return s.queueGiftMail(tx, &g, compose)
		}
		return nil
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, gorm.ErrDuplicatedKey) {
		if in.IdempotencyKey != "" {
			// A concurrent request with the same key won the race.
			if prev, perr := s.giftByIdemKey(ctx, sender.CompanyID, in.IdempotencyKey, reqHash); perr == nil || !errors.Is(perr, ErrNotFound) {
				return prev, false, perr
			}
		}
		return nil, false, ErrConflict
	}
	if err != nil {
		return nil, false, err
	}
	out, err := s.giftByID(ctx, g.ID)
	return out, true, err
}

// newGift builds a gift row from validated input (single sends and bulk
// batches alike): a fresh public id, its claim hash, the recipient hash and
// the default expiry. It starts as sent; the caller decides about approval.
func (s *Store) newGift(companyID uint, sender GiftSender, in *GiftInput, merchantIDs []uint, reqHash string, now time.Time) Gift {
	g := Gift{
		PublicID: newPublicID(), CompanyID: companyID, SenderUserID: sender.UserID, SenderAPIKeyID: sender.APIKeyID,
		RecipientName: in.RecipientName, RecipientEmail: in.RecipientEmail, RecipientHash: s.RecipientHash(in.RecipientEmail),
		AmountCents: in.AmountCents, BalanceCents: in.AmountCents, Currency: in.Currency, Message: in.Message,
		Reference: in.Reference, ReasonCode: in.ReasonCode, Lang: in.Lang, Notify: in.Notify, Near: in.Near,
		Status: GiftSent, ExpiresAt: GiftExpiry(now), RequestHash: reqHash, SendAt: in.SendAt,
	}
	if in.SendAt != nil {
		g.ExpiresAt = GiftExpiry(*in.SendAt)
	}
	g.ClaimHash = s.claimHash(s.GiftClaimToken(&g))
	if in.IdempotencyKey != "" {
		key := in.IdempotencyKey
		g.IdempotencyKey = &key
	}
	if len(merchantIDs) == 1 {
		id := merchantIDs[0]
		g.MerchantID = &id
	}
	return g
}

// giftByIdemKey returns the company's gift for an idempotency key, or
// ErrConflict when that key was used for a different request.
func (s *Store) giftByIdemKey(ctx context.Context, companyID uint, key, reqHash string) (*Gift, error) {
	var g Gift
	err := s.db.WithContext(ctx).Where("company_id = ? AND idempotency_key = ?", companyID, key).First(&g).Error
	if err != nil {
		return nil, notFound(err)
	}
	if g.RequestHash != reqHash {
		return nil, ErrConflict
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

// senderLimits returns the agent's limits (nil: no limits, for admins and
// API keys), or ErrForbidden when the user is not a member of the company.
func (s *Store) senderLimits(ctx context.Context, sender GiftSender) (*AgentLimit, error) {
	if sender.APIKeyID != nil {
		return nil, nil
	}
	if sender.UserID == nil {
		return nil, ErrForbidden
	}
	role, err := s.companyRole(s.db.WithContext(ctx), sender.CompanyID, *sender.UserID)
	if err != nil || role == RoleCompanyAdmin {
		return nil, err
	}
	var l AgentLimit
	err = s.db.WithContext(ctx).Where("company_id = ? AND user_id = ?", sender.CompanyID, *sender.UserID).First(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if l.MaxPerGiftCents == nil && l.MonthlyBudgetCents == nil {
		return nil, nil
	}
	return &l, nil
}

func (s *Store) companyRole(tx *gorm.DB, companyID, userID uint) (string, error) {
	var m Membership
	err := tx.Where("company_id = ? AND user_id = ?", companyID, userID).First(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", ErrForbidden
	}
	return m.Role, err
}

// withinLimits checks one gift against the agent's limits. The month's use
// counts the agent's gifts that went out (sent directly or approved), not
// those waiting or cancelled.
func (s *Store) withinLimits(tx *gorm.DB, l *AgentLimit, sender GiftSender, amount int64, exceptID uint) (bool, error) {
	if l.MaxPerGiftCents != nil && amount > *l.MaxPerGiftCents {
		return false, nil
	}
	if l.MonthlyBudgetCents == nil {
		return true, nil
	}
	used, err := s.agentMonthUse(tx, sender.CompanyID, *sender.UserID, exceptID)
	if err != nil {
		return false, err
	}
	return used+amount <= *l.MonthlyBudgetCents, nil
}

func (s *Store) agentMonthUse(tx *gorm.DB, companyID, userID, exceptID uint) (int64, error) {
	var used int64
	err := tx.Model(&Gift{}).Select("COALESCE(SUM(amount_cents), 0)").
		Where("company_id = ? AND sender_user_id = ? AND created_at >= ? AND id <> ? AND status NOT IN ?",
			companyID, userID, monthStart(s.Now()), exceptID, []string{GiftPendingApproval, GiftCancelled}).
		Scan(&used).Error
	if err != nil {
		return 0, err
	}
	reserved, err := bulkReservedCents(tx, companyID, &userID)
	return used + reserved, err
}

// wantsGiftMail reports whether a gift that goes out is mailed to its recipient.
func wantsGiftMail(g *Gift, compose GiftMailComposer) bool {
	return g.Notify == NotifyEmail && g.RecipientEmail != "" && compose != nil
}

func (s *Store) queueGiftMail(tx *gorm.DB, g *Gift, compose GiftMailComposer) error {
	if !wantsGiftMail(g, compose) {
		return nil
	}
	var full Gift
	if err := tx.Preload("Company").Preload("Merchant").
		Preload("Offers", func(db *gorm.DB) *gorm.DB { return db.Order("position") }).Preload("Offers.Merchant").
		First(&full, g.ID).Error; err != nil {
		return err
	}
	m, err := s.giftMail(&full, compose)
	if err != nil {
		return err
	}
	return s.enqueueMail(tx, m)
}

// giftMail renders the recipient's mail for a gift that has Company and
// Offers.Merchant loaded.
func (s *Store) giftMail(full *Gift, compose GiftMailComposer) (Mail, error) {
	m, err := compose(full, s.GiftClaimToken(full))
	if err != nil {
		return Mail{}, err
	}
	m.To = full.RecipientEmail
	m.GiftID = &full.ID
	if full.SendAt != nil {
		m.NextAttempt = *full.SendAt // not before the scheduled time
	}
	return m, nil
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

// GiftByClaimToken finds a gift by its claim link (any company). Gifts still
// waiting for approval or cancelled are not claimable and look unknown.
func (s *Store) GiftByClaimToken(ctx context.Context, token string) (*Gift, error) {
	if len(token) < 20 || len(token) > 64 {
		return nil, ErrNotFound
	}
	g, err := s.loadGift(s.db.WithContext(ctx).Where("gifts.claim_hash = ?", s.claimHash(token)))
	if err != nil {
		return nil, err
	}
	return s.claimable(g)
}

// ClaimPageGift is GiftByClaimToken for the claim page, the busiest page:
// one query for the gift with its company and partner; the offered
// partners (two more queries) only while the gift is not claimed yet (no
// code), as the claimed voucher does not show them. A gift for one named
// partner has its merchant from the start and is still unclaimed: its one
// offer is what the page asks the recipient to take. SenderUser is not
// loaded.
func (s *Store) ClaimPageGift(ctx context.Context, token string) (*Gift, error) {
	if len(token) < 20 || len(token) > 64 {
		return nil, ErrNotFound
	}
	var g Gift
	err := s.db.WithContext(ctx).Joins("Company").Joins("Merchant").
		Where("gifts.claim_hash = ?", s.claimHash(token)).Take(&g).Error
	if err != nil {
		return nil, notFound(err)
	}
	if g.CodeHash == nil {
		err := s.db.WithContext(ctx).Where("gift_id = ?", g.ID).Order("position").Preload("Merchant").Find(&g.Offers).Error
		if err != nil {
			return nil, err
		}
	}
	s.markScheduled(&g)
	return s.claimable(&g)
}

func (s *Store) claimable(g *Gift) (*Gift, error) {
	if g.Status == GiftPendingApproval || g.Status == GiftCancelled {
		return nil, ErrNotFound
	}
	if g.SendAt != nil && g.SendAt.After(s.Now()) {
		return nil, ErrNotFound // scheduled: the link works from SendAt on
	}
	return g, nil
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

// GiftCanceller says who cancels or decides: a member or an API key.
type GiftCanceller = GiftSender

// CancelGift takes back a gift that was not claimed yet: the amount returns
// to the company's credit in the same transaction. Agents may cancel only
// their own gifts; admins and API keys any of the company. After a claim it
// is ErrConflict.
func (s *Store) CancelGift(ctx context.Context, by GiftCanceller, publicID string) (*Gift, error) {
	g, err := s.GiftByPublicID(ctx, by.CompanyID, publicID)
	if err != nil {
		return nil, err
	}
	if by.APIKeyID == nil {
		if by.UserID == nil {
			return nil, ErrForbidden
		}
		role, err := s.companyRole(s.db.WithContext(ctx), by.CompanyID, *by.UserID)
		if err != nil {
			return nil, err
		}
		if role != RoleCompanyAdmin && (g.SenderUserID == nil || *g.SenderUserID != *by.UserID) {
			return nil, ErrForbidden
		}
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		return s.giveBack(tx, g, []string{GiftPendingApproval, GiftSent}, "gift.cancelled", "", by.actor(), nil)
	})
	if err != nil {
		return nil, err
	}
	return s.giftByID(ctx, g.ID)
}

// giveBack cancels a gift that is still in one of the from statuses (a
// conditional update, so it cannot race a claim or an approval) and books its
// value back to the company's credit.
func (s *Store) giveBack(tx *gorm.DB, g *Gift, from []string, kind, note string, a Actor, decidedBy *uint) error {
	now := s.Now()
	upd := map[string]any{"status": GiftCancelled, "balance_cents": 0, "cancelled_at": now, "updated_at": now}
	if decidedBy != nil {
		upd["decided_by"], upd["decided_at"], upd["decision_note"] = *decidedBy, now, note
	}
	res := tx.Model(&Gift{}).Where("id = ? AND status IN ? AND balance_cents = ?", g.ID, from, g.AmountCents).Updates(upd)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrConflict
	}
	if _, err := s.book(tx, Booking{Kind: kind, IdempotencyKey: kind + ":" + g.PublicID, Currency: g.Currency, Memo: "gift " + g.PublicID,
		Postings: Move(AccountVoucher(g.ID), AccountCompanyCredit(g.CompanyID), g.AmountCents)}); err != nil {
		return err
	}
	// A scheduled mail that has not gone out yet is withdrawn.
	if err := tx.Where("gift_id = ? AND status = ?", g.ID, MailQueued).Delete(&Mail{}).Error; err != nil {
		return err
	}
	if err := audit(tx, a, kind, "gift", &g.ID, map[string]any{"public_id": g.PublicID, "amount_cents": g.AmountCents}); err != nil {
		return err
	}
	cancelled := *g
	cancelled.Status, cancelled.BalanceCents = GiftCancelled, 0
	return s.emitHook(tx, g.CompanyID, HookGiftCancelled, giftHookData(&cancelled))
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

// ApproveGift lets a company admin send a gift that waited for approval
// (its amount was reserved when it was created); the mail is queued now.
func (s *Store) ApproveGift(ctx context.Context, companyID, adminID uint, publicID, note string, compose GiftMailComposer, tell DecisionMailComposer) (*Gift, error) {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return nil, err
	}
	v := ValidationErrors{}
	note = checkText(v, "note", note, 0, 1000)
	if err := v.Err(); err != nil {
		return nil, err
	}
	g, err := s.GiftByPublicID(ctx, companyID, publicID)
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		now := s.Now()
		res := tx.Model(&Gift{}).Where("id = ? AND status = ?", g.ID, GiftPendingApproval).
			Updates(map[string]any{"status": GiftSent, "sent_at": now, "decided_by": adminID, "decided_at": now, "decision_note": note, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		if err := audit(tx, UserActor(adminID), "gift.approved", "gift", &g.ID, map[string]any{"public_id": g.PublicID}); err != nil {
			return err
		}
		sent := *g
		sent.Status = GiftSent
		if err := s.emitHook(tx, g.CompanyID, HookGiftSent, giftHookData(&sent)); err != nil {
			return err
		}
		if err := s.queueGiftMail(tx, g, compose); err != nil {
			return err
		}
		return s.queueDecisionMail(tx, g, adminID, true, note, tell)
	})
	if err != nil {
		return nil, err
	}
	return s.giftByID(ctx, g.ID)
}

// DecisionMailComposer renders the message an agent gets when an admin
// approves or declines the agent's waiting gift (g.DecisionNote holds the
// admin's note).
type DecisionMailComposer func(g *Gift, agent *User, approved bool) (Mail, error)

// queueDecisionMail tells the agent who sent g about the admin's decision,
// in the same transaction as the decision. Nothing is sent when the gift
// came through the API, when the admin decided on their own gift, or
// without a composer.
func (s *Store) queueDecisionMail(tx *gorm.DB, g *Gift, adminID uint, approved bool, note string, tell DecisionMailComposer) error {
	if tell == nil || g.SenderUserID == nil || *g.SenderUserID == adminID {
		return nil
	}
	var agent User
	if err := tx.First(&agent, *g.SenderUserID).Error; err != nil {
		return notFound(err)
	}
	decided := *g
	decided.DecisionNote = note
	m, err := tell(&decided, &agent, approved)
	if err != nil {
		return err
	}
	m.To = agent.Email
	return s.enqueueMail(tx, m)
}

// DeclineGift lets a company admin turn down a waiting gift with a note for
// the agent; the reserved amount returns to the credit.
func (s *Store) DeclineGift(ctx context.Context, companyID, adminID uint, publicID, note string, tell DecisionMailComposer) (*Gift, error) {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return nil, err
	}
	v := ValidationErrors{}
	note = checkText(v, "note", note, 0, 1000)
	if err := v.Err(); err != nil {
		return nil, err
	}
	g, err := s.GiftByPublicID(ctx, companyID, publicID)
	if err != nil {
		return nil, err
	}
	if g.Status != GiftPendingApproval {
		return nil, ErrConflict
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.giveBack(tx, g, []string{GiftPendingApproval}, "gift.declined", note, UserActor(adminID), &adminID); err != nil {
			return err
		}
		return s.queueDecisionMail(tx, g, adminID, false, note, tell)
	})
	if err != nil {
		return nil, err
	}
	return s.giftByID(ctx, g.ID)
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

// AgentLimitRow is one agent of a company with their limits and this
// month's use, for the admin's limits page.
type AgentLimitRow struct {
	User               User
	Role               string
	MaxPerGiftCents    *int64
	MonthlyBudgetCents *int64
	UsedCents          int64
}

// AgentLimits lists the company's members with their limits (admins have none).
func (s *Store) AgentLimits(ctx context.Context, companyID uint) ([]AgentLimitRow, error) {
	db := s.db.WithContext(ctx)
	var ms []Membership
	if err := db.Preload("User").Where("company_id = ?", companyID).Order("id").Find(&ms).Error; err != nil {
		return nil, err
	}
	var ls []AgentLimit
	if err := db.Where("company_id = ?", companyID).Find(&ls).Error; err != nil {
		return nil, err
	}
	byUser := map[uint]AgentLimit{}
	for _, l := range ls {
		byUser[l.UserID] = l
	}
	out := make([]AgentLimitRow, 0, len(ms))
	for _, m := range ms {
		r := AgentLimitRow{User: m.User, Role: m.Role}
		if l, ok := byUser[m.UserID]; ok && m.Role == RoleCompanyAgent {
			r.MaxPerGiftCents, r.MonthlyBudgetCents = l.MaxPerGiftCents, l.MonthlyBudgetCents
		}
		used, err := s.agentMonthUse(db, companyID, m.UserID, 0)
		if err != nil {
			return nil, err
		}
		r.UsedCents = used
		out = append(out, r)
	}
	return out, nil
}

// SetAgentLimit lets a company admin set (nil: remove) an agent's limits.
func (s *Store) SetAgentLimit(ctx context.Context, companyID, adminID, agentID uint, maxPerGift, monthly *int64) error {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return err
	}
	role, err := s.companyRole(s.db.WithContext(ctx), companyID, agentID)
	if errors.Is(err, ErrForbidden) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if role != RoleCompanyAgent {
		return ValidationErrors{"user": MsgInvalid}
	}
	v := ValidationErrors{}
	if maxPerGift != nil && (*maxPerGift < 0 || *maxPerGift > 100_000_00) {
		v.Add("max_per_gift", MsgInvalid)
	}
	if monthly != nil && (*monthly < 0 || *monthly > 10_000_000_00) {
		v.Add("monthly_budget", MsgInvalid)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var l AgentLimit
		err := tx.Where("company_id = ? AND user_id = ?", companyID, agentID).First(&l).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			l = AgentLimit{CompanyID: companyID, UserID: agentID, MaxPerGiftCents: maxPerGift, MonthlyBudgetCents: monthly}
			err = tx.Omit("Company", "User").Create(&l).Error
		case err == nil:
			err = tx.Model(&AgentLimit{}).Where("id = ?", l.ID).
				Updates(map[string]any{"max_per_gift_cents": maxPerGift, "monthly_budget_cents": monthly, "updated_at": s.Now()}).Error
		}
		if err != nil {
			return notFound(err)
		}
		return audit(tx, UserActor(adminID), "agent_limit.set", "user", &agentID, map[string]any{"max_per_gift_cents": maxPerGift, "monthly_budget_cents": monthly})
	})
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

// EnsureAgentLimit gives an agent limits unless they already have some (demo
// seeding: running it again changes nothing).
func (s *Store) EnsureAgentLimit(ctx context.Context, companyID, userID uint, maxPerGift, monthly int64) error {
	l := AgentLimit{CompanyID: companyID, UserID: userID, MaxPerGiftCents: &maxPerGift, MonthlyBudgetCents: &monthly}
	return s.db.WithContext(ctx).Omit("Company", "User").
		Where(AgentLimit{CompanyID: companyID, UserID: userID}).Attrs(l).FirstOrCreate(&l).Error
}
