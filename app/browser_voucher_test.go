package app_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"trostpflaster/app/apptest"
)

// A customer opens the gift link on a phone, chooses a partner and sees the
// voucher with its QR code; the bakery's owner types the code at the till and
// redeems 12,50 €; the customer's page then shows the new balance.
func TestBrowserClaimAndRedeem(t *testing.T) {
	e := newVoucherEnv(t, "sqlite")
	_, token := e.gift(t, 50_00, e.bakery, e.cafe)
	base := apptest.Serve(t, e.a)
	phone, dir := browser(t, 390, 844)
	shot := func(name string) chromedp.Action { return screenshot(filepath.Join(dir, "voucher-"+name+".png")) }

	var code, balance string
	var qrWidth int
	err := chromedp.Run(phone,
		chromedp.Navigate(base+"/c/"+token),
		chromedp.Click(`.lang-switch button[value="de"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#choose-baeckerei-sonnenkorn`, chromedp.ByQuery),
		shot("1-choose"),
		chromedp.Click(`#choose-baeckerei-sonnenkorn`, chromedp.ByQuery),
		chromedp.WaitVisible(`#voucher-qr`, chromedp.ByQuery),
		chromedp.Text(`#voucher-code`, &code, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#voucher-qr').naturalWidth`, &qrWidth),
		shot("2-voucher"),
	)
	if err != nil {
		t.Fatalf("customer: %v", err)
	}
	if len(code) != 24 || qrWidth < 100 {
		t.Fatalf("code %q, QR width %d", code, qrWidth)
	}

	till, _ := browser(t, 390, 844)
	var receipt string
	err = chromedp.Run(till,
		chromedp.Navigate(base+"/login"),
		chromedp.Click(`.lang-switch button[value="de"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#f-email`, chromedp.ByQuery),
		chromedp.SendKeys("#f-email", "inhaber@sonnenkorn.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-password", "demo-partner-2026", chromedp.ByQuery),
		chromedp.Submit("#f-password", chromedp.ByQuery),
		chromedp.WaitVisible(`.site-nav a[href="/merchant/redeem"]`, chromedp.ByQuery),
		chromedp.Click(`.site-nav a[href="/merchant/redeem"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#f-code", chromedp.ByQuery),
		chromedp.SendKeys("#f-code", strings.ToLower(strings.ReplaceAll(code, "-", " ")), chromedp.ByQuery),
		chromedp.Submit("#f-code", chromedp.ByQuery),
		chromedp.WaitVisible("#f-amount", chromedp.ByQuery),
		shot("3-till-check"),
		chromedp.SendKeys("#f-amount", "12,50", chromedp.ByQuery),
		chromedp.Submit("#f-amount", chromedp.ByQuery),
		chromedp.WaitVisible("#receipt", chromedp.ByQuery),
		chromedp.Text("#receipt-balance", &receipt, chromedp.ByQuery),
		shot("4-till-receipt"),
	)
	if err != nil {
		t.Fatalf("till: %v", err)
	}
	if receipt != "37,50 €" {
		t.Fatalf("receipt balance %q", receipt)
	}
	err = chromedp.Run(phone,
		chromedp.Reload(),
		chromedp.WaitVisible(`#voucher-balance`, chromedp.ByQuery),
		chromedp.Text(`#voucher-balance`, &balance, chromedp.ByQuery),
		shot("5-voucher-after"),
	)
	if err != nil {
		t.Fatalf("customer again: %v", err)
	}
	if balance != "37,50 €" {
		t.Fatalf("customer sees %q", balance)
	}
	verifyLedger(t, e.a.Store)
}
