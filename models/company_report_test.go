package models_test

import (
	"errors"
	"testing"
	"time"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// TestCompanyReportMonthBoundaries: months are Berlin calendar months, also
// across a year end and the switch to summer time; events before the first
// month are left out; only members may read the report.
func TestCompanyReportMonthBoundaries(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			base := storetest.NewStore(t, d)
			ctx := t.Context()
			clock := time.Now()
			s := models.NewStore(base.DB(), models.StoreOptions{Secret: []byte(storetest.Secret), BcryptCost: 4, Now: func() time.Time { return clock }})
			admin, c := storetest.MustCompany(t, s, "Kalender AG")
			_, m := storetest.MustMerchant(t, s, "Laden Zwei", "Köln")
			s.DB().Model(&models.Merchant{}).Where("id = ?", m.ID).Update("status", models.MerchantApproved)
			if _, err := s.GrantCredit(ctx, c.ID, 1000_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			at := func(ts string) time.Time {
				v, err := time.Parse(time.RFC3339, ts)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			for _, ts := range []string{
				"2026-01-31T22:30:00Z", // 23:30 on 31 Jan in Berlin: before the report's first month
				"2026-01-31T23:30:00Z", // 00:30 on 1 Feb in Berlin
				"2026-03-31T22:30:00Z", // 00:30 on 1 Apr in Berlin (summer time)
				"2026-12-31T23:30:00Z", // 00:30 on 1 Jan 2027 in Berlin
			} {
				clock = at(ts)
				if _, _, err := s.SendGift(ctx, nil, models.GiftSender{CompanyID: c.ID, UserID: &admin.ID},
					models.GiftInput{AmountCents: 10_00, MerchantIDs: []uint{m.ID}, Notify: models.NotifyNone}); err != nil {
					t.Fatal(err)
				}
			}
			clock = at("2027-01-15T12:00:00Z")
			r, err := s.CompanyReport(ctx, c.ID, admin.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, mo := range r.Months {
				got[mo.Key()] = mo.SentCount
			}
			if len(r.Months) != 12 || r.Months[0].Key() != "2026-02" || r.Months[11].Key() != "2027-01" ||
				got["2026-02"] != 1 || got["2026-03"] != 0 || got["2026-04"] != 1 || got["2027-01"] != 1 || r.Totals.SentCount != 3 || r.Totals.SentCents != 30_00 {
				t.Fatalf("months %v, total %d", got, r.Totals.SentCount)
			}
			if want := at("2026-01-31T23:00:00Z"); !r.From.Equal(want) {
				t.Fatalf("from %s, want %s", r.From, want)
			}
			if len(r.Partners) != 1 || r.Partners[0].OfferedCount != 3 || r.Partners[0].Name != "Laden Zwei" {
				t.Fatalf("partners %+v", r.Partners)
			}
			owner, _ := storetest.MustMerchant(t, s, "Laden Drei", "Bonn")
			stranger, _ := storetest.MustCompany(t, s, "Fremd GmbH")
			for _, u := range []*models.User{owner, stranger} {
				if _, err := s.CompanyReport(ctx, c.ID, u.ID); !errors.Is(err, models.ErrForbidden) {
					t.Fatalf("non-member %s: %v", u.Email, err)
				}
			}
		})
	}
}
