package app_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	qrcode "github.com/skip2/go-qrcode"

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

// fakeCamera writes a Y4M video showing the QR code of text, for Chromium's
// --use-file-for-fake-video-capture (a camera pointed at a voucher).
func fakeCamera(t *testing.T, text string) string {
	t.Helper()
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	img := q.Image(360)
	const w, h = 640, 480
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, h)
	ox, oy := (w-img.Bounds().Dx())/2, (h-img.Bounds().Dy())/2
	for f := 0; f < 5; f++ {
		buf.WriteString("FRAME\n")
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				luma := byte(235)
				if p := image.Pt(x-ox, y-oy); p.In(img.Bounds()) {
					r, _, _, _ := img.At(p.X, p.Y).RGBA()
					luma = byte(16 + (r>>8)*219/255)
				}
				buf.WriteByte(luma)
			}
		}
		buf.Write(bytes.Repeat([]byte{128}, w*h/2)) // U and V planes: no colour
	}
	path := filepath.Join(t.TempDir(), "voucher-qr.y4m")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cameraBrowser is browser() at phone size with a fake camera that films
// video and a permission prompt that says yes.
func cameraBrowser(t *testing.T, video string) context.Context {
	t.Helper()
	ctx, _ := browser(t, 390, 844,
		chromedp.Flag("use-fake-device-for-media-stream", true), chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", video))
	return ctx
}

// Staff scan the voucher's QR code with the phone's camera: the scanner
// (BarcodeDetector, or the vendored jsQR where the browser has none, as on
// desktop Linux) reads the code, fills it in and checks it — no typing.
// The CSP stays without inline script or eval.
func TestBrowserTillScansQR(t *testing.T) {
	e := newVoucherEnv(t, "sqlite")
	_, token := e.gift(t, 30_00, e.bakery)
	code := e.claim(t, token, e.bakery)
	base := apptest.Serve(t, e.a)
	till := cameraBrowser(t, fakeCamera(t, code))
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	_ = os.MkdirAll(dir, 0o755)

	var balance, decoder string
	var violations []string
	err := chromedp.Run(till,
		chromedp.Navigate(base+"/login"),
		switchToGerman(),
		chromedp.WaitVisible(`#f-email`, chromedp.ByQuery),
		chromedp.SendKeys("#f-email", "inhaber@sonnenkorn.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-password", "demo-partner-2026", chromedp.ByQuery),
		chromedp.Submit("#f-password", chromedp.ByQuery),
		chromedp.WaitVisible(`.site-nav a[href="/merchant/redeem"]`, chromedp.ByQuery),
		chromedp.Navigate(base+"/merchant/redeem"),
		chromedp.Evaluate(`window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); true`, nil),
		chromedp.WaitVisible("#scan-start", chromedp.ByQuery),
		chromedp.Evaluate(`'BarcodeDetector' in window ? 'BarcodeDetector' : 'jsQR'`, &decoder),
		screenshot(filepath.Join(dir, "voucher-6-till-scan-button.png")),
		chromedp.Click("#scan-start", chromedp.ByQuery),
		chromedp.WaitVisible("#f-amount", chromedp.ByQuery),
		chromedp.Text("#check-balance", &balance, chromedp.ByQuery),
		screenshot(filepath.Join(dir, "voucher-7-till-scanned.png")),
	)
	if err != nil {
		t.Fatalf("till scan: %v", err)
	}
	_ = chromedp.Run(till, chromedp.Evaluate(`window.__csp || []`, &violations))
	if balance != "30,00 €" || len(violations) > 0 {
		t.Fatalf("after scanning (%s): balance %q, CSP violations %v", decoder, balance, violations)
	}
	t.Logf("decoded with %s", decoder)
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
