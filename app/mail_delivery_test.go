package app_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

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
			owner, _, m := merchantOwner(t, a, "Café Postgeheimnis")
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

// smtpSink is a real in-process SMTP server that keeps what it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs []sinkMsg
}

type sinkMsg struct {
	To   []string
	Head mail.Header
	Body string // decoded plain text (the text/plain part of a multipart mail)
	HTML string // decoded text/html part, if any
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

type sinkSession struct {
	sink *smtpSink
	to   []string
}

func (x *sinkSession) Reset() { x.to = nil }

func (x *sinkSession) Logout() error { return nil }

func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }

func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error { x.to = append(x.to, to); return nil }

func (x *sinkSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	msg := sinkMsg{To: x.to, Head: m.Header}
	if err := readMIMEPart(textproto.MIMEHeader(m.Header), m.Body, &msg); err != nil {
		return err
	}
	x.sink.mu.Lock()
	defer x.sink.mu.Unlock()
	x.sink.msgs = append(x.sink.msgs, msg)
	return nil
}

// readMIMEPart decodes one MIME entity into msg: multipart entities part by
// part, text/html into HTML, any other text into Body.
func readMIMEPart(h textproto.MIMEHeader, r io.Reader, msg *sinkMsg) error {
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := readMIMEPart(p.Header, p, msg); err != nil {
				return err
			}
		}
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	body := raw
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	case "base64":
		body, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
	}
	if err != nil {
		return err
	}
	if mediaType == "text/html" {
		msg.HTML = string(body)
	} else if msg.Body == "" {
		msg.Body = string(body)
	}
	return nil
}

// newMailingApp is an app on dialect whose mails go over SMTP to an
// in-process sink, with the demo data when seed is set.
func newMailingApp(t *testing.T, dialect string, seed bool) (*app.App, *smtpSink) {
	t.Helper()
	sink, smtpURL := startSMTP(t)
	env := apptest.BaseEnv(t, dialect)
	env["SMTP_URL"] = smtpURL
	a := apptest.NewApp(t, env)
	if seed {
		if _, err := app.SeedDemo(t.Context(), a.Store, a.Places); err != nil {
			t.Fatal(err)
		}
	}
	return a, sink
}

func startSMTP(t *testing.T) (*smtpSink, string) {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sink, "smtp://" + ln.Addr().String() + "?tls=none"
}
