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
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

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

func (x *sinkSession) Reset()                                    { x.to = nil }
func (x *sinkSession) Logout() error                             { return nil }
func (x *sinkSession) Mail(string, *smtp.MailOptions) error      { return nil }
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

func TestGiftMailOverSMTPAndClaimPage(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a, sink := newMailingApp(t, d, true)
			e := &giftEnv{a: a}
			e.company, _ = a.Store.CompanyBySlug(t.Context(), "beispiel-verlag")
			e.key, _, _ = a.Store.CreateAPIKey(t.Context(), &e.company.ID, nil, "k", models.ActorCLI)
			cafe, _ := a.Store.MerchantBySlug(t.Context(), "cafe-rheinblick")
			bakery, _ := a.Store.MerchantBySlug(t.Context(), "baeckerei-sonnenkorn")

			res := e.api(t, e.key, "POST", "/api/v1/gifts", "mail-1", fmt.Sprintf(
				`{"recipient_email":"kim@example.com","recipient_name":"Kim","amount_cents":2000,"merchant_ids":[%d,%d],"message":"Das Paket kam zu spät – Entschuldigung!","notify":"email"}`, cafe.ID, bakery.ID))
			if res.Status != 201 {
				t.Fatalf("send: %d %s", res.Status, res.Body)
			}
			g := decode[giftJSON](t, res)
			if n := a.DeliverMails(t.Context()); n != 1 {
				t.Fatalf("delivered %d mails", n)
			}
			sink.mu.Lock()
			msgs := append([]sinkMsg(nil), sink.msgs...)
			sink.mu.Unlock()
			if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "kim@example.com" {
				t.Fatalf("received %+v", msgs)
			}
			m := msgs[0]
			subject, _ := new(mime.WordDecoder).DecodeHeader(m.Head.Get("Subject"))
			for _, want := range []string{"Beispiel-Verlag GmbH", "Das Paket kam zu spät", "Café Rheinblick", "Bäckerei Sonnenkorn", "20,00 €", g.ClaimURL} {
				if !strings.Contains(m.Body, want) {
					t.Errorf("mail lacks %q:\n%s", want, m.Body)
				}
			}
			if !strings.Contains(m.HTML, "Geschenk ansehen") || !strings.Contains(m.HTML, `href="`+g.ClaimURL+`"`) || !strings.Contains(m.HTML, "Das Paket kam zu spät") {
				t.Errorf("HTML part lacks the claim button or message:\n%s", m.HTML)
			}
			if !strings.Contains(subject, "Beispiel-Verlag") {
				t.Errorf("subject %q", subject)
			}
			var link string
			for _, l := range apptest.Links(m.Body) {
				if strings.Contains(l, "/c/") {
					link = l
				}
			}
			u, err := url.Parse(link)
			if err != nil || link == "" {
				t.Fatalf("no claim link in mail: %v", err)
			}
			c := apptest.NewClient(t, a.HTTP)
			page := c.Get(u.Path)
			if page.Status != 200 {
				t.Fatalf("claim page: %d", page.Status)
			}
			for _, want := range []string{"Beispiel-Verlag GmbH", "Das Paket kam zu spät", "20,00 €", "Café Rheinblick", "Bäckerei Sonnenkorn"} {
				if !strings.Contains(page.Body, want) {
					t.Errorf("claim page lacks %q", want)
				}
			}
			for _, p := range []string{u.Path, "/c/" + strings.Repeat("A", 32)} {
				r := c.Get(p)
				if r.Header.Get("Referrer-Policy") != "same-origin" || r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Header.Get("X-Robots-Tag"), "noindex") {
					t.Errorf("%s: headers %v", p, r.Header)
				}
			}
			if r := c.Get("/c/" + strings.Repeat("A", 32)); r.Status != 404 {
				t.Errorf("unknown token: %d", r.Status)
			}
			// A cancelled gift's link stops working.
			if r := e.api(t, e.key, "POST", "/api/v1/gifts/"+g.ID+"/cancel", "", ""); r.Status != 200 {
				t.Fatalf("cancel: %d", r.Status)
			}
			if r := c.Get(u.Path); r.Status != 404 {
				t.Errorf("cancelled gift's link: %d", r.Status)
			}
		})
	}
}

func giftIDFromLocation(t *testing.T, res *apptest.Response) string {
	t.Helper()
	loc := res.Header.Get("Location")
	if res.Status != 303 || !strings.HasPrefix(loc, "/gifts/") {
		t.Fatalf("send: %d %q\n%s", res.Status, loc, res.Body)
	}
	return strings.TrimPrefix(loc, "/gifts/")
}

func queuedTo(t *testing.T, s *models.Store, to string) int64 {
	var n int64
	s.DB().Model(&models.Mail{}).Where("to_addr = ?", to).Count(&n)
	return n
}

// TestGiftAgentLimitsAndApproval runs the agents' and admin's web flow:
// within the limit a gift goes out at once; above it waits with its amount
// reserved; the admin approves (mail queued) or declines with a note (money
// back, the agent sees the note).
func TestGiftAgentLimitsAndApproval(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			s := e.a.Store
			ctx := t.Context()
			credit := func() int64 { b, _ := s.AccountBalance(ctx, models.AccountCompanyCredit(e.company.ID)); return b }
			agent := apptest.NewClient(t, e.a.HTTP)
			agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
			admin := apptest.NewClient(t, e.a.HTTP)
			admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")

			if r := agent.Get("/gifts/new"); r.Status != 200 || !strings.Contains(r.Body, "Café Rheinblick") || !strings.Contains(r.Body, `name="idem"`) {
				t.Fatalf("form: %d", r.Status)
			}
			send := func(c *apptest.Client, idem, amount, email string) *apptest.Response {
				return c.PostForm("/gifts", url.Values{"idem": {idem}, "recipient_name": {"Kim"}, "recipient_email": {email},
					"amount": {amount}, "mode": {"one"}, "merchant_id": {fmt.Sprint(e.cafe.ID)}, "message": {"Sorry!"}, "reason_code": {"late_delivery"}, "lang": {"de"}})
			}
			// Bad input re-renders the form with 422 and the field's message.
			if r := send(agent, "w0", "zwölf", "kim@example.com"); r.Status != 422 || !strings.Contains(r.Body, "nicht gültig") {
				t.Fatalf("bad amount: %d", r.Status)
			}
			if r := send(agent, "w0", "2000", "kim@example.com"); r.Status != 422 || !strings.Contains(r.Body, "zwischen 1 € und 1.000 €") {
				t.Fatalf("huge amount: %d", r.Status)
			}

			// Within 25 €: sent at once, mail queued.
			within := giftIDFromLocation(t, send(agent, "w1", "20,00", "kim@example.com"))
			g, _ := s.GiftByPublicID(ctx, e.company.ID, within)
			if g.Status != models.GiftSent || queuedTo(t, s, "kim@example.com") != 1 {
				t.Fatalf("within limit: %s, %d mails", g.Status, queuedTo(t, s, "kim@example.com"))
			}
			// A double submit of the same form sends one gift.
			if again := giftIDFromLocation(t, send(agent, "w1", "20,00", "kim@example.com")); again != within {
				t.Fatalf("double submit sent %s and %s", within, again)
			}
			show := agent.Get("/gifts/" + within)
			if show.Status != 200 || !strings.Contains(show.Body, `id="claim-url"`) || !strings.Contains(show.Body, "data:image/png;base64,") || !strings.Contains(show.Body, "data-copy") {
				t.Fatalf("gift page: %d\n%s", show.Status, show.Body)
			}

			// Above 25 €: waits, amount reserved, no mail yet, no link shown.
			before := credit()
			above := giftIDFromLocation(t, send(agent, "w2", "30", "lea@example.com"))
			g, _ = s.GiftByPublicID(ctx, e.company.ID, above)
			if g.Status != models.GiftPendingApproval || credit() != before-30_00 || queuedTo(t, s, "lea@example.com") != 0 {
				t.Fatalf("above limit: %s credit %d mails %d", g.Status, before-credit(), queuedTo(t, s, "lea@example.com"))
			}
			if r := agent.Get("/gifts/" + above); strings.Contains(r.Body, `id="claim-url"`) || !strings.Contains(r.Body, "Wartet auf Freigabe") {
				t.Fatal("pending gift shows its link")
			}
			// Agents have no admin pages.
			for _, p := range []string{"/gifts/approvals", "/company/limits"} {
				if r := agent.Get(p); r.Status != 404 {
					t.Errorf("agent %s: %d", p, r.Status)
				}
			}
			if r := agent.PostForm("/gifts/"+above+"/approve", nil); r.Status != 404 {
				t.Errorf("agent approves: %d", r.Status)
			}

			// The admin approves: sent, mail queued.
			if r := admin.Get("/gifts/approvals"); r.Status != 200 || !strings.Contains(r.Body, "approval-"+above) {
				t.Fatalf("approvals: %d", r.Status)
			}
			if r := admin.PostForm("/gifts/"+above+"/approve", url.Values{"note": {"Passt."}}); r.Status != 303 {
				t.Fatalf("approve: %d %s", r.Status, r.Body)
			}
			g, _ = s.GiftByPublicID(ctx, e.company.ID, above)
			if g.Status != models.GiftSent || queuedTo(t, s, "lea@example.com") != 1 {
				t.Fatalf("approved: %s, %d mails", g.Status, queuedTo(t, s, "lea@example.com"))
			}
			if r := admin.PostForm("/gifts/"+above+"/approve", nil); r.Status != 409 {
				t.Errorf("approve twice: %d", r.Status)
			}
			// The agent is told, with the admin's note; the recipient's mail has
			// an HTML part with the claim button next to the plain text.
			var told []models.Mail
			s.DB().Where("to_addr = ?", "agent1@beispiel-verlag.example").Find(&told)
			if len(told) != 1 || !strings.Contains(told[0].Subject, "Freigegeben") || !strings.Contains(told[0].Text, "Passt.") ||
				!strings.Contains(told[0].Text, "/gifts/"+above) || strings.Contains(told[0].Text, "lea@example.com") {
				t.Fatalf("agent's approval mail: %+v", told)
			}
			var toLea models.Mail
			s.DB().Where("to_addr = ?", "lea@example.com").First(&toLea)
			if !strings.Contains(toLea.HTML, `href="http`) || !strings.Contains(toLea.HTML, "/c/") || !strings.Contains(toLea.HTML, "Geschenk ansehen") || toLea.Text == "" {
				t.Fatalf("recipient mail parts: text %d bytes, html %q", len(toLea.Text), toLea.HTML)
			}

			// Declined with a note: cancelled, money back, the agent sees the note.
			before = credit()
			third := giftIDFromLocation(t, send(agent, "w3", "40", "max@example.com"))
			if r := admin.PostForm("/gifts/"+third+"/decline", url.Values{"note": {"Bitte erst Rücksprache halten."}}); r.Status != 303 {
				t.Fatalf("decline: %d", r.Status)
			}
			g, _ = s.GiftByPublicID(ctx, e.company.ID, third)
			if g.Status != models.GiftCancelled || credit() != before || queuedTo(t, s, "max@example.com") != 0 {
				t.Fatalf("declined: %s credit %d", g.Status, credit()-before)
			}
			if r := agent.Get("/gifts/" + third); !strings.Contains(r.Body, "Bitte erst Rücksprache halten.") {
				t.Error("agent does not see the note")
			}
			s.DB().Where("to_addr = ?", "agent1@beispiel-verlag.example").Order("id").Find(&told)
			if len(told) != 2 || !strings.Contains(told[1].Subject, "Nicht freigegeben") || !strings.Contains(told[1].Text, "Bitte erst Rücksprache halten.") {
				t.Fatalf("agent's decline mail: %+v", told)
			}

			// Monthly budget: the admin gives agent2 30 € a month; 20 € goes,
			// the next 20 € waits.
			agent2, _ := s.UserByEmail(ctx, "agent2@beispiel-verlag.example")
			if r := admin.PostForm(fmt.Sprintf("/company/limits/%d", agent2.ID), url.Values{"max_per_gift": {""}, "monthly_budget": {"30,00 €"}}); r.Status != 303 {
				t.Fatalf("set limits: %d %s", r.Status, r.Body)
			}
			if r := admin.PostForm(fmt.Sprintf("/company/limits/%d", agent2.ID), url.Values{"monthly_budget": {"viel"}}); r.Status != 422 {
				t.Errorf("bad limit: %d", r.Status)
			}
			if r := admin.Get("/company/limits"); !strings.Contains(r.Body, "30,00 €") {
				t.Error("limits page does not show the budget")
			}
			b := apptest.NewClient(t, e.a.HTTP)
			b.Login("agent2@beispiel-verlag.example", "demo-agent-2026")
			first := giftIDFromLocation(t, send(b, "b1", "20", "kim@example.com"))
			second := giftIDFromLocation(t, send(b, "b2", "20", "ole@example.com"))
			g1, _ := s.GiftByPublicID(ctx, e.company.ID, first)
			g2, _ := s.GiftByPublicID(ctx, e.company.ID, second)
			if g1.Status != models.GiftSent || g2.Status != models.GiftPendingApproval {
				t.Fatalf("budget: %s, %s", g1.Status, g2.Status)
			}
			// Agents cancel only their own gifts; admins any.
			if r := b.PostForm("/gifts/"+within+"/cancel", nil); r.Status != 403 {
				t.Errorf("agent cancels another's gift: %d", r.Status)
			}
			if r := admin.PostForm("/gifts/"+second+"/cancel", nil); r.Status != 303 {
				t.Errorf("admin cancels: %d", r.Status)
			}

			// The "already received a gesture" hint: kim got two, from two agents.
			if r := b.Get("/gifts/recent?recipient_email=" + url.QueryEscape(" KIM@example.com ")); !strings.Contains(r.Body, "schon 2 Trostpflaster") {
				t.Errorf("recent hint: %s", r.Body)
			}
			if r := b.Get("/gifts/recent?recipient_email=neu%40example.com"); !strings.Contains(r.Body, "Keine Trostpflaster") {
				t.Error("no hint for a new address")
			}
			if r := agent.Get("/gifts"); r.Status != 200 || !strings.Contains(r.Body, "/gifts/"+first) {
				t.Error("list lacks the company's gifts")
			}

			// Tenant isolation on the web: another company's admin reaches nothing.
			otherAdmin := apptest.NewClient(t, e.a.HTTP)
			otherAdmin.Login("andere-firma@example.com", "correct horse battery")
			for _, p := range []string{"/gifts/" + within, "/gifts/" + g2.PublicID} {
				if r := otherAdmin.Get(p); r.Status != 404 {
					t.Errorf("other company GET %s: %d", p, r.Status)
				}
			}
			for _, p := range []string{"/gifts/" + within + "/cancel", "/gifts/" + first + "/approve", "/gifts/" + first + "/decline", fmt.Sprintf("/company/limits/%d", agent2.ID)} {
				if r := otherAdmin.PostForm(p, nil); r.Status != 404 {
					t.Errorf("other company POST %s: %d", p, r.Status)
				}
			}
			if r := otherAdmin.Get("/gifts"); strings.Contains(r.Body, within) {
				t.Error("other company lists our gifts")
			}
			if r := otherAdmin.Get("/gifts/recent?recipient_email=kim%40example.com"); !strings.Contains(r.Body, "Keine Trostpflaster") {
				t.Error("other company sees our recipient history")
			}
			// Not a company member: no gift pages.
			partner := apptest.NewClient(t, e.a.HTTP)
			partner.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
			if r := partner.Get("/gifts/new"); r.Status != 404 {
				t.Errorf("merchant opens gift form: %d", r.Status)
			}
			verifyLedger(t, s)
		})
	}
}
