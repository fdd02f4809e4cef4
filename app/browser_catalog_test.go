package app_test

import (
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
