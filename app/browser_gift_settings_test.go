package app_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
)

// TestBrowserGiftTemplatesAndNetwork: the admin writes a message template and
// puts a partner into the network on /company/settings; on the send form the
// network comes first and picking the template fills the message (static JS
// under the strict CSP).
func TestBrowserGiftTemplatesAndNetwork(t *testing.T) {
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	if _, err := app.SeedDemo(t.Context(), a.Store, a.Places); err != nil {
		t.Fatal(err)
	}
	bakery, err := a.Store.MerchantBySlug(t.Context(), "baeckerei-sonnenkorn")
	if err != nil {
		t.Fatal(err)
	}
	base := apptest.Serve(t, a)
	ctx, dir := browser(t, 390, 844)
	const text = "Ihr Paket kam zu spät – das tut uns leid."
	var message, firstOption, ownMessage string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys("#f-email", "chefin@beispiel-verlag.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-password", "demo-chefin-2026", chromedp.ByQuery),
		chromedp.Submit("#f-password", chromedp.ByQuery),
		chromedp.WaitVisible("#credit", chromedp.ByQuery),
		chromedp.Navigate(base+"/gifts"),
		chromedp.Click("#company-settings-link", chromedp.ByQuery),
		chromedp.WaitVisible("#templates", chromedp.ByQuery),
		chromedp.SendKeys("#f-tpl_name", "Versand", chromedp.ByQuery),
		chromedp.SendKeys("#f-tpl_text", text, chromedp.ByQuery),
		chromedp.Submit("#f-tpl_text", chromedp.ByQuery),
		chromedp.WaitVisible(".flash.success", chromedp.ByQuery),
		chromedp.SetValue("#f-partner", fmt.Sprint(bakery.ID), chromedp.ByQuery),
		chromedp.Submit("#f-partner", chromedp.ByQuery),
		chromedp.WaitVisible(fmt.Sprintf("#preferred-%d", bakery.ID), chromedp.ByQuery),
		screenshot(filepath.Join(dir, "gift-settings.png")),
		chromedp.Navigate(base+"/gifts/new"),
		chromedp.WaitVisible("#f-template_id", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#f-merchant_id option[value]:not([value=""])').textContent`, &firstOption),
		chromedp.SendKeys("#f-template_id", "Versand", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#f-template_id').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.Value("#f-message", &message, chromedp.ByQuery),
		screenshot(filepath.Join(dir, "gift-settings-form.png")),
		// An own text is not overwritten by another pick.
		chromedp.SetValue("#f-message", "Eigene Worte", chromedp.ByQuery),
		chromedp.SetValue("#f-template_id", "", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#f-template_id').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.Value("#f-message", &ownMessage, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if message != text {
		t.Fatalf("template did not fill the message: %q", message)
	}
	if !strings.Contains(firstOption, "★") || !strings.Contains(firstOption, bakery.Name) {
		t.Fatalf("first partner option %q", firstOption)
	}
	if ownMessage != "Eigene Worte" {
		t.Fatalf("own message overwritten: %q", ownMessage)
	}
}
