package models_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// recordingMails is a MailComposer that writes down what it was asked for;
// its mails name the kind and the link's secret.
type recordingMails struct {
	fail  bool
	calls []string
}

func (r *recordingMails) mail(kind, to, secret string) (models.Mail, error) {
	r.calls = append(r.calls, kind)
	if r.fail {
		return models.Mail{}, errors.New("template broken")
	}
	return models.Mail{To: to, Subject: kind, Text: kind + " " + secret}, nil
}

func (r *recordingMails) GiftSent(g *models.Gift, token string) (models.Mail, error) {
	if g.Company.Name == "" || len(g.Offers) == 0 || g.Offers[0].Merchant.Name == "" {
		return models.Mail{}, errors.New("gift without company and offers")
	}
	return r.mail("gift_sent", "composer-picks@example.com", token)
}

func (r *recordingMails) ExpiryReminder(g *models.Gift, token string) (models.Mail, error) {
	return r.mail("expiry_reminder", "", token)
}

func (r *recordingMails) GiftDecision(g *models.Gift, agent *models.User, approved bool) (models.Mail, error) {
	return r.mail("gift_decision", "", g.DecisionNote)
}

func (r *recordingMails) PasswordReset(u *models.User, token string) (models.Mail, error) {
	return r.mail("password_reset", u.Email, token)
}

func (r *recordingMails) StaffInvite(inv *models.MerchantInvite, m *models.Merchant, inviter *models.User, token, lang string) (models.Mail, error) {
	return r.mail("staff_invite:"+lang, inv.Email, token)
}

func (r *recordingMails) MerchantDecision(decision string, owner *models.User, m *models.Merchant, reason string) (models.Mail, error) {
	return r.mail("merchant_"+decision, owner.Email, reason)
}

// TestMailsQueuedThroughThePort: the store asks its composer (StoreOptions.Mails)
// for each mail in the transaction of the change that causes it. The domain
// decides the recipient of a gift's mail and when it is due; a composer that
// fails undoes the change; without a composer nothing is queued and the
// change happens all the same.
func TestMailsQueuedThroughThePort(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			base := storetest.NewStore(t, d)
			ctx := t.Context()
			rec := &recordingMails{}
			s := models.NewStore(base.DB(), models.StoreOptions{Secret: storetest.SecretKey(), BcryptCost: storetest.BcryptCost, Mails: rec})
			admin, c := storetest.MustCompany(t, s, "Post AG")
			owner, m := storetest.MustMerchant(t, s, "Laden Post", "Köln")
			s.DB().Model(&models.Merchant{}).Where("id = ?", m.ID).Update("status", models.MerchantApproved)
			if _, err := s.GrantCredit(ctx, c.ID, 1000_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			sender := models.GiftSender{CompanyID: c.ID, UserID: &admin.ID}
			send := func(s *models.Store, email, notify string, at *time.Time) (*models.Gift, error) {
				g, _, err := s.SendGift(ctx, nil, sender, models.GiftInput{RecipientEmail: email, AmountCents: 10_00,
					MerchantIDs: []uint{m.ID}, Notify: notify, SendAt: at})
				return g, err
			}
			queued := func() []models.Mail {
				ms, err := s.RecentMails(ctx, 100)
				if err != nil {
					t.Fatal(err)
				}
				return ms
			}

			g, err := send(s, "kim@example.com", models.NotifyEmail, nil)
			if err != nil {
				t.Fatal(err)
			}
			ms := queued()
			if len(ms) != 1 || ms[0].To != "kim@example.com" || ms[0].GiftID == nil || *ms[0].GiftID != g.ID ||
				ms[0].Text != "gift_sent "+s.GiftClaimToken(g) || ms[0].Status != models.MailQueued {
				t.Fatalf("gift mail %+v", ms)
			}
			later := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
			if _, err := send(s, "later@example.com", models.NotifyEmail, &later); err != nil {
				t.Fatal(err)
			}
			if ms := queued(); len(ms) != 2 || !ms[0].NextAttempt.Equal(later) {
				t.Fatalf("scheduled gift's mail due %v, want %v", ms[0].NextAttempt, later)
			}
			if _, err := send(s, "none@example.com", models.NotifyNone, nil); err != nil || len(queued()) != 2 {
				t.Fatalf("notify none: %v, %d mails", err, len(queued()))
			}

			rec.fail = true
			if _, err := send(s, "broken@example.com", models.NotifyEmail, nil); err == nil {
				t.Fatal("a gift whose mail failed to compose was sent")
			}
			var n int64
			s.DB().Model(&models.Gift{}).Where("recipient_email = ?", "broken@example.com").Count(&n)
			if n != 0 {
				t.Fatalf("gift written without its mail")
			}
			rec.fail = false

			if err := s.RequestPasswordReset(ctx, owner.Email); err != nil {
				t.Fatal(err)
			}
			if err := s.RequestPasswordReset(ctx, "nobody@example.com"); err != nil {
				t.Fatal(err)
			}
			if err := s.InviteStaff(ctx, m.ID, owner.ID, "neu@example.com", "en"); err != nil {
				t.Fatal(err)
			}
			platform, err := s.CreateUser(ctx, models.NewUser{Email: "plattform@example.com", Name: "P", Password: storetest.Password, PlatformAdmin: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SuspendMerchant(ctx, m.ID, platform.ID, "Prüfung läuft"); err != nil {
				t.Fatal(err)
			}
			want := "gift_sent gift_sent gift_sent password_reset staff_invite:en merchant_suspended"
			if got := strings.Join(rec.calls, " "); got != want {
				t.Fatalf("composer asked for %q, want %q", got, want)
			}
			if ms := queued(); len(ms) != 5 || ms[0].To != owner.Email || ms[0].Text != "merchant_suspended Prüfung läuft" || ms[1].To != "neu@example.com" {
				t.Fatalf("mails %+v", ms)
			}

			bare := models.NewStore(base.DB(), models.StoreOptions{Secret: storetest.SecretKey(), BcryptCost: storetest.BcryptCost})
			s.DB().Model(&models.Merchant{}).Where("id = ?", m.ID).Update("status", models.MerchantApproved)
			if g, err := send(bare, "still@example.com", models.NotifyEmail, nil); err != nil || g.Status != models.GiftSent {
				t.Fatalf("without a composer: %v", err)
			}
			if err := bare.RequestPasswordReset(ctx, owner.Email); err != nil {
				t.Fatal(err)
			}
			if len(queued()) != 5 {
				t.Fatalf("a store without a composer queued mails")
			}
		})
	}
}
