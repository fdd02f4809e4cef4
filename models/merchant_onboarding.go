package models

import (
	"context"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Message keys of the merchant onboarding (translated as "err.<key>").
const (
	MsgImageType       = "onboarding_image_type"
	MsgFileTooLarge    = "onboarding_file_too_large"
	MsgImageDimensions = "onboarding_image_dimensions"
	MsgAmount          = "onboarding_amount"
	MsgAmountBounds    = "onboarding_amount_bounds"
	MsgOfferSteps      = "onboarding_offer_steps"
	MsgOfferRange      = "onboarding_offer_range"
	MsgTooManyLines    = "onboarding_too_many_lines"
	MsgLineTooLong     = "onboarding_line_too_long"
	MsgAlreadyMember   = "onboarding_already_member"
	MsgStatusForbids   = "onboarding_status_forbids"
	MsgCapRange        = "onboarding_cap_range"
	MsgDate            = "onboarding_date"
)

// Where a merchant's vouchers can be redeemed.
const (
	RedeemInStore = "store"
	RedeemOnline  = "online"
	RedeemBoth    = "both"
)

// Offer modes: fixed values (10/25/50 €) or any amount in a range.
const (
	OfferSteps = "steps"
	OfferRange = "range"
)

// Limits of the voucher offer and profile texts.
const (
	OfferFloorCents    = 1_00     // smallest voucher value a merchant may accept
	OfferCeilCents     = 1_000_00 // largest
	OfferMaxSteps      = 8
	HoursMaxLines      = 10
	HoursMaxLineRunes  = 80
	LogoMaxBytes       = 2 << 20 // upload limit of a logo file
	LogoMaxSide        = 256     // logos are stored scaled to fit this square
	InviteTTL          = 7 * 24 * time.Hour
	MonthlyGiftCapMax  = 100_000
	DescriptionMinRune = 20
)

// MerchantOnboarding is the part of the merchant profile the onboarding
// wizard adds (voucher offer, logo, capacity, review state). It is embedded
// in Merchant, so its columns live in the merchants table.
type MerchantOnboarding struct {
	// OfferMode is OfferSteps or OfferRange; "" until the offer step is done.
	OfferMode string `gorm:"size:10;not null;default:''"`
	// OfferStepList holds the accepted fixed values in cents, ascending,
	// comma-separated ("1000,2500,5000").
	OfferStepList      string `gorm:"size:200;not null;default:''"`
	OfferMinCents      int64  `gorm:"not null;default:0"`
	OfferMaxCents      int64  `gorm:"not null;default:0"`
	RedeemWhere        string `gorm:"size:10;not null;default:''"` // store, online, both
	ShopURL            string `gorm:"size:300;not null;default:''"`
	RedeemInstructions string `gorm:"size:1000;not null;default:''"`
	// LogoHash is the SHA-256 of the stored logo (cache key); "" = no logo.
	LogoHash string `gorm:"size:64;not null;default:''"`
	// MonthlyGiftCap limits new goodwill vouchers per calendar month; 0 = no cap.
	MonthlyGiftCap int `gorm:"not null;default:0"`
	// GiftsPaused stops new vouchers (holidays) until GiftsPausedUntil (if
	// set); vouchers already issued stay valid.
	GiftsPaused      bool `gorm:"not null;default:false"`
	GiftsPausedUntil *time.Time
	SubmittedAt      *time.Time
	ReviewedAt       *time.Time
	// ReviewNote is the reason of the last rejection or suspension, shown to
	// the owner.
	ReviewNote string `gorm:"size:1000;not null;default:''"`
}

// OfferCents returns the fixed voucher values in cents (OfferSteps mode).
func (o MerchantOnboarding) OfferCents() []int64 {
	var out []int64
	for _, p := range strings.Split(o.OfferStepList, ",") {
		if n, err := strconv.ParseInt(p, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// AcceptsAmount reports whether a voucher of cents fits the merchant's offer.
func (o MerchantOnboarding) AcceptsAmount(cents int64) bool {
	switch o.OfferMode {
	case OfferSteps:
		for _, v := range o.OfferCents() {
			if v == cents {
				return true
			}
		}
	case OfferRange:
		return cents >= o.OfferMinCents && cents <= o.OfferMaxCents
	}
	return false
}

// RedeemsInStore and RedeemsOnline say where vouchers can be used.
func (o MerchantOnboarding) RedeemsInStore() bool {
	return o.RedeemWhere == RedeemInStore || o.RedeemWhere == RedeemBoth
}

// RedeemsOnline reports whether vouchers can be used in the online shop.
func (o MerchantOnboarding) RedeemsOnline() bool {
	return o.RedeemWhere == RedeemOnline || o.RedeemWhere == RedeemBoth
}

// ---- wizard steps ----

// MerchantBusiness is wizard step 1.
type MerchantBusiness struct{ Name, Category, Description string }

// MerchantAddress is wizard step 2. City may be empty: the postcode's place
// is used.
type MerchantAddress struct{ Street, Postcode, City string }

// MerchantContact is wizard step 3.
type MerchantContact struct{ Website, ContactEmail, OpeningHours string }

// MerchantOffer is wizard step 5 (step 4 is the logo). Amounts are typed as
// euros ("10, 25, 50", "12,50").
type MerchantOffer struct {
	Mode, Steps, Min, Max, Redeem, ShopURL, Instructions string
}

// checkHTTPSURL validates an optional https URL with a real host.
func checkHTTPSURL(v ValidationErrors, field, s string, required bool) string {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			v.Add(field, MsgRequired)
		}
		return s
	}
	if len(s) > 300 {
		v.Add(field, MsgTooLong)
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" ||
		!strings.Contains(u.Hostname(), ".") || strings.ContainsAny(s, " \t\n<>\"") {
		v.Add(field, MsgInvalidURL)
	}
	return s
}

func checkAmount(v ValidationErrors, field, s string) int64 {
	s = strings.TrimSpace(s)
	if s == "" {
		v.Add(field, MsgRequired)
		return 0
	}
	c, ok := ParseEuros(s)
	switch {
	case !ok:
		v.Add(field, MsgAmount)
	case c < OfferFloorCents || c > OfferCeilCents:
		v.Add(field, MsgAmountBounds)
	}
	return c
}

func checkHours(v ValidationErrors, field, s string) string {
	s = strings.ReplaceAll(cleanText(s), "\r", "")
	if utf8.RuneCountInString(s) > 500 {
		v.Add(field, MsgTooLong)
		return s
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if utf8.RuneCountInString(l) > HoursMaxLineRunes {
			v.Add(field, MsgLineTooLong)
		}
		lines = append(lines, l)
	}
	if len(lines) > HoursMaxLines {
		v.Add(field, MsgTooManyLines)
	}
	return strings.Join(lines, "\n")
}

// saveStep runs fn on the merchant in a transaction and saves the named
// columns (plus the folded search columns) only when fn found no problem,
// so an invalid step leaves the stored profile exactly as it was.
func (s *Store) saveStep(ctx context.Context, merchantID uint, a Actor, step string, cols []string, fn func(tx *gorm.DB, m *Merchant) error) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var m Merchant
		if err := tx.First(&m, merchantID).Error; err != nil {
			return notFound(err)
		}
		if m.Status == MerchantSuspended {
			return ValidationErrors{"status": MsgStatusForbids}
		}
		if err := fn(tx, &m); err != nil {
			return err
		}
		cols = append(cols, "city_key", "search_text", "updated_at")
		if err := tx.Model(&m).Select(cols).Updates(&m).Error; err != nil {
			return err
		}
		return audit(tx, a, "merchant.profile."+step, "merchant", &m.ID, nil)
	})
}

// SaveMerchantBusiness stores wizard step 1 (name, category, description).
// The slug stays, so links keep working after a rename.
func (s *Store) SaveMerchantBusiness(ctx context.Context, merchantID uint, in MerchantBusiness, a Actor) error {
	v := ValidationErrors{}
	in.Name = checkText(v, "name", in.Name, 2, 120)
	if in.Category == "" {
		v.Add("category", MsgRequired)
	} else if !ValidCategory(in.Category) {
		v.Add("category", MsgInvalid)
	}
	in.Description = checkText(v, "description", in.Description, DescriptionMinRune, 2000)
	if err := v.Err(); err != nil {
		return err
	}
	return s.saveStep(ctx, merchantID, a, "business", []string{"name", "category", "description"}, func(_ *gorm.DB, m *Merchant) error {
		m.Name, m.Category, m.Description = in.Name, in.Category, in.Description
		return nil
	})
}

// SaveMerchantAddress stores wizard step 2. The postcode must be a known
// German postcode; it gives the coordinates (for "near" search) and, when
// the city is left empty, the city.
func (s *Store) SaveMerchantAddress(ctx context.Context, places *Places, merchantID uint, in MerchantAddress, a Actor) error {
	v := ValidationErrors{}
	in.Street = checkText(v, "street", in.Street, 3, 200)
	in.Postcode = strings.TrimSpace(in.Postcode)
	var place Place
	switch {
	case in.Postcode == "":
		v.Add("postcode", MsgRequired)
	case !placeIsPostcode(in.Postcode):
		v.Add("postcode", MsgInvalid)
	default:
		p, ok := places.ByPostcode(in.Postcode)
		if !ok {
			v.Add("postcode", MsgUnknownPlace)
		}
		place = p
	}
	if strings.TrimSpace(in.City) == "" && place.Name != "" {
		in.City = place.Name
	}
	in.City = checkText(v, "city", in.City, 2, 80)
	if err := v.Err(); err != nil {
		return err
	}
	return s.saveStep(ctx, merchantID, a, "address", []string{"address", "postcode", "city", "lat", "lng"}, func(_ *gorm.DB, m *Merchant) error {
		m.Address, m.Postcode, m.City, m.Lat, m.Lng = in.Street, in.Postcode, in.City, place.Lat, place.Lng
		return nil
	})
}

// SaveMerchantContact stores wizard step 3.
func (s *Store) SaveMerchantContact(ctx context.Context, merchantID uint, in MerchantContact, a Actor) error {
	v := ValidationErrors{}
	in.Website = checkHTTPSURL(v, "website", in.Website, false)
	in.ContactEmail = checkEmail(v, "contact_email", in.ContactEmail)
	in.OpeningHours = checkHours(v, "opening_hours", in.OpeningHours)
	if err := v.Err(); err != nil {
		return err
	}
	return s.saveStep(ctx, merchantID, a, "contact", []string{"website", "contact_email", "opening_hours"}, func(_ *gorm.DB, m *Merchant) error {
		m.Website, m.ContactEmail, m.OpeningHours = in.Website, in.ContactEmail, in.OpeningHours
		return nil
	})
}

// SaveMerchantOffer stores wizard step 5: which voucher values the merchant
// accepts and where they can be redeemed.
func (s *Store) SaveMerchantOffer(ctx context.Context, merchantID uint, in MerchantOffer, a Actor) error {
	v := ValidationErrors{}
	var steps []int64
	var lo, hi int64
	switch in.Mode {
	case OfferSteps:
		seen := map[int64]bool{}
		if len(in.Steps) > 200 {
			v.Add("steps", MsgTooLong)
			break
		}
		// "10, 25, 50": values are separated by ", ", ";", "/", spaces or
		// lines; a comma without a space is a decimal comma ("12,50").
		parts := strings.FieldsFunc(strings.ReplaceAll(in.Steps, ", ", ";"), func(r rune) bool {
			return r == ';' || r == '/' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
		})
		if len(parts) == 0 {
			v.Add("steps", MsgRequired)
			break
		}
		if len(parts) > OfferMaxSteps {
			v.Add("steps", MsgOfferSteps)
			break
		}
		for _, p := range parts {
			c, ok := ParseEuros(p)
			if !ok {
				v.Add("steps", MsgAmount)
				break
			}
			if c < OfferFloorCents || c > OfferCeilCents {
				v.Add("steps", MsgAmountBounds)
				break
			}
			if !seen[c] {
				seen[c] = true
				steps = append(steps, c)
			}
		}
		sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	case OfferRange:
		lo = checkAmount(v, "min", in.Min)
		hi = checkAmount(v, "max", in.Max)
		if v["min"] == "" && v["max"] == "" && lo > hi {
			v.Add("max", MsgOfferRange)
		}
	case "":
		v.Add("mode", MsgRequired)
	default:
		v.Add("mode", MsgInvalid)
	}
	switch in.Redeem {
	case RedeemInStore, RedeemOnline, RedeemBoth:
	case "":
		v.Add("redeem", MsgRequired)
	default:
		v.Add("redeem", MsgInvalid)
	}
	online := in.Redeem == RedeemOnline || in.Redeem == RedeemBoth
	in.ShopURL = checkHTTPSURL(v, "shop_url", in.ShopURL, online)
	in.Instructions = checkText(v, "instructions", in.Instructions, 0, 1000)
	if err := v.Err(); err != nil {
		return err
	}
	list := make([]string, len(steps))
	for i, c := range steps {
		list[i] = strconv.FormatInt(c, 10)
	}
	return s.saveStep(ctx, merchantID, a, "offer", []string{"offer_mode", "offer_step_list", "offer_min_cents", "offer_max_cents",
		"redeem_where", "shop_url", "redeem_instructions"}, func(_ *gorm.DB, m *Merchant) error {
		m.OfferMode, m.OfferStepList, m.OfferMinCents, m.OfferMaxCents = in.Mode, strings.Join(list, ","), lo, hi
		m.RedeemWhere, m.ShopURL, m.RedeemInstructions = in.Redeem, in.ShopURL, in.Instructions
		return nil
	})
}

// ---- profile completeness and submission ----

// ProfileMissing lists what the profile still needs before it can be
// reviewed, as field → message key (empty when complete).
func (m *Merchant) ProfileMissing() ValidationErrors {
	v := ValidationErrors{}
	if utf8.RuneCountInString(m.Name) < 2 {
		v.Add("name", MsgRequired)
	}
	if !ValidCategory(m.Category) {
		v.Add("category", MsgRequired)
	}
	if utf8.RuneCountInString(m.Description) < DescriptionMinRune {
		v.Add("description", MsgRequired)
	}
	if m.Address == "" {
		v.Add("street", MsgRequired)
	}
	if m.Postcode == "" || (m.Lat == 0 && m.Lng == 0) {
		v.Add("postcode", MsgRequired)
	}
	if m.City == "" {
		v.Add("city", MsgRequired)
	}
	if m.ContactEmail == "" {
		v.Add("contact_email", MsgRequired)
	}
	if !(m.OfferMode == OfferSteps && m.OfferStepList != "") && !(m.OfferMode == OfferRange && m.OfferMaxCents > 0) {
		v.Add("offer", MsgRequired)
	}
	if m.RedeemWhere == "" {
		v.Add("redeem", MsgRequired)
	}
	if m.RedeemsOnline() && m.ShopURL == "" {
		v.Add("shop_url", MsgRequired)
	}
	return v
}

// SubmitMerchantForReview moves a draft (or rejected) merchant to pending.
// An incomplete profile is ValidationErrors naming what is missing; a
// merchant already pending stays so; approved or suspended ones are
// ErrConflict.
func (s *Store) SubmitMerchantForReview(ctx context.Context, merchantID uint, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var m Merchant
		if err := tx.First(&m, merchantID).Error; err != nil {
			return notFound(err)
		}
		switch m.Status {
		case MerchantPending:
			return nil
		case MerchantDraft, MerchantRejected:
		default:
			return ErrConflict
		}
		if err := m.ProfileMissing().Err(); err != nil {
			return err
		}
		now := s.Now()
		res := tx.Model(&Merchant{}).Where("id = ? AND status = ?", m.ID, m.Status).
			UpdateColumns(map[string]any{"status": MerchantPending, "submitted_at": now, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		return audit(tx, a, "merchant.submitted", "merchant", &m.ID, nil)
	})
}
