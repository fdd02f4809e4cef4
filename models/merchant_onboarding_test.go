package models_test

import (
	"testing"
	"time"

	"trostpflaster/models"
)

func TestMerchantOfferAndCapacityRules(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	later := now.Add(48 * time.Hour)
	m := models.Merchant{Status: models.MerchantApproved}
	m.OfferMode, m.OfferStepList = models.OfferSteps, "1000,2500"
	if !m.AcceptsAmount(1000) || m.AcceptsAmount(1500) {
		t.Error("steps")
	}
	m.OfferMode, m.OfferMinCents, m.OfferMaxCents = models.OfferRange, 500, 5000
	if !m.AcceptsAmount(1500) || m.AcceptsAmount(5001) || m.AcceptsAmount(499) {
		t.Error("range")
	}
	if !m.AcceptsGifts(now, 1_000_000) {
		t.Error("no cap means no limit")
	}
	m.MonthlyGiftCap = 3
	if !m.AcceptsGifts(now, 2) || m.AcceptsGifts(now, 3) {
		t.Error("cap")
	}
	m.GiftsPaused, m.GiftsPausedUntil = true, &later
	if m.AcceptsGifts(now, 0) || !m.AcceptsGifts(later, 0) {
		t.Error("pause until")
	}
	m.GiftsPausedUntil = nil
	if m.AcceptsGifts(later.AddDate(1, 0, 0), 0) {
		t.Error("open-ended pause")
	}
	m.GiftsPaused = false
	for _, st := range []string{models.MerchantDraft, models.MerchantPending, models.MerchantRejected, models.MerchantSuspended} {
		m.Status = st
		if m.AcceptsGifts(now, 0) {
			t.Errorf("%s merchant accepts gifts", st)
		}
	}
}
