package app_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/handlers"
	"trostpflaster/models"
)

var (
	csrfMetaRe  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)
	csrfFieldRe = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)
)

// pageCSRF returns the page's CSRF token and checks that every form on it
// carries the same one.
func pageCSRF(t *testing.T, body string) string {
	t.Helper()
	m := csrfMetaRe.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		t.Fatal("page without a CSRF token")
	}
	for _, f := range csrfFieldRe.FindAllStringSubmatch(body, -1) {
		if f[1] != m[1] {
			t.Fatalf("form token %q differs from the page's %q", f[1], m[1])
		}
	}
	return m[1]
}

// withoutCSRF is the page with its CSRF token replaced, so two visitors'
// pages compare.
func withoutCSRF(t *testing.T, body string) string {
	t.Helper()
	return strings.ReplaceAll(body, pageCSRF(t, body), "TOKEN")
}

func claimStats(a *app.App) handlers.ClaimPageCacheStats { return a.ClaimPageCacheStats() }

// sameClaimResponse fails unless res is ref apart from the visitor's CSRF
// token: status, body and every header (the CSRF cookie compared by its
// attributes, Date not at all).
func sameClaimResponse(t *testing.T, what string, res, ref *apptest.Response) {
	t.Helper()
	if res.Status != ref.Status {
		t.Fatalf("%s: status %d, uncached %d", what, res.Status, ref.Status)
	}
	if withoutCSRF(t, res.Body) != withoutCSRF(t, ref.Body) {
		t.Fatalf("%s: body differs from the uncached page\n%s\n----\n%s", what, res.Body, ref.Body)
	}
	keys := func(h http.Header) string {
		var out []string
		for k := range h {
			if k != "Date" {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	if got, want := keys(res.Header), keys(ref.Header); got != want {
		t.Fatalf("%s: headers %s, uncached %s", what, got, want)
	}
	for k, v := range ref.Header {
		if k == "Date" || k == "Set-Cookie" {
			continue
		}
		if strings.Join(res.Header[k], "|") != strings.Join(v, "|") {
			t.Fatalf("%s: header %s = %q, uncached %q", what, k, res.Header[k], v)
		}
	}
	got, want := res.Cookie["tp_csrf"], ref.Cookie["tp_csrf"]
	if got == nil || want == nil || got.Value != pageCSRF(t, res.Body) || got.HttpOnly != want.HttpOnly || got.SameSite != want.SameSite || got.Path != want.Path || got.Secure != want.Secure {
		t.Fatalf("%s: CSRF cookie %+v, uncached %+v", what, got, want)
	}
	if len(res.Cookie) != len(ref.Cookie) {
		t.Fatalf("%s: cookies %v, uncached %v", what, res.Cookie, ref.Cookie)
	}
}

// twinApps are two instances on one database: a with the claim page cache,
// plain without it (the reference for "as rendered without the cache").
func twinApps(t *testing.T, dialect string, extra apptest.Env) (a, plain *app.App) {
	t.Helper()
	env := apptest.BaseEnv(t, dialect)
	maps.Copy(env, extra)
	a = apptest.NewApp(t, env)
	if _, err := app.SeedDemo(t.Context(), a.Store, a.Places); err != nil {
		t.Fatalf("seed: %v", err)
	}
	off := maps.Clone(env)
	off["CLAIM_PAGE_CACHE_BYTES"] = "0"
	return a, apptest.NewApp(t, off)
}

// The claimed voucher's page is rendered once and then served from the
// cache: byte for byte what the uncached instance sends, with the same
// headers, apart from each visitor's own CSRF token.
func TestClaimPageCacheServesTheUncachedPage(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a, plain := twinApps(t, d, nil)
			e := setupVoucherEnv(t, a)
			_, token := e.gift(t, 25_00, e.cafe, e.bakery)
			if res := apptest.NewClient(t, a.HTTP).Get("/c/" + token); res.Status != 200 || claimStats(a).Entries != 0 {
				t.Fatalf("partner choice: %d, cache %+v", res.Status, claimStats(a))
			}
			code := e.claim(t, token, e.cafe)

			first := apptest.NewClient(t, a.HTTP).Get("/c/" + token)
			if st := claimStats(a); st.Misses != 1 || st.Hits != 0 || st.Entries != 1 || st.Bytes <= len(first.Body)/2 {
				t.Fatalf("first view: %+v", st)
			}
			second := apptest.NewClient(t, a.HTTP).Get("/c/" + token)
			if st := claimStats(a); st.Hits != 1 || st.Misses != 1 {
				t.Fatalf("second view not from the cache: %+v", st)
			}
			ref := apptest.NewClient(t, plain.HTTP).Get("/c/" + token)
			if ref.Status != 200 || !strings.Contains(ref.Body, code) || !strings.Contains(ref.Body, "data:image/png;base64,") {
				t.Fatalf("uncached page: %d", ref.Status)
			}
			sameClaimResponse(t, "first view", first, ref)
			sameClaimResponse(t, "cached view", second, ref)
			checkClaimHeaders(t, "cached view", second)
			if a, b, c := pageCSRF(t, first.Body), pageCSRF(t, second.Body), pageCSRF(t, ref.Body); a == b || b == c || a == c {
				t.Fatal("two visitors got the same CSRF token")
			}
			// HEAD answers like GET, without a body.
			head := apptest.NewClient(t, a.HTTP).Do(httptest.NewRequest(http.MethodHead, "/c/"+token, nil))
			if head.Status != 200 || head.Body != "" || head.Header.Get("Content-Type") != ref.Header.Get("Content-Type") {
				t.Fatalf("HEAD: %d %q", head.Status, head.Header.Get("Content-Type"))
			}
			// Unknown links are still 404 (and counted as failed look-ups).
			if res := apptest.NewClient(t, a.HTTP).Get("/c/" + strings.Repeat("x", 32)); res.Status != 404 {
				t.Fatalf("unknown link: %d", res.Status)
			}
		})
	}
}

// Every change of what the page shows reaches the next view: redemption,
// reversal, feedback, the partner's profile, logo and status, the company's
// name, the expiry job.
func TestClaimPageCacheFollowsChanges(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a, plain := twinApps(t, d, nil)
			e := setupVoucherEnv(t, a)
			ctx := t.Context()
			g, token := e.gift(t, 50_00, e.bakery)
			code := e.claim(t, token, e.bakery)
			customer := apptest.NewClient(t, a.HTTP)
			// view shows the page twice (the second from the cache) and
			// checks it against the uncached instance.
			view := func(what string) string {
				t.Helper()
				before := claimStats(a)
				one := customer.Get("/c/" + token)
				two := customer.Get("/c/" + token)
				after := claimStats(a)
				if after.Hits != before.Hits+1 {
					t.Fatalf("%s: second view not from the cache (%+v → %+v)", what, before, after)
				}
				ref := apptest.NewClient(t, plain.HTTP).Get("/c/" + token)
				sameClaimResponse(t, what, one, ref)
				sameClaimResponse(t, what+" (cached)", two, ref)
				return two.Body
			}
			balance := func(body string) string {
				m := regexp.MustCompile(`id="voucher-balance">([^<]+)<`).FindStringSubmatch(body)
				if m == nil {
					t.Fatal("no balance on the page")
				}
				return m[1]
			}
			if b := balance(view("claimed")); b != "50,00 €" {
				t.Fatalf("balance %q", b)
			}

			res := e.call(t, e.bakeryKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "r1", redeemBody(12_50))
			if res.Status != 201 {
				t.Fatalf("redeem: %d %s", res.Status, res.Body)
			}
			body := view("redeemed")
			if balance(body) != "37,50 €" || !strings.Contains(body, `id="feedback"`) {
				t.Fatalf("after redemption: balance %q, feedback form %v", balance(body), strings.Contains(body, `id="feedback"`))
			}
			rid := regexp.MustCompile(`"id":"(rd_[a-z0-9]+)"`).FindStringSubmatch(res.Body)
			if res := e.call(t, e.bakeryKey, "POST", "/api/v1/redemptions/"+rid[1]+"/reversal", "", ""); res.Status != 200 {
				t.Fatalf("reverse: %d %s", res.Status, res.Body)
			}
			body = view("reversed")
			if balance(body) != "50,00 €" || strings.Contains(body, `id="feedback"`) {
				t.Fatalf("after reversal: balance %q", balance(body))
			}

			if res := e.call(t, e.bakeryKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "r2", redeemBody(10_00)); res.Status != 201 {
				t.Fatalf("redeem: %d %s", res.Status, res.Body)
			}
			if body := view("redeemed again"); balance(body) != "40,00 €" || !strings.Contains(body, `name="feedback"`) {
				t.Fatal("second redemption not shown")
			}
			if res := customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"yes"}}); res.Status != http.StatusSeeOther {
				t.Fatalf("feedback: %d", res.Status)
			}
			if body := view("feedback"); strings.Contains(body, `name="feedback"`) || !strings.Contains(body, "Danke für Ihre Rückmeldung") {
				t.Fatal("feedback not shown")
			}

			owner := apptest.NewClient(t, a.HTTP)
			owner.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
			if res := owner.PostForm("/merchant/profile/business", url.Values{"name": {"Bäckerei Sonnenschein"}, "category": {"bakery"},
				"description": {"Sauerteigbrot und Kaffee."}}); res.Status != http.StatusSeeOther {
				t.Fatalf("rename: %d", res.Status)
			}
			if body := view("renamed"); !strings.Contains(body, "Bäckerei Sonnenschein") {
				t.Fatal("new partner name not shown")
			}
			if res := owner.PostForm("/merchant/profile/contact", url.Values{"website": {"https://sonnenkorn.example"}, "contact_email": {"inhaber@sonnenkorn.example"},
				"opening_hours": {"Mo–Sa 7:00–13:00"}}); res.Status != http.StatusSeeOther {
				t.Fatalf("hours: %d", res.Status)
			}
			if body := view("new hours"); !strings.Contains(body, "Mo–Sa 7:00–13:00") {
				t.Fatal("new opening hours not shown")
			}
			hash := mustLogo(t, a.Store, e.bakery)
			logo := "/partner/baeckerei-sonnenkorn/logo?v=" + hash
			if body := view("logo"); !strings.Contains(body, logo) {
				t.Fatal("new logo not shown")
			}
			admin, _ := a.Store.UserByEmail(ctx, "admin@trostpflaster.example")
			if err := a.Store.SuspendMerchant(ctx, e.bakery.ID, admin.ID, "Prüfung läuft"); err != nil {
				t.Fatal(err)
			}
			if body := view("suspended"); strings.Contains(body, logo) {
				t.Fatal("a suspended partner's logo is still shown")
			}
			if err := a.Store.ReactivateMerchant(ctx, e.bakery.ID, admin.ID); err != nil {
				t.Fatal(err)
			}
			if body := view("reactivated"); !strings.Contains(body, logo) {
				t.Fatal("logo not back after reactivation")
			}
			if err := a.DB.Model(&models.Company{}).Where("id = ?", e.company.ID).Update("name", "Beispiel-Verlag Neu").Error; err != nil {
				t.Fatal(err)
			}
			if body := view("company renamed"); !strings.Contains(body, "Beispiel-Verlag Neu") {
				t.Fatal("new company name not shown")
			}

			// Past its date the voucher still shows as valid until the
			// expiry job has run; then it shows as expired.
			if err := a.DB.Model(&models.Gift{}).Where("id = ?", g.ID).Update("expires_at", time.Now().Add(-time.Hour)).Error; err != nil {
				t.Fatal(err)
			}
			if body := view("past its date"); strings.Contains(body, "Leider abgelaufen") {
				t.Fatal("expired before the job ran")
			}
			if r, err := a.Store.RunLifecycle(ctx, 90); err != nil || r.Expired < 1 {
				t.Fatalf("lifecycle: %+v %v", r, err)
			}
			if body := view("expired"); !strings.Contains(body, "Leider abgelaufen") || balance(body) != "0,00 €" {
				t.Fatalf("expiry not shown: balance %q", balance(body))
			}
			verifyLedger(t, a.Store)
		})
	}
}

// Two visitors of one cached page each get their own CSRF token, and each
// token works for its own visitor only.
func TestClaimPageCacheKeepsCSRFTokensApart(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			_, token := e.gift(t, 30_00, e.cafe)
			code := e.claim(t, token, e.cafe)
			if res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "r1", redeemBody(5_00)); res.Status != 201 {
				t.Fatal(res.Body)
			}
			alice, bob := apptest.NewClient(t, e.a.HTTP), apptest.NewClient(t, e.a.HTTP)
			pa := alice.Get("/c/" + token)
			pb := bob.Get("/c/" + token)
			if st := claimStats(e.a); st.Hits != 1 || !strings.Contains(pb.Body, `name="feedback"`) {
				t.Fatalf("bob's page not from the cache: %+v", st)
			}
			ta, tb := pageCSRF(t, pa.Body), pageCSRF(t, pb.Body)
			if ta == tb || alice.Jar["tp_csrf"].Value != ta || bob.Jar["tp_csrf"].Value != tb {
				t.Fatalf("tokens: alice %q (cookie %q), bob %q (cookie %q)", ta, alice.Jar["tp_csrf"].Value, tb, bob.Jar["tp_csrf"].Value)
			}
			// A returning visitor keeps the token of the cookie.
			if again := alice.Get("/c/" + token); pageCSRF(t, again.Body) != ta {
				t.Fatal("alice's token changed on the cached page")
			}
			if res := bob.PostRaw("/c/"+token+"/feedback", url.Values{"_csrf": {ta}, "feedback": {"no"}}); res.Status != http.StatusForbidden {
				t.Fatalf("bob with alice's token: %d", res.Status)
			}
			if res := alice.PostRaw("/c/"+token+"/feedback", url.Values{"_csrf": {tb}, "feedback": {"no"}}); res.Status != http.StatusForbidden {
				t.Fatalf("alice with bob's token: %d", res.Status)
			}
			if res := bob.PostRaw("/c/"+token+"/feedback", url.Values{"_csrf": {tb}, "feedback": {"yes"}}); res.Status != http.StatusSeeOther {
				t.Fatalf("bob with his token: %d", res.Status)
			}
			if res := alice.PostRaw("/c/"+token+"/feedback", url.Values{"_csrf": {ta}, "feedback": {"partly"}}); res.Status == http.StatusForbidden {
				t.Fatalf("alice with her token: %d", res.Status)
			}
		})
	}
}

// The print view and each language are pages of their own; a logged-in
// visitor, a flash message or another query bypass the cache.
func TestClaimPageCacheVariants(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a, plain := twinApps(t, d, nil)
			e := setupVoucherEnv(t, a)
			_, token := e.gift(t, 40_00, e.cafe)
			e.claim(t, token, e.cafe)
			english := func(c *apptest.Client) *apptest.Client { c.Head["Accept-Language"] = "en"; return c }
			variants := []struct {
				name, path string
				client     func(*app.App) *apptest.Client
				want       string
			}{
				{"de", "/c/" + token, func(x *app.App) *apptest.Client { return apptest.NewClient(t, x.HTTP) }, `<html lang="de">`},
				{"print", "/c/" + token + "?print=1", func(x *app.App) *apptest.Client { return apptest.NewClient(t, x.HTTP) }, "print-view"},
				{"en", "/c/" + token, func(x *app.App) *apptest.Client { return english(apptest.NewClient(t, x.HTTP)) }, `<html lang="en">`},
				{"en print", "/c/" + token + "?print=1", func(x *app.App) *apptest.Client { return english(apptest.NewClient(t, x.HTTP)) }, "print-view"},
			}
			bodies := map[string]bool{}
			for i, v := range variants {
				first := v.client(a).Get(v.path)
				second := v.client(a).Get(v.path)
				st := claimStats(a)
				if st.Entries != i+1 || st.Misses != int64(i+1) || st.Hits != int64(i+1) {
					t.Fatalf("%s: %+v", v.name, st)
				}
				ref := v.client(plain).Get(v.path)
				sameClaimResponse(t, v.name, first, ref)
				sameClaimResponse(t, v.name+" (cached)", second, ref)
				if !strings.Contains(second.Body, v.want) || strings.Contains(second.Body, "print-view") != strings.Contains(v.name, "print") {
					t.Fatalf("%s: wrong page", v.name)
				}
				bodies[withoutCSRF(t, second.Body)] = true
			}
			if len(bodies) != len(variants) {
				t.Fatal("variants share a page")
			}
			// The language cookie picks the page like Accept-Language.
			byCookie := apptest.NewClient(t, a.HTTP)
			byCookie.Jar["tp_lang"] = &http.Cookie{Name: "tp_lang", Value: "en"}
			before := claimStats(a)
			if res := byCookie.Get("/c/" + token); !strings.Contains(res.Body, `<html lang="en">`) || claimStats(a).Hits != before.Hits+1 {
				t.Fatalf("tp_lang=en: %+v", claimStats(a))
			}

			bypass := func(what string, c *apptest.Client, path string) *apptest.Response {
				t.Helper()
				before := claimStats(a)
				res := c.Get(path)
				if after := claimStats(a); after.Hits != before.Hits || after.Misses != before.Misses || res.Status != 200 {
					t.Fatalf("%s: status %d, cache %+v → %+v", what, res.Status, before, after)
				}
				return res
			}
			user := apptest.NewClient(t, a.HTTP)
			user.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
			if res := bypass("logged in", user, "/c/"+token); !strings.Contains(res.Body, `action="/logout"`) {
				t.Fatal("logged-in visitor does not see the menu")
			}
			flash := apptest.NewClient(t, a.HTTP)
			flash.Jar["tp_flash"] = &http.Cookie{Name: "tp_flash", Value: "success:profile_saved"}
			if res := bypass("flash", flash, "/c/"+token); res.Cookie["tp_flash"] == nil {
				t.Fatal("flash cookie not cleared")
			}
			other := bypass("other query", apptest.NewClient(t, a.HTTP), "/c/"+token+"?print=1&utm=x")
			if !strings.Contains(other.Body, "print-view") || !strings.Contains(other.Body, "utm=x") {
				t.Fatal("page with another query")
			}
			bypass("print=0", apptest.NewClient(t, a.HTTP), "/c/"+token+"?print=0")
		})
	}
}

// The cache stays within its byte bound, evicting the least recently used
// pages; an evicted page is rendered again.
func TestClaimPageCacheIsBounded(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			const bound = 32 << 10 // a page is about 4 KB
			a, plain := twinApps(t, d, apptest.Env{"CLAIM_PAGE_CACHE_BYTES": fmt.Sprint(bound)})
			e := setupVoucherEnv(t, a)
			var tokens []string
			for i := 0; i < 16; i++ {
				_, token := e.gift(t, int64(10_00+i*100), e.cafe)
				e.claim(t, token, e.cafe)
				tokens = append(tokens, token)
			}
			for i, token := range tokens {
				if res := apptest.NewClient(t, a.HTTP).Get("/c/" + token); res.Status != 200 {
					t.Fatalf("page %d: %d", i, res.Status)
				}
				if st := claimStats(a); st.Bytes > bound || st.Max != bound {
					t.Fatalf("after page %d: %+v", i, st)
				}
			}
			st := claimStats(a)
			if st.Evictions == 0 || st.Entries >= len(tokens) || st.Entries < 2 {
				t.Fatalf("no eviction: %+v", st)
			}
			// The least recently used page went first: viewing it is a miss,
			// and it is right.
			res := apptest.NewClient(t, a.HTTP).Get("/c/" + tokens[0])
			if after := claimStats(a); after.Misses != st.Misses+1 || after.Bytes > bound {
				t.Fatalf("evicted page: %+v → %+v", st, after)
			}
			sameClaimResponse(t, "evicted page", res, apptest.NewClient(t, plain.HTTP).Get("/c/"+tokens[0]))
			// The most recent one is still there.
			apptest.NewClient(t, a.HTTP).Get("/c/" + tokens[len(tokens)-1])
			if after := claimStats(a); after.Hits != st.Hits+1 {
				t.Fatalf("recent page evicted: %+v", after)
			}
		})
	}
}
