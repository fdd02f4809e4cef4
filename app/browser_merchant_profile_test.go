package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"trostpflaster/app/apptest"
)

// TestBrowserMerchantOnboarding: a new shop signs up on a phone, completes
// the wizard (with a logo), submits, starts Stripe onboarding (stripe-mock
// answers with an onboarding link, which the browser is sent to); the demo
// platform admin approves; the shop appears in the catalog.
func TestBrowserMerchantOnboarding(t *testing.T) {
	a := seeded(t, stripeEnv(t))
	base := apptest.Serve(t, a)
	ctx, dir := browser(t, 390, 844)
	// The sandbox has no Internet: requests to Stripe's onboarding pages are
	// recorded and failed instead of loaded.
	var mu sync.Mutex
	var stripeURLs []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			mu.Lock()
			stripeURLs = append(stripeURLs, e.Request.URL)
			mu.Unlock()
			go func() {
				_ = chromedp.Run(ctx, fetch.FailRequest(e.RequestID, network.ErrorReasonBlockedByClient))
			}()
		}
	})
	logo := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logo, testPNG(t, 400, 400), 0o600); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) chromedp.Action { return screenshot(filepath.Join(dir, "onboarding-"+name+".png")) }
	submit := func(sel string) chromedp.Action { return chromedp.Submit(sel, chromedp.ByQuery) }

	var status, catalog, profile, payouts string
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/signup/merchant"),
		switchToGerman(),
		chromedp.WaitVisible(`html[lang="de"]`, chromedp.ByQuery),
		chromedp.SendKeys("#f-org_name", "Kiosk Kastanie", chromedp.ByQuery),
		chromedp.SetValue("#f-category", "deli", chromedp.ByQuery),
		chromedp.SendKeys("#f-city", "Köln", chromedp.ByQuery),
		chromedp.SendKeys("#f-name", "Karla Kastanie", chromedp.ByQuery),
		chromedp.SendKeys("#f-email", "karla@kastanie.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-password", "kastanie-2026-geheim", chromedp.ByQuery),
		chromedp.SendKeys("#f-confirm", "kastanie-2026-geheim", chromedp.ByQuery),
		submit("#f-confirm"),
		chromedp.WaitVisible("#edit-profile", chromedp.ByQuery),
		chromedp.Click("#edit-profile", chromedp.ByQuery),

		// 1 business
		chromedp.WaitVisible("#f-description", chromedp.ByQuery),
		chromedp.SendKeys("#f-description", "Zeitungen, Süßes und der beste Kaffee im Veedel – seit 1987.", chromedp.ByQuery),
		shot("1-business"),
		submit("#f-description"),
		// 2 address: the postcode suggests its town (htmx datalist); the town is prefilled from sign-up
		chromedp.WaitVisible("#f-street", chromedp.ByQuery),
		chromedp.SendKeys("#f-street", "Kastanienallee 3", chromedp.ByQuery),
		chromedp.SendKeys("#f-postcode", "50674", chromedp.ByQuery),
		chromedp.WaitReady(`#city-options option[value="Köln"]`, chromedp.ByQuery),
		shot("2-address"),
		submit("#f-street"),
		// 3 contact
		chromedp.WaitVisible("#f-website", chromedp.ByQuery),
		chromedp.SendKeys("#f-website", "https://kastanie.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-opening_hours", "Mo–Sa 6–20 Uhr\nSo 8–13 Uhr", chromedp.ByQuery),
		shot("3-contact"),
		submit("#f-website"),
		// 4 logo
		chromedp.WaitVisible("#f-logo", chromedp.ByQuery),
		chromedp.SetUploadFiles("#f-logo", []string{logo}, chromedp.ByQuery),
		submit("#f-logo"),
		// 5 offer
		chromedp.WaitVisible("#f-steps", chromedp.ByQuery),
		chromedp.Click("#f-mode-steps", chromedp.ByQuery),
		chromedp.SetValue("#f-steps", "10, 25, 50", chromedp.ByQuery),
		chromedp.Click("#f-redeem-both", chromedp.ByQuery),
		chromedp.SendKeys("#f-shop_url", "https://shop.kastanie.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-instructions", "Code an der Kasse zeigen.", chromedp.ByQuery),
		shot("5-offer"),
		submit("#f-steps"),
		// review and submit
		chromedp.WaitVisible("#submit-review", chromedp.ByQuery),
		shot("6-review"),
		chromedp.Click("#submit-review", chromedp.ByQuery),
		chromedp.WaitVisible("#review-status", chromedp.ByQuery),
		chromedp.Text("#merchant-status", &status, chromedp.ByQuery),
		shot("7-submitted"),
		// Payout set-up: the owner starts Stripe onboarding and is sent to
		// Stripe's onboarding link.
		fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "https://*"}}),
		chromedp.Navigate(base+"/merchant/stripe"),
		chromedp.WaitVisible("#stripe-connect", chromedp.ByQuery),
		shot("7b-payouts"),
		chromedp.Click("#stripe-connect", chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error {
			for i := 0; i < 100; i++ {
				mu.Lock()
				n := len(stripeURLs)
				mu.Unlock()
				if n > 0 {
					return nil
				}
				time.Sleep(50 * time.Millisecond)
			}
			return errors.New("no redirect to Stripe's onboarding link")
		}),
		chromedp.Navigate(base+"/merchant/stripe"),
		chromedp.WaitVisible("#stripe-status", chromedp.ByQuery),
		chromedp.Text("#stripe-status", &payouts, chromedp.ByQuery),
		shot("7c-payouts-started"),

		// The demo platform admin approves.
		chromedp.Click(`.site-nav form button`, chromedp.ByQuery),
		chromedp.WaitVisible(`.site-nav a[href="/login"]`, chromedp.ByQuery),
		chromedp.Click(`.site-nav a[href="/login"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#f-email", chromedp.ByQuery),
		chromedp.SendKeys("#f-email", "admin@trostpflaster.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-password", "demo-admin-2026", chromedp.ByQuery),
		submit("#f-password"),
		chromedp.WaitVisible("#review-queue", chromedp.ByQuery),
		chromedp.Click("#review-queue", chromedp.ByQuery),
		chromedp.WaitVisible(`#queue`, chromedp.ByQuery),
		shot("8-admin-queue"),
		chromedp.Click(`//table[@id="queue"]//a[contains(., "Kiosk Kastanie")]`, chromedp.BySearch),
		chromedp.WaitVisible("#approve", chromedp.ByQuery),
		shot("9-admin-review"),
		chromedp.Click("#approve", chromedp.ByQuery),
		chromedp.WaitVisible(`#merchant-status.ok`, chromedp.ByQuery),

		// Listed in the catalog.
		chromedp.Navigate(base+"/partners?q=kastanie"),
		chromedp.WaitVisible("#results", chromedp.ByQuery),
		chromedp.Text("#results", &catalog, chromedp.ByQuery),
		shot("10-catalog"),
		chromedp.Click(`#results a[href="/partner/kiosk-kastanie"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#partner-where", chromedp.ByQuery),
		chromedp.Text("main", &profile, chromedp.ByQuery),
		shot("11-profile"),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if len(stripeURLs) == 0 || !strings.HasPrefix(stripeURLs[0], "https://") || !strings.Contains(stripeURLs[0], "stripe") {
		t.Errorf("onboarding link %v", stripeURLs)
	}
	if !strings.Contains(payouts, "acct_") {
		t.Errorf("payout page after starting onboarding shows %q", payouts)
	}
	if !strings.Contains(status, "Prüfung") {
		t.Errorf("status after submit %q", status)
	}
	if !strings.Contains(catalog, "Kiosk Kastanie") {
		t.Errorf("catalog shows %q", catalog)
	}
	for _, want := range []string{"10,00 €, 25,00 €, 50,00 €", "im Laden und online", "https://shop.kastanie.example", "Kastanienallee 3", "50674 Köln"} {
		if !strings.Contains(profile, want) {
			t.Errorf("profile lacks %q:\n%s", want, profile)
		}
	}
}
