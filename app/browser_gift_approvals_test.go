package app_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"trostpflaster/app/apptest"
)

// TestBrowserGiftApproval: the demo agent sends a gift within the limit,
// a second one above it waits; the admin approves; the mail arrives.
func TestBrowserGiftApproval(t *testing.T) {
	a, sink := newMailingApp(t, "sqlite", true)
	cafe, err := a.Store.MerchantBySlug(t.Context(), "cafe-rheinblick")
	if err != nil {
		t.Fatal(err)
	}
	base := apptest.Serve(t, a)
	ctx, dir := browser(t, 390, 844)

	sendGift := func(email, amount string) chromedp.Tasks {
		return chromedp.Tasks{
			chromedp.Navigate(base + "/gifts/new"),
			chromedp.WaitVisible("#gift-form", chromedp.ByQuery),
			chromedp.SendKeys("#f-recipient_name", "Kim Kundin", chromedp.ByQuery),
			chromedp.SendKeys("#f-recipient_email", email, chromedp.ByQuery),
			chromedp.SendKeys("#f-amount", amount, chromedp.ByQuery),
			chromedp.SetValue("#f-merchant_id", fmt.Sprint(cafe.ID), chromedp.ByQuery),
			chromedp.SendKeys("#f-message", "Es tut uns leid!", chromedp.ByQuery),
			chromedp.Click("#gift-submit", chromedp.ByQuery),
			chromedp.WaitVisible("#gift-status", chromedp.ByQuery),
		}
	}
	var status1, status2, pendingPath, afterApprove string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys("#f-email", "agent1@beispiel-verlag.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-password", "demo-agent-2026", chromedp.ByQuery),
		chromedp.Submit("#f-password", chromedp.ByQuery),
		chromedp.WaitVisible("#credit", chromedp.ByQuery),
		sendGift("kim@example.com", "20,00"),
		chromedp.WaitVisible("#claim-qr", chromedp.ByQuery),
		chromedp.Text("#gift-status", &status1, chromedp.ByQuery),
		screenshot(filepath.Join(dir, "gifts-sent.png")),
		sendGift("lea@example.com", "30"),
		chromedp.Text("#gift-status", &status2, chromedp.ByQuery),
		chromedp.Evaluate(`location.pathname`, &pendingPath),
		screenshot(filepath.Join(dir, "gifts-pending.png")),
		network.ClearBrowserCookies(),
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys("#f-email", "chefin@beispiel-verlag.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-password", "demo-chefin-2026", chromedp.ByQuery),
		chromedp.Submit("#f-password", chromedp.ByQuery),
		chromedp.WaitVisible("#credit", chromedp.ByQuery),
		chromedp.Navigate(base+"/gifts/approvals"),
		chromedp.WaitVisible("main h1", chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	id := strings.TrimPrefix(pendingPath, "/gifts/")
	err = chromedp.Run(ctx,
		chromedp.WaitVisible("#approval-"+id, chromedp.ByQuery),
		screenshot(filepath.Join(dir, "gifts-approvals.png")),
		chromedp.Click("#approval-"+id+" button.approve", chromedp.ByQuery),
		chromedp.WaitVisible("#no-approvals", chromedp.ByQuery),
		chromedp.Navigate(base+pendingPath),
		chromedp.WaitVisible("#gift-status", chromedp.ByQuery),
		chromedp.Text("#gift-status", &afterApprove, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if status1 != "Gesendet" || status2 != "Wartet auf Freigabe" || afterApprove != "Gesendet" {
		t.Fatalf("statuses %q %q %q", status1, status2, afterApprove)
	}

	// The admin's report draws its charts; CSP violations and script errors
	// would show up as console errors.
	var mu sync.Mutex
	var consoleErrors []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, e.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				consoleErrors = append(consoleErrors, "console.error")
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError {
				consoleErrors = append(consoleErrors, e.Entry.Text)
			}
		}
	})
	var sentStat string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.Click("#company-report", chromedp.ByQuery),
		chromedp.WaitVisible(`#chart-months[data-ready="1"]`, chromedp.ByQuery),
		// No value claimed or redeemed at a partner yet: that chart stays hidden.
		chromedp.WaitReady(`.report-empty #chart-partners[data-ready="1"]`, chromedp.ByQuery),
		chromedp.Text("#stat-sent", &sentStat, chromedp.ByQuery),
		screenshot(filepath.Join(dir, "company-report.png")),
	)
	if err != nil {
		t.Fatalf("report in the browser: %v", err)
	}
	if sentStat != "50,00 €" {
		t.Errorf("report: sent %q", sentStat)
	}
	mu.Lock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors on the report: %v", consoleErrors)
	}
	mu.Unlock()
	// Two recipients, and the agent hears that the admin approved.
	if n := a.DeliverMails(t.Context()); n != 3 {
		t.Fatalf("delivered %d mails", n)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	got := map[string]bool{}
	for _, m := range sink.msgs {
		got[m.To[0]] = strings.Contains(m.Body, "/c/")
	}
	if _, told := got["agent1@beispiel-verlag.example"]; !told {
		t.Fatalf("the agent was not told: %v", got)
	}
	if !got["kim@example.com"] || !got["lea@example.com"] || got["agent1@beispiel-verlag.example"] {
		t.Fatalf("mails: %v", got)
	}
}
