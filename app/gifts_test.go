package app_test

import (
	"fmt"
	"mime"
	"net/url"
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

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

// A bad filter in the gift list's address (an old bookmark) shows the list
// page with the filter form and the field marked, not a bare error page.
func TestGiftListBadFilter(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	res := c.Get("/gifts?status=bogus&reason=%3D%3D&cursor=zzz")
	if res.Status != 422 || !strings.Contains(res.Body, `id="f-status"`) || !strings.Contains(res.Body, `class="field-error"`) || !strings.Contains(res.Body, `href="/gifts/new"`) {
		t.Fatalf("bad filter: %d\n%s", res.Status, res.Body)
	}
	if res := c.Get("/gifts?status=sent"); res.Status != 200 {
		t.Fatalf("good filter: %d", res.Status)
	}
}

func TestGiftsCSVExport(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	ctx := t.Context()
	g, _, err := e.a.Store.SendGift(ctx, nil, e.sender, models.GiftInput{RecipientEmail: "kim@example.com", RecipientName: "Kim", AmountCents: 15_00,
		MerchantIDs: []uint{e.cafe.ID}, Reference: `=HYPERLINK("http://evil","x")`, Notify: models.NotifyNone})
	if err != nil {
		t.Fatal(err)
	}
	admin := apptest.NewClient(t, e.a.HTTP)
	admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	res := admin.Get("/gifts/export.csv")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d", res.Status)
	}
	if !strings.Contains(res.Body, g.PublicID) || !strings.Contains(res.Body, "15,00") || !strings.Contains(res.Body, `'=HYPERLINK`) {
		t.Fatalf("export body:\n%s", res.Body)
	}
	if strings.Contains(res.Body, "kim@example.com") || strings.Contains(res.Body, ";=") {
		t.Fatal("export leaks the recipient or keeps a formula cell")
	}
	agent := apptest.NewClient(t, e.a.HTTP)
	agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
	if res := agent.Get("/gifts/export.csv"); res.Status != 404 {
		t.Fatalf("agent export: %d", res.Status)
	}
	other := apptest.NewClient(t, e.a.HTTP)
	other.PostForm("/signup/company", signupForm("company", map[string]string{"email": "o@other.example", "org_name": "Other"}))
	if res := other.Get("/gifts/export.csv"); res.Status != 200 || strings.Contains(res.Body, g.PublicID) {
		t.Fatalf("other company export: %d", res.Status)
	}
}

func TestGiftScheduledDelivery(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a, sink := newMailingApp(t, d, false)
			e := &giftEnv{a: a}
			seedGiftEnv(t, e)
			s := a.Store
			ctx := t.Context()
			cafe := fmt.Sprint(e.cafe.ID)
			credit := func() int64 { b, _ := s.AccountBalance(ctx, models.AccountCompanyCredit(e.company.ID)); return b }
			customer := apptest.NewClient(t, a.HTTP)

			// Past, far future and malformed times are 422 on send_at.
			for _, at := range []string{time.Now().Add(-time.Minute).Format(time.RFC3339), time.Now().AddDate(2, 0, 0).Format(time.RFC3339), "morgen früh"} {
				res := e.api(t, e.key, "POST", "/api/v1/gifts", "s-bad-"+at, giftBody(cafe, 10_00, `,"send_at":"`+at+`"`))
				if p := decode[problemJSON](t, mustStatus(t, "send_at "+at, res, 422)); p.Errors["send_at"] == "" {
					t.Fatalf("problem %+v", p)
				}
			}

			before := credit()
			at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
			res := e.api(t, e.key, "POST", "/api/v1/gifts", "s-1", giftBody(cafe, 10_00, `,"send_at":"`+at.Format(time.RFC3339)+`"`))
			g := decode[struct {
				giftJSON
				SendAt    *time.Time `json:"send_at"`
				Scheduled bool       `json:"scheduled"`
			}](t, mustStatus(t, "scheduled", res, 201))
			if g.Status != "sent" || !g.Scheduled || g.SendAt == nil || !g.SendAt.Equal(at) || credit() != before-10_00 {
				t.Fatalf("gift %+v, credit moved %d", g, before-credit())
			}
			// Not delivered before its time; the link answers like an unknown one.
			if n := a.DeliverMails(ctx); n != 0 {
				t.Fatalf("delivered %d mails early", n)
			}
			token := strings.TrimPrefix(g.ClaimURL, "http://127.0.0.1:8080")
			mustStatus(t, "claim early", customer.Get(token), 404)
			mustStatus(t, "claim API early", e.api(t, "", "GET", "/api/v1/claims/"+strings.TrimPrefix(token, "/c/"), "", ""), 404)
			admin, _, _ := settingsClients(t, e)
			if r := admin.Get("/gifts/" + g.ID); !strings.Contains(r.Body, `id="gift-scheduled"`) || !strings.Contains(r.Body, models.InBerlin(at).Format("02.01.2006 15:04")) {
				t.Fatalf("gift page lacks the schedule:\n%s", r.Body)
			}

			// Its time comes (the clock moves by shifting the stored times).
			s.DB().Model(&models.Gift{}).Where("public_id = ?", g.ID).Update("send_at", time.Now().Add(-time.Second))
			s.DB().Model(&models.Mail{}).Where("to_addr = ?", "kundin@example.com").Update("next_attempt", time.Now().Add(-time.Second))
			if n := a.DeliverMails(ctx); n != 1 {
				t.Fatalf("delivered %d mails on time", n)
			}
			sink.mu.Lock()
			got := len(sink.msgs)
			body := ""
			if got > 0 {
				body = sink.msgs[0].Body
			}
			sink.mu.Unlock()
			if got != 1 || !strings.Contains(body, token) {
				t.Fatalf("received %d mails: %s", got, body)
			}
			mustStatus(t, "claim on time", customer.Get(token), 200)
			if ag := decode[struct {
				Scheduled bool `json:"scheduled"`
			}](t, e.api(t, e.key, "GET", "/api/v1/gifts/"+g.ID, "", "")); ag.Scheduled {
				t.Fatal("still scheduled after its time")
			}

			// A scheduled gift cancelled before delivery: credit back, mail withdrawn.
			before = credit()
			res = e.api(t, e.key, "POST", "/api/v1/gifts", "s-2", giftBody(cafe, 12_00, `,"send_at":"`+at.Format(time.RFC3339)+`"`))
			g2 := decode[giftJSON](t, mustStatus(t, "scheduled 2", res, 201))
			if credit() != before-12_00 {
				t.Fatal("amount not reserved")
			}
			mustStatus(t, "cancel", e.api(t, e.key, "POST", "/api/v1/gifts/"+g2.ID+"/cancel", "", ""), 200)
			if credit() != before {
				t.Fatalf("credit %d, want %d", credit(), before)
			}
			s.DB().Model(&models.Mail{}).Where("status = ?", models.MailQueued).Update("next_attempt", time.Now().Add(-time.Second))
			if n := a.DeliverMails(ctx); n != 0 {
				t.Fatalf("cancelled gift's mail delivered (%d)", n)
			}
			verifyLedger(t, s)

			// The web form: Berlin time, past is 422, future is scheduled.
			mustStatus(t, "web past", webGift(admin, "sw-1", e.cafe.ID, url.Values{"send_at": {models.BerlinTime(time.Now().Add(-time.Hour))}}), 422)
			mustStatus(t, "web garbage", webGift(admin, "sw-2", e.cafe.ID, url.Values{"send_at": {"bald"}}), 422)
			future := time.Now().Add(26 * time.Hour).Truncate(time.Minute)
			gid := giftIDFromLocation(t, webGift(admin, "sw-3", e.cafe.ID, url.Values{"send_at": {models.BerlinTime(future)}}))
			wg, _ := s.GiftByPublicID(ctx, e.company.ID, gid)
			if wg.SendAt == nil || !wg.SendAt.Equal(future.UTC()) || !wg.Scheduled {
				t.Fatalf("web scheduled gift %+v", wg.SendAt)
			}
			if r := admin.Get("/gifts"); !strings.Contains(r.Body, "Gesendet · Geplant") {
				t.Fatal("list does not mark the scheduled gift")
			}
			verifyLedger(t, s)
		})
	}
}
