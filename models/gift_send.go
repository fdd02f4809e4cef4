package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// GiftInput is a gift to send (web form, API, a bulk row).
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

// checkSendAt validates a scheduled delivery time: in the future and at
// most GiftScheduleMaxDays ahead.
func checkSendAt(v ValidationErrors, sendAt *time.Time, now time.Time) {
	if sendAt == nil {
		return
	}
	switch {
	case !sendAt.After(now):
		v.Add("send_at", MsgGiftSendAtPast)
	case sendAt.After(now.AddDate(0, 0, GiftScheduleMaxDays)):
		v.Add("send_at", MsgGiftSendAtFar)
	}
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
func (s *Store) SendGift(ctx context.Context, places *Places, sender GiftSender, in GiftInput) (*Gift, bool, error) {
	v, reqHash := s.validateGift(&in)
	if in.IdempotencyKey != "" {
		if g, err := s.giftByIdemKey(ctx, sender.CompanyID, in.IdempotencyKey, reqHash); !errors.Is(err, ErrNotFound) {
			return g, false, err
		}
	}
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	company, err := s.sendingCompany(ctx, sender.CompanyID, &in)
	if err != nil {
		return nil, false, err
	}
	limited, err := s.senderLimits(ctx, sender)
	if err != nil {
		return nil, false, err
	}
	merchantIDs, err := s.offeredPartners(ctx, places, company, &in)
	if err != nil {
		return nil, false, err
	}
	now := s.Now()
	g := s.newGift(company.ID, sender, &in, merchantIDs, reqHash, now)
	err = s.tx(ctx, func(tx *gorm.DB) error {
		return s.writeGift(tx, &g, company, sender, limited, merchantIDs, now)
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

// sendingCompany loads the sending company with its region and checks the
// input against it: the currency is the region's (filled in when empty)
// and the reason one of the company's active ones.
func (s *Store) sendingCompany(ctx context.Context, companyID uint, in *GiftInput) (*Company, error) {
	db := s.db.WithContext(ctx)
	var company Company
	if err := db.Preload("Region").First(&company, companyID).Error; err != nil {
		return nil, notFound(err)
	}
	if in.Currency == "" {
		in.Currency = company.Region.Currency
	} else if in.Currency != company.Region.Currency {
		return nil, ValidationErrors{"currency": MsgGiftCurrency}
	}
	if err := s.checkGiftReason(db, company.ID, in.ReasonCode); err != nil {
		return nil, err
	}
	return &company, nil
}

// offeredPartners returns the partners a gift offers: those chosen, or the
// GiftNearMerchants nearest to in.Near in the company's region
// (ValidationErrors when there are none).
func (s *Store) offeredPartners(ctx context.Context, places *Places, company *Company, in *GiftInput) ([]uint, error) {
	merchantIDs := in.MerchantIDs
	if in.Near == "" {
		return merchantIDs, nil
	}
	hits, _, err := s.SearchMerchants(ctx, places, CatalogQuery{Region: company.Region.Slug, Near: in.Near, Limit: GiftNearMerchants})
	if err != nil {
		return nil, err
	}
	if len(hits) == 0 {
		return nil, ValidationErrors{"near": MsgGiftNearEmpty}
	}
	for _, h := range hits {
		merchantIDs = append(merchantIDs, h.ID)
	}
	return merchantIDs, nil
}

// writeGift is SendGift's transaction: the partners still take gifts, the
// gift and its offers are written, the amount moves from the company's
// credit to the gift's voucher account, the customer cap and the agent's
// limits decide between sent and waiting for approval, and a sent gift
// gets its webhook and mail.
func (s *Store) writeGift(tx *gorm.DB, g *Gift, company *Company, sender GiftSender, limited *AgentLimit, merchantIDs []uint,
	now time.Time) error {
	if err := checkPartnersTakeGifts(tx, merchantIDs, company.RegionID, now); err != nil {
		return err
	}
	if err := tx.Omit("Offers", "Company", "SenderUser", "Merchant").Create(g).Error; err != nil {
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
	if err := s.checkCustomerCap(tx, g, now); err != nil {
		return err
	}
	if err := s.decideApproval(tx, g, limited, sender, now); err != nil {
		return err
	}
	if err := audit(tx, sender.actor(), "gift.created", "gift", &g.ID, map[string]any{"public_id": g.PublicID, "amount_cents": g.AmountCents, "status": g.Status}); err != nil {
		return err
	}
	if g.Status == GiftSent {
		if err := s.emitHook(tx, g.CompanyID, HookGiftSent, giftHookData(g)); err != nil {
			return err
		}
		return s.queueGiftMail(tx, g)
	}
	return nil
}

// checkPartnersTakeGifts makes sure every partner is approved in the region
// and takes new gifts: partners on holiday or at their monthly cap take
// none (gifts already issued stay valid).
func checkPartnersTakeGifts(tx *gorm.DB, merchantIDs []uint, regionID uint, now time.Time) error {
	var ms []Merchant
	if err := tx.Where("id IN ? AND status = ? AND region_id = ?", merchantIDs, MerchantApproved, regionID).Find(&ms).Error; err != nil {
		return err
	}
	if len(ms) != len(merchantIDs) {
		return ValidationErrors{"merchant_ids": MsgGiftMerchant}
	}
	for i := range ms {
		issued, err := merchantGiftsThisMonth(tx, ms[i].ID, now)
		if err != nil {
			return err
		}
		if !ms[i].AcceptsGifts(now, issued) {
			return ValidationErrors{"merchant_ids": MsgGiftMerchant}
		}
	}
	return nil
}

// decideApproval sets the new gift's status: sent, or waiting for approval
// when it is above the agent's limits, and stores it.
func (s *Store) decideApproval(tx *gorm.DB, g *Gift, limited *AgentLimit, sender GiftSender, now time.Time) error {
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
	return tx.Model(&Gift{}).Where("id = ?", g.ID).Updates(map[string]any{"status": g.Status, "sent_at": g.SentAt}).Error
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

// wantsGiftMail reports whether a gift that goes out is mailed to its recipient.
func (s *Store) wantsGiftMail(g *Gift) bool {
	return g.Notify == NotifyEmail && g.RecipientEmail != "" && s.mails != nil
}

// queueGiftMail queues the recipient's mail of a gift that goes out, in the
// sending (or approving) transaction, so the gift and its mail are written
// together.
func (s *Store) queueGiftMail(tx *gorm.DB, g *Gift) error {
	if !s.wantsGiftMail(g) {
		return nil
	}
	var full Gift
	if err := tx.Preload("Company").Preload("Merchant").
		Preload("Offers", func(db *gorm.DB) *gorm.DB { return db.Order("position") }).Preload("Offers.Merchant").
		First(&full, g.ID).Error; err != nil {
		return err
	}
	m, err := s.giftMail(&full)
	if err != nil {
		return err
	}
	return s.enqueueMail(tx, m)
}

// giftMail renders the recipient's mail for a gift that has Company and
// Offers.Merchant loaded.
func (s *Store) giftMail(full *Gift) (Mail, error) {
	m, err := s.mails.GiftSent(full, s.GiftClaimToken(full))
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
