package app_test

import (
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

func TestGiftLifecycle(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.NewSeededApp(t, d)
			ctx := t.Context()
			co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
			chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
			cafe, _ := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
			sender := models.GiftSender{CompanyID: co.ID, UserID: &chefin.ID}
			send := func(email string) *models.Gift {
				g, _, err := a.Store.SendGift(ctx, nil, sender, models.GiftInput{RecipientEmail: email, RecipientName: "Kim",
					AmountCents: 20_00, MerchantIDs: []uint{cafe.ID}, Notify: models.NotifyNone})
				if err != nil {
					t.Fatal(err)
				}
				return g
			}
			expiring, soon, later, oldCancel, newCancel := send("a@example.com"), send("b@example.com"), send("c@example.com"), send("d@example.com"), send("e@example.com")
			now := time.Now()
			a.DB.Model(&models.Gift{}).Where("id = ?", expiring.ID).Update("expires_at", now.Add(-time.Hour))
			a.DB.Model(&models.Gift{}).Where("id = ?", soon.ID).Update("expires_at", now.Add(10*24*time.Hour))
			for _, g := range []*models.Gift{oldCancel, newCancel} {
				if _, err := a.Store.CancelGift(ctx, models.GiftCanceller{CompanyID: co.ID, UserID: &chefin.ID}, g.PublicID); err != nil {
					t.Fatal(err)
				}
			}
			a.DB.Model(&models.Gift{}).Where("id = ?", oldCancel.ID).Update("cancelled_at", now.Add(-100*24*time.Hour))
			creditBefore, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID))

			r := a.RunLifecycle(ctx)
			if r.Expired != 1 || r.Reminded != 1 || r.Pseudonymised != 1 {
				t.Fatalf("first run: %+v", r)
			}
			if again := a.RunLifecycle(ctx); again != (models.LifecycleResult{}) {
				t.Fatalf("second run did more: %+v", again)
			}
			get := func(id uint) models.Gift {
				var g models.Gift
				a.DB.First(&g, id)
				return g
			}
			if g := get(expiring.ID); g.Status != models.GiftExpired || g.BalanceCents != 0 || g.ExpiredAt == nil {
				t.Fatalf("expired gift: %+v", g)
			}
			if credit, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID)); credit != creditBefore+20_00 {
				t.Fatalf("credit %d, want %d", credit, creditBefore+20_00)
			}
			if g := get(later.ID); g.Status != models.GiftSent || g.ReminderSentAt != nil {
				t.Fatalf("untouched gift changed: %+v", g)
			}
			mails, _ := a.Store.RecentMails(ctx, 10)
			if len(mails) != 1 || mails[0].To != "b@example.com" || !strings.Contains(mails[0].Text, "20,00 €") || !strings.Contains(mails[0].Text, "/c/") {
				t.Fatalf("reminder mails: %+v", mails)
			}
			if g := get(oldCancel.ID); g.RecipientEmail != "" || g.RecipientName != "" || g.PseudonymisedAt == nil || g.RecipientHash == "" {
				t.Fatalf("old cancelled gift keeps recipient data: %+v", g)
			}
			if g := get(newCancel.ID); g.RecipientEmail != "e@example.com" {
				t.Fatal("recent cancellation pseudonymised too early")
			}
			if problems, err := a.Store.VerifyLedger(ctx); err != nil || len(problems) > 0 {
				t.Fatalf("ledger: %v %v", err, problems)
			}
		})
	}
}
