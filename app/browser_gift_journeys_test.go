package app_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// TestBrowserGiftJourneys walks every gift mode in Chromium on a phone
// (390 px): the agent sends the gift in the web form (or a CSV file), the
// admin approves it where the agent's limit asks for that, the customer
// opens the mailed link, takes the bakery's voucher and the bakery redeems
// 5 € of it at the till. Screenshots: journey-<mode>-<step>.png.
func TestBrowserGiftJourneys(t *testing.T) {
	a, sink := newMailingApp(t, "sqlite", true)
	ctx := t.Context()
	bakery, err := a.Store.MerchantBySlug(ctx, "baeckerei-sonnenkorn")
	if err != nil {
		t.Fatal(err)
	}
	cafe, err := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	if err != nil {
		t.Fatal(err)
	}
	company, err := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	if err != nil {
		t.Fatal(err)
	}
	base := apptest.Serve(t, a)

	// One phone per person, each with its own cookies.
	sender, dir := browser(t, 390, 844)
	admin, _ := browser(t, 390, 844)
	customer, _ := browser(t, 390, 844)
	till, _ := browser(t, 390, 844)
	login := func(email, password string) chromedp.Tasks {
		return chromedp.Tasks{
			chromedp.Navigate(base + "/login"),
			switchToGerman(),
			chromedp.WaitVisible("#f-email", chromedp.ByQuery),
			chromedp.SendKeys("#f-email", email, chromedp.ByQuery),
			chromedp.SendKeys("#f-password", password, chromedp.ByQuery),
			chromedp.Submit("#f-password", chromedp.ByQuery),
			chromedp.WaitVisible(".site-nav", chromedp.ByQuery),
		}
	}
	for _, step := range []struct {
		ctx context.Context
		do  chromedp.Action
	}{
		{sender, login("agent1@beispiel-verlag.example", "demo-agent-2026")},
		{admin, login("chefin@beispiel-verlag.example", "demo-chefin-2026")},
		{till, login("inhaber@sonnenkorn.example", "demo-partner-2026")},
		{customer, chromedp.Tasks{chromedp.Navigate(base + "/"), switchToGerman()}},
	} {
		if err := chromedp.Run(step.ctx, step.do); err != nil {
			t.Fatalf("log-in: %v", err)
		}
	}

	// sendForm fills the send form as the agent would; partner picks the
	// partner fields of the mode.
	sendForm := func(email, amount string, partner chromedp.Action, extra ...chromedp.Action) chromedp.Tasks {
		tasks := chromedp.Tasks{
			chromedp.Navigate(base + "/gifts/new"),
			chromedp.WaitVisible("#gift-form", chromedp.ByQuery),
			chromedp.SendKeys("#f-recipient_name", "Kim Kundin", chromedp.ByQuery),
			chromedp.SendKeys("#f-recipient_email", email, chromedp.ByQuery),
			chromedp.SendKeys("#f-amount", amount, chromedp.ByQuery),
			partner,
			chromedp.SendKeys("#f-message", "Das Paket kam zu spät – das tut uns leid.", chromedp.ByQuery),
		}
		tasks = append(tasks, extra...)
		return append(tasks, chromedp.Click("#gift-submit", chromedp.ByQuery), chromedp.WaitVisible("#gift-status", chromedp.ByQuery))
	}
	onePartner := chromedp.Tasks{
		chromedp.Click(`input[name="mode"][value="one"]`, chromedp.ByQuery),
		chromedp.SetValue("#f-merchant_id", fmt.Sprint(bakery.ID), chromedp.ByQuery),
	}

	type mode struct {
		name   string
		amount int64
		// send does the company's part in the browser; offered are the
		// partner cards the claim page must show.
		send    func(t *testing.T, email string, shot func(string) chromedp.Action)
		offered []string
	}
	runOn := func(t *testing.T, c context.Context, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(c, actions...); err != nil {
			t.Fatal(err)
		}
	}
	modes := []mode{
		{"one-partner", 20_00, func(t *testing.T, email string, shot func(string) chromedp.Action) {
			runOn(t, sender, sendForm(email, "20,00", onePartner), shot("1-sent"))
		}, []string{bakery.Slug}},
		{"choice", 20_00, func(t *testing.T, email string, shot func(string) chromedp.Action) {
			runOn(t, sender, sendForm(email, "20,00", chromedp.Tasks{
				chromedp.Click(`input[name="mode"][value="choice"]`, chromedp.ByQuery),
				chromedp.Evaluate(`document.querySelector('#gift-form details').open = true`, nil),
				chromedp.Click(fmt.Sprintf(`input[name="merchant_ids"][value="%d"]`, cafe.ID), chromedp.ByQuery),
				chromedp.Click(fmt.Sprintf(`input[name="merchant_ids"][value="%d"]`, bakery.ID), chromedp.ByQuery),
			}), shot("1-sent"))
		}, []string{cafe.Slug, bakery.Slug}},
		{"near", 20_00, func(t *testing.T, email string, shot func(string) chromedp.Action) {
			runOn(t, sender, sendForm(email, "20,00", chromedp.Tasks{
				chromedp.Click(`input[name="mode"][value="near"]`, chromedp.ByQuery),
				chromedp.SendKeys("#f-near", "50678", chromedp.ByQuery),
			}), shot("1-sent"))
		}, nil},
		{"scheduled", 20_00, func(t *testing.T, email string, shot func(string) chromedp.Action) {
			at := models.InBerlin(time.Now().Add(3 * time.Hour)).Format("2006-01-02T15:04")
			var scheduled bool
			runOn(t, sender, sendForm(email, "20,00", onePartner, chromedp.SetValue("#f-send_at", at, chromedp.ByQuery)),
				chromedp.Evaluate(`!!document.querySelector('#gift-scheduled')`, &scheduled), shot("1-sent"))
			if !scheduled {
				t.Fatal("the gift page does not say the gift is scheduled")
			}
			if n := a.DeliverMails(ctx); n != 0 {
				t.Fatalf("mailed %d before its time", n)
			}
			// Its time comes: the clock moves by shifting the stored times.
			db := a.Store.DB()
			db.Model(&models.Gift{}).Where("recipient_email = ?", email).Update("send_at", time.Now().Add(-time.Second))
			db.Model(&models.Mail{}).Where("to_addr = ?", email).Update("next_attempt", time.Now().Add(-time.Second))
		}, []string{bakery.Slug}},
		{"bulk", 20_00, func(t *testing.T, email string, shot func(string) chromedp.Action) {
			file := filepath.Join(t.TempDir(), "kunden.csv")
			csv := "recipient_email;recipient_name;amount;merchant;message\n" + email + ";Kim Kundin;20,00;baeckerei-sonnenkorn;Das Paket kam zu spät – das tut uns leid.\n"
			if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
				t.Fatal(err)
			}
			runOn(t, sender,
				chromedp.Navigate(base+"/gifts/bulk"),
				chromedp.WaitVisible("#bulk-form", chromedp.ByQuery),
				chromedp.SetUploadFiles("#f-file", []string{file}, chromedp.ByQuery),
				chromedp.Click("#bulk-upload", chromedp.ByQuery),
				chromedp.WaitVisible("#bulk-send", chromedp.ByQuery),
				shot("0-preview"),
				chromedp.Click("#bulk-send", chromedp.ByQuery),
				chromedp.WaitVisible("#bulk-sent", chromedp.ByQuery),
			)
			if n := a.RunBulk(ctx); n != 1 {
				t.Fatalf("ran %d batches", n)
			}
			runOn(t, sender, chromedp.Reload(), chromedp.WaitVisible("#bulk-sent", chromedp.ByQuery), shot("1-sent"))
		}, []string{bakery.Slug}},
		{"approval", 30_00, func(t *testing.T, email string, shot func(string) chromedp.Action) {
			var status, path string
			runOn(t, sender, sendForm(email, "30,00", onePartner),
				chromedp.Text("#gift-status", &status, chromedp.ByQuery), chromedp.Evaluate(`location.pathname`, &path), shot("1-waiting"))
			if status != "Wartet auf Freigabe" {
				t.Fatalf("above the limit: %q", status)
			}
			id := strings.TrimPrefix(path, "/gifts/")
			runOn(t, admin,
				chromedp.Navigate(base+"/gifts/approvals"),
				chromedp.WaitVisible("#approval-"+id, chromedp.ByQuery),
				shot("2-approval"),
				chromedp.Click("#approval-"+id+" button.approve", chromedp.ByQuery),
				chromedp.WaitNotPresent("#approval-"+id, chromedp.ByQuery),
			)
		}, []string{bakery.Slug}},
	}

	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			email := "kim." + m.name + "@example.com"
			shot := func(step string) chromedp.Action {
				return screenshot(filepath.Join(dir, "journey-"+m.name+"-"+step+".png"))
			}
			m.send(t, email, shot)
			link := mailedClaimLink(t, a, sink, email)

			offered := m.offered
			if offered == nil { // near: whatever the gift was sent for
				var g models.Gift
				if err := a.Store.DB().Where("company_id = ? AND recipient_email = ?", company.ID, email).First(&g).Error; err != nil {
					t.Fatal(err)
				}
				full, err := a.Store.GiftByPublicID(ctx, company.ID, g.PublicID)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range full.OfferedMerchants() {
					offered = append(offered, o.Slug)
				}
			}

			var heading, code, balance, receipt string
			var cards, wider int
			runOn(t, customer,
				chromedp.Navigate(base+link),
				chromedp.WaitVisible("#choose-"+bakery.Slug, chromedp.ByQuery),
				chromedp.Evaluate(`document.querySelectorAll('#claim-partners .partner-card').length`, &cards),
				chromedp.Evaluate(`[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).length`, &wider),
				chromedp.Evaluate(`document.querySelector('article h2').textContent`, &heading),
				shot("3-claim"),
				chromedp.Click("#choose-"+bakery.Slug, chromedp.ByQuery),
				chromedp.WaitVisible("#voucher-code", chromedp.ByQuery),
				chromedp.Text("#voucher-code", &code, chromedp.ByQuery),
				chromedp.Text("#voucher-balance", &balance, chromedp.ByQuery),
				shot("4-voucher"),
			)
			if cards != len(offered) {
				t.Fatalf("claim page shows %d partners, the gift offers %v", cards, offered)
			}
			wantHeading := "Sie haben die Wahl"
			if len(offered) == 1 {
				wantHeading = "Einzulösen bei"
			}
			if heading != wantHeading || wider != 0 {
				t.Fatalf("claim page heading %q (want %q), %d elements wider than the phone", heading, wantHeading, wider)
			}
			if balance != money(m.amount) {
				t.Fatalf("voucher balance %q", balance)
			}

			runOn(t, till,
				chromedp.Navigate(base+"/merchant/redeem"),
				chromedp.WaitVisible("#f-code", chromedp.ByQuery),
				chromedp.SendKeys("#f-code", code, chromedp.ByQuery),
				chromedp.Submit("#f-code", chromedp.ByQuery),
				chromedp.WaitVisible("#f-amount", chromedp.ByQuery),
				chromedp.SendKeys("#f-amount", "5,00", chromedp.ByQuery),
				chromedp.Submit("#f-amount", chromedp.ByQuery),
				chromedp.WaitVisible("#receipt", chromedp.ByQuery),
				chromedp.Text("#receipt-balance", &receipt, chromedp.ByQuery),
				shot("5-till"),
			)
			runOn(t, customer, chromedp.Reload(), chromedp.WaitVisible("#voucher-balance", chromedp.ByQuery),
				chromedp.Text("#voucher-balance", &balance, chromedp.ByQuery))
			if receipt != money(m.amount-5_00) || balance != receipt {
				t.Fatalf("after 5 € at the till: receipt %q, customer's page %q", receipt, balance)
			}
		})
	}
	verifyLedger(t, a.Store)
}

// mailedClaimLink delivers the queued mails and returns the path of the
// claim link in the mail to email.
func mailedClaimLink(t *testing.T, a interface{ DeliverMails(context.Context) int }, sink *smtpSink, email string) string {
	t.Helper()
	a.DeliverMails(t.Context())
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, m := range sink.msgs {
		if len(m.To) != 1 || m.To[0] != email {
			continue
		}
		for _, l := range apptest.Links(m.Body) {
			if u, err := url.Parse(l); err == nil && strings.HasPrefix(u.Path, "/c/") {
				return u.Path
			}
		}
	}
	t.Fatalf("no mail with a claim link reached %s", email)
	return ""
}
