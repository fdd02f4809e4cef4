package app_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/skip2/go-qrcode"

	"trostpflaster/app/apptest"
)

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
