package app_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"trostpflaster/app/apptest"
)

func TestBrowserCatalogLiveSearch(t *testing.T) {
	a := apptest.NewSeededApp(t, "sqlite")
	base := apptest.Serve(t, a)
	ctx, _ := browser(t, 1280, 900)
	var results, loc, errText string
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/partners"),
		chromedp.WaitVisible("#results", chromedp.ByQuery),
		// Typing filters without a page load (htmx), and the URL follows.
		chromedp.SendKeys("#f-q", "blumen", chromedp.ByQuery),
		chromedp.WaitNotPresent(`#results a[href="/partner/radhaus-flingern"]`, chromedp.ByQuery),
		chromedp.Text("#catalog-results", &results, chromedp.ByQuery),
		chromedp.Evaluate(`location.search`, &loc),
		// An unknown place shows its message in place.
		chromedp.Navigate(base+"/partners"),
		chromedp.WaitVisible("#results", chromedp.ByQuery),
		chromedp.SendKeys("#f-near", "Atlantis\n", chromedp.ByQuery),
		chromedp.WaitVisible("#catalog-results .flash.error", chromedp.ByQuery),
		chromedp.Text("#catalog-results .flash.error", &errText, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(results, "Blumen Wildwuchs") || !strings.Contains(results, "Blumenhaus Rosenrot") || strings.Contains(results, "Radhaus") {
		t.Errorf("live search shows %q", results)
	}
	if !strings.Contains(loc, "q=blumen") {
		t.Errorf("URL not updated: %q", loc)
	}
	if errText == "" {
		t.Error("no error for unknown place")
	}
}

func TestBrowserCatalogAndLogin(t *testing.T) {
	a := apptest.NewSeededApp(t, "sqlite")
	base := apptest.Serve(t, a)
	ctx, dir := browser(t, 390, 844) // a phone

	var heading, results, dashboard string
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/"),
		// Headless Chromium asks for English; the switch makes it German.
		switchToGerman(),
		chromedp.WaitVisible(`html[lang="de"]`, chromedp.ByQuery),
		chromedp.Text("h1", &heading, chromedp.ByQuery),
		screenshot(filepath.Join(dir, "home.png")),
		chromedp.Click(`a.button[href="/partners"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#results", chromedp.ByQuery),
		// Choosing a city submits the filter form by itself (static/js/app.js).
		chromedp.SetValue("#f-city", "Bonn", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#f-city').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.WaitVisible(`#results[data-city="Bonn"]`, chromedp.ByQuery),
		chromedp.Text("#results", &results, chromedp.ByQuery),
		screenshot(filepath.Join(dir, "catalog-bonn.png")),
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys("#f-email", "chefin@beispiel-verlag.example", chromedp.ByQuery),
		chromedp.SendKeys("#f-password", "demo-chefin-2026", chromedp.ByQuery),
		chromedp.Submit("#f-password", chromedp.ByQuery),
		chromedp.WaitVisible("#credit", chromedp.ByQuery),
		chromedp.Text("main", &dashboard, chromedp.ByQuery),
		screenshot(filepath.Join(dir, "dashboard.png")),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if !strings.Contains(heading, "Ein Trostpflaster vom Laden nebenan") {
		t.Errorf("home heading %q", heading)
	}
	if !strings.Contains(results, "Café Poppelsdorf") || strings.Contains(results, "Radhaus Flingern") {
		t.Errorf("Bonn filter shows %q", results)
	}
	if !strings.Contains(dashboard, "Beispiel-Verlag") || !strings.Contains(dashboard, "500,00 €") {
		t.Errorf("dashboard shows %q", dashboard)
	}
}
