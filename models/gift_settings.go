package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Message keys of gift settings and scheduled delivery.
const (
	MsgGiftCustomerCap  = "gift_customer_cap"
	MsgGiftSendAtPast   = "gift_send_at_past"
	MsgGiftSendAtFar    = "gift_send_at_far"
	MsgGiftReason       = "gift_reason"
	MsgGiftPartnerTaken = "gift_partner_taken"
)

// Limits of gift settings and scheduled delivery.
const (
	GiftScheduleMaxDays = 365 // how far ahead a gift may be scheduled
	GiftCapMaxCount     = 100
	GiftCapMaxDays      = 3650
	GiftTemplatesMax    = 100
	GiftReasonsMax      = 50
	PreferredMax        = 50
)

// GiftTemplate is a message text the company admin prepares for agents.
type GiftTemplate struct {
	ID        uint    `gorm:"primaryKey"`
	CompanyID uint    `gorm:"not null;index"`
	Company   Company `gorm:"constraint:OnDelete:CASCADE"`
	Name      string  `gorm:"size:80;not null"`
	Text      string  `gorm:"size:4000;not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GiftReason is one entry of a company's own list of reason codes. Codes
// are stable (the API and exports use them); entries are deactivated, never
// deleted, so old gifts keep their label.
type GiftReason struct {
	ID        uint    `gorm:"primaryKey"`
	CompanyID uint    `gorm:"not null;uniqueIndex:idx_gift_reason_code,priority:1"`
	Company   Company `gorm:"constraint:OnDelete:CASCADE"`
	Code      string  `gorm:"size:40;not null;uniqueIndex:idx_gift_reason_code,priority:2"`
	Name      string  `gorm:"size:80;not null"`            // German label
	NameEN    string  `gorm:"size:80;not null;default:''"` // English label ("" shows Name)
	Active    bool    `gorm:"not null;default:true"`
	Position  int     `gorm:"not null;default:0"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Label is the reason's name in lang.
func (r GiftReason) Label(lang string) string {
	if lang == "en" && r.NameEN != "" {
		return r.NameEN
	}
	return r.Name
}

// PreferredPartner is a merchant in the company's own partner network,
// offered first on the send form.
type PreferredPartner struct {
	CompanyID  uint     `gorm:"primaryKey;autoIncrement:false"`
	Company    Company  `gorm:"constraint:OnDelete:CASCADE"`
	MerchantID uint     `gorm:"primaryKey;autoIncrement:false;index"`
	Merchant   Merchant `gorm:"constraint:OnDelete:CASCADE"`
	Position   int      `gorm:"not null"`
	CreatedAt  time.Time
}

// GiftSettings are a company's gifting rules. CapCount 0 means no cap.
type GiftSettings struct {
	CompanyID uint    `gorm:"primaryKey;autoIncrement:false"`
	Company   Company `gorm:"constraint:OnDelete:CASCADE"`
	CapCount  int     `gorm:"not null;default:0"` // at most CapCount gestures per customer …
	CapDays   int     `gorm:"not null;default:0"` // … per CapDays days
	UpdatedAt time.Time
}

// defaultGiftReasons are seeded for every company (German, English).
var defaultGiftReasons = []GiftReason{
	{Code: "late_delivery", Name: "Lieferverzug", NameEN: "Late delivery"},
	{Code: "defect", Name: "Mangel / defekt", NameEN: "Defect"},
	{Code: "service_failure", Name: "Service-Panne", NameEN: "Service failure"},
	{Code: "wrong_item", Name: "Falscher Artikel", NameEN: "Wrong item"},
	{Code: "billing", Name: "Fehler in der Rechnung", NameEN: "Billing error"},
	{Code: "goodwill", Name: "Kulanz", NameEN: "Goodwill"},
	{Code: "other", Name: "Sonstiges", NameEN: "Other"},
}

// ensureGiftReasons seeds the default reasons for a company that has none
// yet (new companies, the demo, companies from before reason lists). Racing
// callers insert nothing twice (unique index, DO NOTHING).
func (s *Store) ensureGiftReasons(db *gorm.DB, companyID uint) error {
	var n int64
	if err := db.Model(&GiftReason{}).Where("company_id = ?", companyID).Count(&n).Error; err != nil || n > 0 {
		return err
	}
	rows := make([]GiftReason, len(defaultGiftReasons))
	for i, r := range defaultGiftReasons {
		r.CompanyID, r.Active, r.Position = companyID, true, i
		rows[i] = r
	}
	return db.Omit("Company").Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
}

// EnsureGiftReasons gives a company the default reason list unless it has one.
func (s *Store) EnsureGiftReasons(ctx context.Context, companyID uint) error {
	return s.ensureGiftReasons(s.db.WithContext(ctx), companyID)
}

// GiftReasons lists the company's reasons in order (all, or only active).
func (s *Store) GiftReasons(ctx context.Context, companyID uint, activeOnly bool) ([]GiftReason, error) {
	db := s.db.WithContext(ctx)
	if err := s.ensureGiftReasons(db, companyID); err != nil {
		return nil, err
	}
	q := db.Where("company_id = ?", companyID)
	if activeOnly {
		q = q.Where("active = ?", true)
	}
	var rs []GiftReason
	err := q.Order("position, id").Find(&rs).Error
	return rs, err
}

// GiftReasonLabels maps every reason code of the company (also inactive
// ones, for old gifts) to its label in lang.
func (s *Store) GiftReasonLabels(ctx context.Context, companyID uint, lang string) (map[string]string, error) {
	rs, err := s.GiftReasons(ctx, companyID, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rs))
	for _, r := range rs {
		out[r.Code] = r.Label(lang)
	}
	return out, nil
}

// checkGiftReason validates a reason code against the company's active list.
func (s *Store) checkGiftReason(db *gorm.DB, companyID uint, code string) error {
	if code == "" {
		return nil
	}
	if err := s.ensureGiftReasons(db, companyID); err != nil {
		return err
	}
	var n int64
	if err := db.Model(&GiftReason{}).Where("company_id = ? AND code = ? AND active = ?", companyID, code, true).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ValidationErrors{"reason_code": MsgGiftReason}
	}
	return nil
}

// GiftReasonInput is a reason as the admin edits it.
type GiftReasonInput struct {
	Name   string
	NameEN string
	Active bool
}

func reasonCode(name string) string {
	c := strings.ReplaceAll(Slugify(name), "-", "_")
	if len(c) > 40 {
		c = strings.TrimRight(c[:40], "_")
	}
	return c
}

// AddGiftReason adds a reason to the company's list; its code is derived
// from the German name and stays fixed afterwards.
func (s *Store) AddGiftReason(ctx context.Context, companyID, adminID uint, in GiftReasonInput) (*GiftReason, error) {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return nil, err
	}
	v := ValidationErrors{}
	in.Name = checkText(v, "name", in.Name, 2, 80)
	in.NameEN = checkText(v, "name_en", in.NameEN, 0, 80)
	code := reasonCode(in.Name)
	if _, bad := v["name"]; !bad && code == "" {
		v.Add("name", MsgInvalid)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	r := GiftReason{CompanyID: companyID, Code: code, Name: in.Name, NameEN: in.NameEN, Active: true}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.ensureGiftReasons(tx, companyID); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&GiftReason{}).Where("company_id = ?", companyID).Count(&n).Error; err != nil {
			return err
		}
		if n >= GiftReasonsMax {
			return ValidationErrors{"name": MsgTooLong}
		}
		r.Position = int(n)
		if err := tx.Omit("Company").Create(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return ValidationErrors{"name": MsgTaken}
			}
			return err
		}
		return audit(tx, UserActor(adminID), "gift_reason.added", "gift_reason", &r.ID, map[string]any{"code": code})
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateGiftReason renames a reason or (de)activates it; other companies'
// reasons are ErrNotFound.
func (s *Store) UpdateGiftReason(ctx context.Context, companyID, adminID, id uint, in GiftReasonInput) error {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return err
	}
	v := ValidationErrors{}
	in.Name = checkText(v, "name", in.Name, 2, 80)
	in.NameEN = checkText(v, "name_en", in.NameEN, 0, 80)
	if err := v.Err(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&GiftReason{}).Where("id = ? AND company_id = ?", id, companyID).
			Updates(map[string]any{"name": in.Name, "name_en": in.NameEN, "active": in.Active, "updated_at": s.Now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return audit(tx, UserActor(adminID), "gift_reason.updated", "gift_reason", &id, map[string]any{"active": in.Active})
	})
}

// GiftTemplates lists the company's message templates by name.
func (s *Store) GiftTemplates(ctx context.Context, companyID uint) ([]GiftTemplate, error) {
	var ts []GiftTemplate
	err := s.db.WithContext(ctx).Where("company_id = ?", companyID).Order("name, id").Find(&ts).Error
	return ts, err
}

// GiftTemplate returns one of the company's templates; other companies'
// templates and unknown ids are ErrNotFound alike.
func (s *Store) GiftTemplate(ctx context.Context, companyID, id uint) (*GiftTemplate, error) {
	var t GiftTemplate
	err := s.db.WithContext(ctx).Where("id = ? AND company_id = ?", id, companyID).First(&t).Error
	return &t, notFound(err)
}

// GiftTemplateInput is a template as the admin edits it.
type GiftTemplateInput struct {
	Name string
	Text string
}

func checkTemplate(in *GiftTemplateInput) error {
	v := ValidationErrors{}
	in.Name = checkText(v, "name", in.Name, 2, 80)
	in.Text = checkText(v, "text", in.Text, 1, GiftMessageMaxRune)
	return v.Err()
}

// SaveGiftTemplate creates (id 0) or updates a company's template.
func (s *Store) SaveGiftTemplate(ctx context.Context, companyID, adminID, id uint, in GiftTemplateInput) (*GiftTemplate, error) {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return nil, err
	}
	if err := checkTemplate(&in); err != nil {
		return nil, err
	}
	t := GiftTemplate{ID: id, CompanyID: companyID, Name: in.Name, Text: in.Text}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if id == 0 {
			var n int64
			if err := tx.Model(&GiftTemplate{}).Where("company_id = ?", companyID).Count(&n).Error; err != nil {
				return err
			}
			if n >= GiftTemplatesMax {
				return ValidationErrors{"name": MsgTooLong}
			}
			if err := tx.Omit("Company").Create(&t).Error; err != nil {
				return err
			}
		} else {
			res := tx.Model(&GiftTemplate{}).Where("id = ? AND company_id = ?", id, companyID).
				Updates(map[string]any{"name": in.Name, "text": in.Text, "updated_at": s.Now()})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return ErrNotFound
			}
		}
		return audit(tx, UserActor(adminID), "gift_template.saved", "gift_template", &t.ID, nil)
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteGiftTemplate removes a company's template (gifts keep their text).
func (s *Store) DeleteGiftTemplate(ctx context.Context, companyID, adminID, id uint) error {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND company_id = ?", id, companyID).Delete(&GiftTemplate{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return audit(tx, UserActor(adminID), "gift_template.deleted", "gift_template", &id, nil)
	})
}

// PreferredPartners lists the company's partner network in order, with the
// merchants (whatever their current status; the send form shows only those
// that take gifts).
func (s *Store) PreferredPartners(ctx context.Context, companyID uint) ([]PreferredPartner, error) {
	var ps []PreferredPartner
	err := s.db.WithContext(ctx).Preload("Merchant").Where("company_id = ?", companyID).Order("position, merchant_id").Find(&ps).Error
	return ps, err
}

// AddPreferredPartner appends an approved merchant of the company's region
// to its partner network.
func (s *Store) AddPreferredPartner(ctx context.Context, companyID, adminID, merchantID uint) error {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var c Company
		if err := tx.First(&c, companyID).Error; err != nil {
			return notFound(err)
		}
		var n int64
		if err := tx.Model(&Merchant{}).Where("id = ? AND status = ? AND region_id = ?", merchantID, MerchantApproved, c.RegionID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return ValidationErrors{"merchant_id": MsgGiftMerchant}
		}
		var maxPos struct{ N int64 }
		if err := tx.Model(&PreferredPartner{}).Select("COUNT(*) AS n").Where("company_id = ?", companyID).Scan(&maxPos).Error; err != nil {
			return err
		}
		if maxPos.N >= PreferredMax {
			return ValidationErrors{"merchant_id": MsgTooLong}
		}
		var last struct{ P int }
		if err := tx.Model(&PreferredPartner{}).Select("COALESCE(MAX(position), -1) AS p").Where("company_id = ?", companyID).Scan(&last).Error; err != nil {
			return err
		}
		p := PreferredPartner{CompanyID: companyID, MerchantID: merchantID, Position: last.P + 1}
		if err := tx.Omit("Company", "Merchant").Create(&p).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return ValidationErrors{"merchant_id": MsgGiftPartnerTaken}
			}
			return err
		}
		return audit(tx, UserActor(adminID), "preferred_partner.added", "merchant", &merchantID, nil)
	})
}

// RemovePreferredPartner takes a merchant off the company's partner network.
func (s *Store) RemovePreferredPartner(ctx context.Context, companyID, adminID, merchantID uint) error {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("company_id = ? AND merchant_id = ?", companyID, merchantID).Delete(&PreferredPartner{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return audit(tx, UserActor(adminID), "preferred_partner.removed", "merchant", &merchantID, nil)
	})
}

// SortPreferredFirst orders catalog hits: the company's preferred partners
// first (in the admin's order), then the others as they came. It reports
// which ids are preferred.
func SortPreferredFirst(hits []CatalogHit, preferred []PreferredPartner) ([]CatalogHit, map[uint]bool) {
	rank := make(map[uint]int, len(preferred))
	for i, p := range preferred {
		rank[p.MerchantID] = i
	}
	first := make([]CatalogHit, len(preferred))
	found := make([]bool, len(preferred))
	rest := make([]CatalogHit, 0, len(hits))
	marked := map[uint]bool{}
	for _, h := range hits {
		if i, ok := rank[h.ID]; ok {
			first[i], found[i] = h, true
			marked[h.ID] = true
			continue
		}
		rest = append(rest, h)
	}
	out := make([]CatalogHit, 0, len(hits))
	for i := range first {
		if found[i] {
			out = append(out, first[i])
		}
	}
	return append(out, rest...), marked
}

// CompanyGiftSettings returns the company's rules (zero values: no cap).
func (s *Store) CompanyGiftSettings(ctx context.Context, companyID uint) (*GiftSettings, error) {
	return s.giftSettings(s.db.WithContext(ctx), companyID)
}

func (s *Store) giftSettings(db *gorm.DB, companyID uint) (*GiftSettings, error) {
	st := GiftSettings{CompanyID: companyID}
	err := db.Where("company_id = ?", companyID).First(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &st, nil
	}
	return &st, err
}

// SetGiftCap sets "at most count gestures per customer per days days"
// (count 0: no cap).
func (s *Store) SetGiftCap(ctx context.Context, companyID, adminID uint, count, days int) error {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return err
	}
	v := ValidationErrors{}
	if count < 0 || count > GiftCapMaxCount {
		v.Add("cap_count", MsgInvalid)
	}
	if count > 0 && (days < 1 || days > GiftCapMaxDays) {
		v.Add("cap_days", MsgInvalid)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if count == 0 {
		days = 0
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		st := GiftSettings{CompanyID: companyID, CapCount: count, CapDays: days, UpdatedAt: s.Now()}
		if err := tx.Omit("Company").Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "company_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"cap_count", "cap_days", "updated_at"}),
		}).Create(&st).Error; err != nil {
			return err
		}
		return audit(tx, UserActor(adminID), "gift_settings.cap", "company", &companyID, map[string]any{"count": count, "days": days})
	})
}

// checkCustomerCap runs inside the sending transaction after the credit
// row is locked (so concurrent sends of the company are serialised): it
// counts the company's gestures to the same hashed address within the
// window, any agent, not counting cancelled or declined ones.
func (s *Store) checkCustomerCap(tx *gorm.DB, g *Gift, now time.Time) error {
	if g.RecipientHash == "" {
		return nil
	}
	st, err := s.giftSettings(tx, g.CompanyID)
	if err != nil || st.CapCount <= 0 {
		return err
	}
	var n int64
	if err := tx.Model(&Gift{}).Where("company_id = ? AND recipient_hash = ? AND status <> ? AND created_at >= ? AND id <> ?",
		g.CompanyID, g.RecipientHash, GiftCancelled, now.AddDate(0, 0, -st.CapDays), g.ID).Count(&n).Error; err != nil {
		return err
	}
	if n >= int64(st.CapCount) {
		return ValidationErrors{"recipient_email": MsgGiftCustomerCap}
	}
	return nil
}
