package app_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// journey is one gift's way through the product on the real router: a
// company's people send it in some mode, the customer gets it by mail over
// SMTP, takes it on the claim page and redeems part of it at the
// bakery's till.
type journey struct {
	a             *app.App
	sink          *smtpSink
	agent, admin  *apptest.Client
	cafe, bakery  *models.Merchant
	companyID     uint
	customerEmail string
}

func newJourney(t *testing.T, dialect, email string) *journey {
	t.Helper()
	a, sink := newMailingApp(t, dialect, true)
	j := &journey{a: a, sink: sink, customerEmail: email}
	ctx := t.Context()
	company, err := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	if err != nil {
		t.Fatal(err)
	}
	j.companyID = company.ID
	if j.cafe, err = a.Store.MerchantBySlug(ctx, "cafe-rheinblick"); err != nil {
		t.Fatal(err)
	}
	if j.bakery, err = a.Store.MerchantBySlug(ctx, "baeckerei-sonnenkorn"); err != nil {
		t.Fatal(err)
	}
	j.agent = apptest.NewClient(t, a.HTTP)
	j.agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
	j.admin = apptest.NewClient(t, a.HTTP)
	j.admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	return j
}

// sendForm is the agent's click on "send" in the web form.
func (j *journey) sendForm(t *testing.T, amount string, partner url.Values) string {
	t.Helper()
	form := url.Values{"idem": {"journey-" + j.customerEmail}, "recipient_name": {"Kim Kundin"}, "recipient_email": {j.customerEmail},
		"amount": {amount}, "message": {"Das Paket kam zu spät – das tut uns leid."}, "reason_code": {"late_delivery"}, "lang": {"de"}}
	for k, v := range partner {
		form[k] = v
	}
	return giftIDFromLocation(t, j.agent.PostForm("/gifts", form))
}

// mailedLink delivers the queued mails and returns the path of the claim
// link in the customer's mail.
func (j *journey) mailedLink(t *testing.T) string {
	t.Helper()
	return mailedClaimLink(t, j.a, j.sink, j.customerEmail)
}

var voucherCodeRe = regexp.MustCompile(`id="voucher-code">([0-9A-Z-]+)<`)

// claimAndRedeem is the customer's and the till's part: the claim page
// offers exactly the partners the gift was sent for, with a button for
// each; the customer takes the bakery's voucher (code, QR, PDF); the
// bakery redeems 5 € of it at the till and the customer's page shows the
// rest.
func (j *journey) claimAndRedeem(t *testing.T, link string, offered []*models.Merchant, amount int64) {
	t.Helper()
	customer := apptest.NewClient(t, j.a.HTTP)
	page := customer.Get(link)
	if page.Status != 200 {
		t.Fatalf("claim page: %d", page.Status)
	}
	for _, want := range []string{"Beispiel-Verlag GmbH", "Das Paket kam zu spät", `id="claim-partners"`} {
		if !strings.Contains(page.Body, want) {
			t.Fatalf("claim page lacks %q:\n%s", want, page.Body)
		}
	}
	if n := strings.Count(page.Body, `class="card partner-card"`); n != len(offered) {
		t.Fatalf("claim page shows %d partner cards, want %d:\n%s", n, len(offered), page.Body)
	}
	for _, m := range offered {
		if !strings.Contains(page.Body, `id="choose-`+m.Slug+`"`) {
			t.Fatalf("claim page has no button for %s:\n%s", m.Name, page.Body)
		}
	}
	if len(offered) == 1 {
		if strings.Contains(page.Body, "Sie haben die Wahl") || !strings.Contains(page.Body, "Einzulösen bei") || !strings.Contains(page.Body, "Gutschein annehmen") {
			t.Fatalf("one-partner claim page asks for a choice:\n%s", page.Body)
		}
	} else if !strings.Contains(page.Body, "Sie haben die Wahl") {
		t.Fatalf("choice claim page does not offer a choice:\n%s", page.Body)
	}
	// Not claimed yet: the PDF link leads back to the page that offers it.
	if res := customer.Get(link + "/voucher.pdf"); res.Status != 303 || res.Header.Get("Location") != link {
		t.Fatalf("PDF before the claim: %d %q", res.Status, res.Header.Get("Location"))
	}

	if res := customer.PostForm(link+"/claim", url.Values{"merchant_id": {fmt.Sprint(j.bakery.ID)}}); res.Status != 303 || res.Header.Get("Location") != link {
		t.Fatalf("take the voucher: %d %s", res.Status, res.Body)
	}
	page = customer.Get(link)
	code := voucherCodeRe.FindStringSubmatch(page.Body)
	if page.Status != 200 || code == nil || !strings.Contains(page.Body, `id="voucher-qr"`) || !strings.Contains(page.Body, "Bäckerei Sonnenkorn") ||
		!strings.Contains(page.Body, `id="voucher-balance">`+money(amount)) {
		t.Fatalf("voucher page: %d\n%s", page.Status, page.Body)
	}
	if res := customer.Get(link + "/voucher.pdf"); res.Status != 200 || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("PDF: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	// Taking it again (a second tap, another device) shows the same voucher.
	if res := customer.PostForm(link+"/claim", url.Values{"merchant_id": {fmt.Sprint(j.bakery.ID)}}); res.Status != 303 {
		t.Fatalf("take twice: %d", res.Status)
	}

	till := apptest.NewClient(t, j.a.HTTP)
	till.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
	res := till.PostForm("/merchant/redeem/lookup", url.Values{"code": {strings.ToLower(code[1])}})
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(res.Body)
	if res.Status != 200 || key == nil || !strings.Contains(res.Body, money(amount)) {
		t.Fatalf("till look-up: %d\n%s", res.Status, res.Body)
	}
	res = till.PostForm("/merchant/redeem", url.Values{"code": {code[1]}, "amount": {"5,00"}, "key": {key[1]}})
	if res.Status != 200 || !strings.Contains(res.Body, `id="receipt-balance">`+money(amount-5_00)) {
		t.Fatalf("redeem: %d\n%s", res.Status, res.Body)
	}
	if p := customer.Get(link); !strings.Contains(p.Body, `id="voucher-balance">`+money(amount-5_00)) {
		t.Fatalf("the customer's page does not show the rest:\n%s", p.Body)
	}
	verifyLedger(t, j.a.Store)
}

// money is how a German page writes cents ("20,00 €").
func money(cents int64) string {
	return fmt.Sprintf("%d,%02d €", cents/100, cents%100)
}

// TestGiftJourneys walks every gift mode the product offers, on both
// databases, from the sender's click to the customer's voucher and the
// till: one partner (the send form's default), a choice, partners near the
// customer, a scheduled gift, a bulk CSV row, and a gift above the agent's
// limit that the admin approves.
func TestGiftJourneys(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name string
		run  func(t *testing.T, j *journey)
	}{
		{"one partner", func(t *testing.T, j *journey) {
			j.sendForm(t, "20,00", url.Values{"mode": {"one"}, "merchant_id": {fmt.Sprint(j.bakery.ID)}})
			j.claimAndRedeem(t, j.mailedLink(t), []*models.Merchant{j.bakery}, 20_00)
		}},
		{"choice", func(t *testing.T, j *journey) {
			j.sendForm(t, "20,00", url.Values{"mode": {"choice"}, "merchant_ids": {fmt.Sprint(j.cafe.ID), fmt.Sprint(j.bakery.ID)}})
			j.claimAndRedeem(t, j.mailedLink(t), []*models.Merchant{j.cafe, j.bakery}, 20_00)
		}},
		{"near", func(t *testing.T, j *journey) {
			id := j.sendForm(t, "20,00", url.Values{"mode": {"near"}, "near": {"50678"}})
			g, err := j.a.Store.GiftByPublicID(t.Context(), j.companyID, id)
			if err != nil {
				t.Fatal(err)
			}
			offered := make([]*models.Merchant, 0, len(g.Offers))
			for i := range g.Offers {
				offered = append(offered, &g.Offers[i].Merchant)
			}
			names := make([]string, 0, len(offered))
			for _, m := range offered {
				names = append(names, m.Slug)
			}
			if len(offered) < 2 || !strings.Contains(strings.Join(names, " "), j.bakery.Slug) {
				t.Fatalf("near 50678 offers %v", names)
			}
			j.claimAndRedeem(t, j.mailedLink(t), offered, 20_00)
		}},
		{"scheduled", func(t *testing.T, j *journey) {
			at := models.InBerlin(time.Now().Add(3 * time.Hour)).Format("2006-01-02T15:04")
			id := j.sendForm(t, "20,00", url.Values{"mode": {"one"}, "merchant_id": {fmt.Sprint(j.bakery.ID)}, "send_at": {at}})
			if n := j.a.DeliverMails(t.Context()); n != 0 {
				t.Fatalf("a scheduled gift was mailed %d times before its time", n)
			}
			g, err := j.a.Store.GiftByPublicID(t.Context(), j.companyID, id)
			if err != nil {
				t.Fatal(err)
			}
			link := "/c/" + j.a.Store.GiftClaimToken(g)
			if res := apptest.NewClient(t, j.a.HTTP).Get(link); res.Status != 404 {
				t.Fatalf("link before its time: %d", res.Status)
			}
			// Its time comes: the clock moves by shifting the stored times.
			db := j.a.Store.DB()
			db.Model(&models.Gift{}).Where("id = ?", g.ID).Update("send_at", time.Now().Add(-time.Second))
			db.Model(&models.Mail{}).Where("to_addr = ?", j.customerEmail).Update("next_attempt", time.Now().Add(-time.Second))
			j.claimAndRedeem(t, j.mailedLink(t), []*models.Merchant{j.bakery}, 20_00)
		}},
		{"bulk", func(t *testing.T, j *journey) {
			csv := "recipient_email;recipient_name;amount;merchant;message;reference\n" +
				j.customerEmail + ";Kim Kundin;20,00;baeckerei-sonnenkorn;Das Paket kam zu spät – das tut uns leid.;B-1\n"
			res := uploadCSV(t, j.agent, "kunden.csv", []byte(csv))
			loc := res.Header.Get("Location")
			if res.Status != 303 || !strings.HasPrefix(loc, "/gifts/bulk/") {
				t.Fatalf("upload: %d %s", res.Status, res.Body)
			}
			if res := j.agent.PostForm(loc+"/send", nil); res.Status != 303 {
				t.Fatalf("send batch: %d", res.Status)
			}
			if n := j.a.RunBulk(t.Context()); n != 1 {
				t.Fatalf("ran %d batches", n)
			}
			j.claimAndRedeem(t, j.mailedLink(t), []*models.Merchant{j.bakery}, 20_00)
		}},
		{"approval", func(t *testing.T, j *journey) {
			id := j.sendForm(t, "30,00", url.Values{"mode": {"one"}, "merchant_id": {fmt.Sprint(j.bakery.ID)}})
			if n := j.a.DeliverMails(t.Context()); n != 0 {
				t.Fatalf("a gift waiting for approval sent %d mails", n)
			}
			if res := j.admin.PostForm("/gifts/"+id+"/approve", nil); res.Status != 303 {
				t.Fatalf("approve: %d %s", res.Status, res.Body)
			}
			j.claimAndRedeem(t, j.mailedLink(t), []*models.Merchant{j.bakery}, 30_00)
		}},
	}
	for _, d := range apptest.Dialects(t) {
		for _, m := range modes {
			t.Run(apptest.Name(d)+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				m.run(t, newJourney(t, d, "kim."+strings.ReplaceAll(m.name, " ", "-")+"@example.com"))
			})
		}
	}
}
