package app_test

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// A customer opens the mailed gift link on a phone, sees the partner cards
// (distance from the postcode the gift was sent near, logo), chooses a
// partner and sees the voucher with its QR code and PDF link; the bakery's
// owner types the code at the till and redeems 12,50 €; the customer's page
// then shows the new balance.
func TestBrowserClaimAndRedeem(t *testing.T) {
	a, sink := newMailingApp(t, "sqlite", true)
	e := setupVoucherEnv(t, a)
	mustLogo(t, e.a.Store, e.bakery)
	// The help desk sends the gift by mail, "near" the customer's postcode:
	// the three nearest partners, with distances.
	companyKey, _, err := e.a.Store.CreateAPIKey(t.Context(), &e.company.ID, nil, "desk", models.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	if res := e.call(t, companyKey, "POST", "/api/v1/gifts", "mail-1", `{"recipient_email":"kim@example.com","recipient_name":"Kim","amount_cents":5000,"currency":"EUR","near":"50678","message":"Das Paket kam zu spät – das tut uns leid.","notify":"email"}`); res.Status != 201 {
		t.Fatalf("send: %d %s", res.Status, res.Body)
	}
	if n := e.a.DeliverMails(t.Context()); n != 1 {
		t.Fatalf("delivered %d mails", n)
	}
	base := apptest.Serve(t, e.a)
	var link string
	sink.mu.Lock()
	for _, l := range apptest.Links(sink.msgs[0].Body) {
		if u, err := url.Parse(l); err == nil && strings.HasPrefix(u.Path, "/c/") {
			link = base + u.Path // the mailed link, on the test server
		}
	}
	sink.mu.Unlock()
	if link == "" {
		t.Fatal("no claim link in the mail")
	}
	token := strings.TrimPrefix(link, base+"/c/")
	phone, dir := browser(t, 390, 844)
	shot := func(name string) chromedp.Action { return screenshot(filepath.Join(dir, "voucher-"+name+".png")) }

	var code, balance, distance, pdfType, pdfHref, qrText string
	var qrWidth, logoWidth, distances, cardsWider int
	err = chromedp.Run(phone,
		chromedp.Navigate(link),
		switchToGerman(),
		chromedp.WaitVisible(`#choose-baeckerei-sonnenkorn`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#claim-partners .partner-distance').length`, &distances),
		chromedp.Text(`#partner-baeckerei-sonnenkorn .partner-distance`, &distance, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#partner-baeckerei-sonnenkorn img.partner-logo').naturalWidth`, &logoWidth),
		// Phone first: no card is wider than the viewport.
		chromedp.Evaluate(`[...document.querySelectorAll('.partner-card')].filter(c => c.getBoundingClientRect().right > window.innerWidth).length`, &cardsWider),
		shot("1-choose"),
		chromedp.Click(`#choose-baeckerei-sonnenkorn`, chromedp.ByQuery),
		chromedp.WaitVisible(`#voucher-qr`, chromedp.ByQuery),
		chromedp.Text(`#voucher-code`, &code, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#voucher-qr').naturalWidth`, &qrWidth),
		// What the voucher's QR code says: decoded with the till's own decoder.
		chromedp.Evaluate(qrOnPage, &qrText, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		chromedp.AttributeValue(`#voucher-pdf`, "href", &pdfHref, nil, chromedp.ByQuery),
		chromedp.Evaluate(`fetch(document.querySelector('#voucher-pdf').href).then(r => r.headers.get('content-type'))`, &pdfType,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		shot("2-voucher"),
	)
	if err != nil {
		t.Fatalf("customer: %v", err)
	}
	if len(code) != 24 || qrWidth < 100 {
		t.Fatalf("code %q, QR width %d", code, qrWidth)
	}
	if distances != 3 || !strings.HasSuffix(distance, " km entfernt") || logoWidth != 16 || cardsWider != 0 {
		t.Fatalf("partner cards: %d distances (%q), logo width %d, %d cards wider than the phone", distances, distance, logoWidth, cardsWider)
	}
	if qrText != code {
		t.Fatalf("the voucher's QR code says %q, not the code %q", qrText, code)
	}
	if pdfHref != "/c/"+token+"/voucher.pdf" || pdfType != "application/pdf" {
		t.Fatalf("PDF link %q answers %q", pdfHref, pdfType)
	}

	till, _ := browser(t, 390, 844)
	var receipt string
	err = chromedp.Run(till,
		chromedp.Navigate(base+"/login"),
		switchToGerman(),
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

// qrOnPage decodes the voucher page's QR image with the vendored jsQR.
const qrOnPage = `new Promise((resolve, reject) => {
  const s = document.createElement('script');
  s.src = '/static/vendor/jsQR.js';
  s.onerror = reject;
  s.onload = () => {
    const img = document.querySelector('#voucher-qr');
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const x = c.getContext('2d');
    x.drawImage(img, 0, 0);
    const d = x.getImageData(0, 0, c.width, c.height);
    const r = jsQR(d.data, c.width, c.height);
    resolve(r ? r.data : '');
  };
  document.head.appendChild(s);
})`
