package models

import (
	"context"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// PausedAt reports whether the merchant takes no new vouchers at now.
func (o MerchantOnboarding) PausedAt(now time.Time) bool {
	return o.GiftsPaused && (o.GiftsPausedUntil == nil || now.Before(*o.GiftsPausedUntil))
}

// PausedNow is PausedAt(time.Now()) for templates.
func (o MerchantOnboarding) PausedNow() bool { return o.PausedAt(time.Now()) }

// AcceptsGifts reports whether an approved merchant can take one more
// goodwill voucher at now, given how many were already issued for it in
// now's calendar month in Berlin (merchantGiftsThisMonth). Status is
// checked too.
func (m *Merchant) AcceptsGifts(now time.Time, issuedThisMonth int64) bool {
	if m.Status != MerchantApproved || m.PausedAt(now) {
		return false
	}
	return m.MonthlyGiftCap == 0 || issuedThisMonth < int64(m.MonthlyGiftCap)
}

// MerchantAcceptsGifts is AcceptsGifts for a merchant by id. The caller
// (gift sending) counts the vouchers already issued for the merchant since
// the start of now's month, preferably in the same transaction that issues
// the next one, and passes the count. Unknown merchants are ErrNotFound.
func (s *Store) MerchantAcceptsGifts(ctx context.Context, merchantID uint, now time.Time, issuedThisMonth int64) (bool, error) {
	var m Merchant
	if err := s.db.WithContext(ctx).First(&m, merchantID).Error; err != nil {
		return false, notFound(err)
	}
	return m.AcceptsGifts(now, issuedThisMonth), nil
}

// ChoosableMerchant returns a merchant a company may pick for a gift right
// now: approved and not paused. Anything else is ErrNotFound, so a
// non-public merchant is indistinguishable from a missing one. (The monthly
// cap needs a count; see MerchantAcceptsGifts.)
func (s *Store) ChoosableMerchant(ctx context.Context, id uint) (*Merchant, error) {
	var m Merchant
	if err := s.db.WithContext(ctx).Where("id = ? AND status = ?", id, MerchantApproved).First(&m).Error; err != nil {
		return nil, notFound(err)
	}
	if m.PausedAt(s.Now()) {
		return nil, ErrNotFound
	}
	return &m, nil
}

// MerchantCapacity is the capacity settings form: a monthly cap (empty = no
// cap), a pause and an optional date (YYYY-MM-DD) the pause ends.
type MerchantCapacity struct {
	Cap         string
	Paused      bool
	PausedUntil string
}

// SetMerchantCapacity stores the monthly cap and the pause. Vouchers
// already issued are not affected.
func (s *Store) SetMerchantCapacity(ctx context.Context, merchantID uint, in MerchantCapacity, a Actor) error {
	v := ValidationErrors{}
	capN := 0
	if c := strings.TrimSpace(in.Cap); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > MonthlyGiftCapMax {
			v.Add("cap", MsgCapRange)
		}
		capN = n
	}
	var until *time.Time
	if d := strings.TrimSpace(in.PausedUntil); d != "" && in.Paused {
		t, err := time.Parse("2006-01-02", d)
		switch {
		case err != nil:
			v.Add("paused_until", MsgDate)
		case !t.After(s.Now()) || t.After(s.Now().AddDate(2, 0, 0)):
			v.Add("paused_until", MsgDate)
		default:
			// The pause lasts through the given day.
			end := t.AddDate(0, 0, 1)
			until = &end
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Merchant{}).Where("id = ?", merchantID).UpdateColumns(map[string]any{
			"monthly_gift_cap": capN, "gifts_paused": in.Paused, "gifts_paused_until": until, "updated_at": s.Now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return audit(tx, a, "merchant.capacity", "merchant", &merchantID, map[string]any{"cap": capN, "paused": in.Paused})
	})
}
