package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// mailsHolding counts mails rows whose text, HTML or subject contain secret.
func mailsHolding(t *testing.T, a *app.App, secret string) int64 {
	t.Helper()
	var n int64
	like := "%" + secret + "%"
	if err := a.DB.Model(&models.Mail{}).Where(`"text" LIKE ? OR html LIKE ? OR subject LIKE ?`, like, like, like).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeliveredMailsForgetTheirLinks: once a mail went out over SMTP its
// body is gone from the mails table, so a copy of the database yields no
// claim link (stored nowhere else), reset or invite link; the delivery
// record (recipient, subject, status, attempts) stays. After the retention
// period the sent mails go altogether, queued ones stay.
func TestDeliveredMailsForgetTheirLinks(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a, sink := newMailingApp(t, d, true)
			ctx := t.Context()
			e := &giftEnv{a: a}
			e.company, _ = a.Store.CompanyBySlug(ctx, "beispiel-verlag")
			e.key, _, _ = a.Store.CreateAPIKey(ctx, &e.company.ID, nil, "k", models.ActorCLI)
			cafe, _ := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")

			// An e-mailed API gift, a password reset and a staff invite.
			res := e.api(t, e.key, "POST", "/api/v1/gifts", "mb-1", fmt.Sprintf(
				`{"recipient_email":"kim@example.com","recipient_name":"Kim","amount_cents":2000,"merchant_ids":[%d],"notify":"email"}`, cafe.ID))
			if res.Status != 201 {
				t.Fatalf("send: %d %s", res.Status, res.Body)
			}
			claim := strings.TrimPrefix(decode[giftJSON](t, res).ClaimURL, "http://127.0.0.1:8080/c/")
			c := apptest.NewClient(t, a.HTTP)
			if r := c.PostForm("/forgot", url.Values{"email": {"chefin@beispiel-verlag.example"}}); r.Status != http.StatusSeeOther {
				t.Fatalf("forgot: %d", r.Status)
			}
			var resetMail models.Mail
			a.DB.Where("to_addr = ?", "chefin@beispiel-verlag.example").Order("id DESC").First(&resetMail)
			var reset string
			for _, l := range apptest.Links(resetMail.Text) {
				if i := strings.Index(l, "/reset/"); i >= 0 {
					reset = l[i+len("/reset/"):]
				}
			}
			owner, _, m := onbOwner(t, a, "Café Postgeheimnis")
			invite := strings.TrimPrefix(inviteLink(t, a, owner, "?m="+m.Slug, "neu@postgeheimnis.example"), "/invite/")
			for name, secret := range map[string]string{"claim": claim, "reset": reset, "invite": invite} {
				if len(secret) < 16 {
					t.Fatalf("%s token %q", name, secret)
				}
				if mailsHolding(t, a, secret) != 1 {
					t.Fatalf("queued %s mail does not hold its link", name)
				}
			}

			if n := a.DeliverMails(ctx); n != 3 {
				t.Fatalf("delivered %d mails", n)
			}
			sink.mu.Lock()
			got := len(sink.msgs)
			gotClaim := got > 0 && strings.Contains(sink.msgs[0].Body, claim)
			sink.mu.Unlock()
			if got != 3 || !gotClaim {
				t.Fatalf("SMTP received %d mails (claim link in the first: %v)", got, gotClaim)
			}
			for name, secret := range map[string]string{"claim": claim, "reset": reset, "invite": invite} {
				if n := mailsHolding(t, a, secret); n != 0 {
					t.Errorf("%s link still in %d mails rows after delivery", name, n)
				}
			}
			var sent []models.Mail
			a.DB.Order("id").Find(&sent)
			if len(sent) != 3 {
				t.Fatalf("mails rows: %d", len(sent))
			}
			for _, ml := range sent {
				if ml.Status != models.MailSent || ml.Attempts != 1 || ml.SentAt == nil || ml.To == "" || ml.Subject == "" || ml.Text != "" || ml.HTML != "" {
					t.Errorf("delivered mail record %+v", ml)
				}
			}

			// A mail given up on after its last attempt forgets its body too.
			if err := a.Store.EnqueueMail(ctx, models.Mail{To: "weg@example.com", Subject: "s", Text: "geheim-" + claim, HTML: "<a>geheim</a>"}); err != nil {
				t.Fatal(err)
			}
			a.DB.Model(&models.Mail{}).Where("to_addr = ?", "weg@example.com").Update("attempts", models.MailMaxAttempts-1)
			a.Mailer = failingMailer{}
			if n := a.DeliverMails(ctx); n != 0 {
				t.Fatalf("failing mailer delivered %d", n)
			}
			var gaveUp models.Mail
			a.DB.Where("to_addr = ?", "weg@example.com").First(&gaveUp)
			if gaveUp.Status != models.MailFailed || gaveUp.Text != "" || gaveUp.HTML != "" || gaveUp.LastError == "" || gaveUp.Subject != "s" {
				t.Fatalf("given-up mail %+v", gaveUp)
			}

			// Retention: mails sent longer ago than RETENTION_DAYS are deleted
			// (recipient address included); a queued mail is left alone.
			if err := a.Store.EnqueueMail(ctx, models.Mail{To: "wartet@example.com", Subject: "s", Text: "t"}); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Duration(a.Cfg.RetentionDays+1) * 24 * time.Hour)
			a.DB.Model(&models.Mail{}).Where("id = ?", sent[0].ID).Update("next_attempt", old)
			a.DB.Model(&models.Mail{}).Where("to_addr = ?", "wartet@example.com").Update("next_attempt", old)
			if r := a.RunLifecycle(ctx); r.MailsErased != 1 {
				t.Fatalf("lifecycle: %+v", r)
			}
			var left []models.Mail
			a.DB.Order("id").Find(&left)
			if len(left) != 4 || left[0].ID != sent[1].ID || left[2].To != "weg@example.com" || left[3].To != "wartet@example.com" || left[3].Status != models.MailQueued {
				t.Fatalf("after retention: %+v", left)
			}
		})
	}
}

// TestDevMailboxKeepsDeliveredMails: without SMTP the dev mailer only marks
// mails sent, and /dev/mail must still show their links (demo, tests).
func TestDevMailboxKeepsDeliveredMails(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	if r := c.PostForm("/forgot", url.Values{"email": {"chefin@beispiel-verlag.example"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("forgot: %d", r.Status)
	}
	if n := a.DeliverMails(t.Context()); n != 1 {
		t.Fatalf("delivered %d", n)
	}
	mails, _ := a.Store.RecentMails(t.Context(), 1)
	if len(mails) != 1 || mails[0].Status != models.MailSent || !strings.Contains(mails[0].Text, "/reset/") {
		t.Fatalf("dev mail %+v", mails)
	}
	if page := c.Get(fmt.Sprintf("/dev/mail/%d", mails[0].ID)); page.Status != 200 || !strings.Contains(page.Body, "/reset/") {
		t.Fatalf("dev mailbox: %d", page.Status)
	}
}
