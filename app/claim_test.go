package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// mustLogo gives the merchant a small PNG logo, as the upload step stores it.
func mustLogo(t *testing.T, s *models.Store, m *models.Merchant) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for x := 0; x < 16; x++ {
		for y := 0; y < 16; y++ {
			img.Set(x, y, color.NRGBA{R: uint8(200 - 8*x), G: 90, B: uint8(10 * y), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	hash := hex.EncodeToString(sum[:])
	if err := s.SetMerchantLogo(t.Context(), m.ID, models.LogoImage{ContentType: "image/png", Data: buf.Bytes(), Width: 16, Height: 16, Hash: hash}, models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	return hash
}

// nearGift sends a gift "near" a postcode or town (the three nearest partners).
func (e *voucherEnv) nearGift(t *testing.T, cents int64, near string) (*models.Gift, string) {
	t.Helper()
	g, _, err := e.a.Store.SendGift(t.Context(), e.a.Places, e.sender, models.GiftInput{RecipientEmail: "kim@example.com", AmountCents: cents, Near: near, Notify: models.NotifyNone})
	if err != nil {
		t.Fatal(err)
	}
	return g, e.a.Store.GiftClaimToken(g)
}

func checkClaimHeaders(t *testing.T, what string, res *apptest.Response) {
	t.Helper()
	if res.Header.Get("Referrer-Policy") != "same-origin" || res.Header.Get("Cache-Control") != "no-store" || !strings.Contains(res.Header.Get("X-Robots-Tag"), "noindex") {
		t.Errorf("%s: headers %v", what, res.Header)
	}
}

// The claim page's partner cards show what a customer needs to choose on a
// phone: logo (or a monogram), category, distance from the place the gift was
// sent near, opening hours and where the voucher works; only first-party
// resources, no referrer to the logo.
func TestClaimPartnerCards(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			ctx := t.Context()
			hash := mustLogo(t, e.a.Store, e.bakery)
			e.a.DB.Model(&models.Merchant{}).Where("id = ?", e.cafe.ID).Updates(map[string]any{"redeem_where": models.RedeemBoth, "shop_url": "https://shop.rheinblick.example"})

			g, token := e.nearGift(t, 25_00, "50678")
			offered := g.OfferedMerchants()
			if len(offered) != 3 {
				t.Fatalf("near gift offers %d partners", len(offered))
			}
			customer := apptest.NewClient(t, e.a.HTTP)
			page := customer.Get("/c/" + token)
			checkClaimHeaders(t, "claim page", page)
			if page.Status != 200 {
				t.Fatalf("claim page: %d", page.Status)
			}
			if strings.Contains(page.Body, `src="http`) || strings.Contains(page.Body, `href="//`) || regexp.MustCompile(`<(script|link|img)[^>]+(src|href)="https?://`).MatchString(page.Body) {
				t.Fatal("claim page loads a third-party resource")
			}
			distances := regexp.MustCompile(`class="partner-distance">([0-9]+,[0-9]) km entfernt<`).FindAllStringSubmatch(page.Body, -1)
			if len(distances) != 3 {
				t.Fatalf("want 3 distances, got %v", distances)
			}
			// The nearest partner comes first, and the distance is real (the
			// bakery is in 50678 Köln, a few km from the postcode's point).
			for _, m := range offered {
				if !strings.Contains(page.Body, `id="partner-`+m.Slug+`"`) {
					t.Fatalf("no card for %s", m.Slug)
				}
			}
			pl, _ := e.a.Places.Resolve("50678")
			want := models.DistanceKm(pl.Lat, pl.Lng, offered[0].Lat, offered[0].Lng)
			if got := strings.Replace(distances[0][1], ",", ".", 1); got != fmt.Sprintf("%.1f", want) {
				t.Fatalf("first distance %s, want %.1f", got, want)
			}
			if hasBakery := strings.Contains(page.Body, `id="partner-baeckerei-sonnenkorn"`); hasBakery {
				logo := `src="/partner/baeckerei-sonnenkorn/logo?v=` + hash + `"`
				if !strings.Contains(page.Body, logo) || !regexp.MustCompile(`<img class="partner-logo" src="/partner/baeckerei-sonnenkorn/logo[^>]+referrerpolicy="no-referrer"`).MatchString(page.Body) {
					t.Fatal("bakery card without its logo (or with a referrer)")
				}
				if !strings.Contains(page.Body, "Mo–Fr 6:30–18:30 · Sa 7:00–14:00") || !strings.Contains(page.Body, "Im Laden") {
					t.Fatal("bakery card without opening hours or where to redeem")
				}
				res := customer.Get("/partner/baeckerei-sonnenkorn/logo?v=" + hash)
				if res.Status != 200 || res.Header.Get("Content-Type") != "image/png" {
					t.Fatalf("logo: %d %s", res.Status, res.Header.Get("Content-Type"))
				}
			} else {
				t.Fatal("the bakery in 50678 is not among the three nearest partners")
			}
			if !strings.Contains(page.Body, `class="partner-logo partner-monogram" aria-hidden="true">`) {
				t.Fatal("partners without a logo get no monogram")
			}
			if !strings.Contains(page.Body, "Ein kleines Trostpflaster") {
				t.Fatal("no warm lead line")
			}

			// The same for wallets, as JSON.
			var claim struct {
				Merchants []struct {
					Slug, LogoURL, RedeemWhere, OpeningHours string
					DistanceKm                               *float64 `json:"distance_km"`
				}
			}
			res := e.call(t, "", "GET", "/api/v1/claims/"+token, "", "")
			if err := json.Unmarshal([]byte(res.Body), &claim); err != nil || len(claim.Merchants) != 3 {
				t.Fatalf("claim JSON: %v %s", err, res.Body)
			}
			for _, m := range claim.Merchants {
				if m.DistanceKm == nil || *m.DistanceKm > 20 {
					t.Fatalf("%s: distance %v", m.Slug, m.DistanceKm)
				}
			}
			if !strings.Contains(res.Body, `"logo_url":"/partner/baeckerei-sonnenkorn/logo?v=`+hash+`"`) || !strings.Contains(res.Body, `"redeem_where":"both"`) {
				t.Fatalf("claim JSON lacks logo or where: %s", res.Body)
			}

			// English, and a gift for named partners: no "near" place, so no distance.
			_, token2 := e.gift(t, 20_00, e.cafe, e.bakery)
			en := apptest.NewClient(t, e.a.HTTP)
			req, _ := http.NewRequest("GET", "/c/"+token2, nil)
			req.Header.Set("Accept-Language", "en")
			page2 := en.Do(req)
			if page2.Status != 200 || strings.Contains(page2.Body, "partner-distance") || !strings.Contains(page2.Body, "In store and online") || !strings.Contains(page2.Body, "You can choose") {
				t.Fatalf("named partners page: %d distance shown or texts missing", page2.Status)
			}

			// After the choice the voucher shows the partner's logo and the PDF link.
			if res := customer.PostForm("/c/"+token+"/claim", url.Values{"merchant_id": {fmt.Sprint(e.bakery.ID)}}); res.Status != http.StatusSeeOther {
				t.Fatalf("choose: %d", res.Status)
			}
			v := customer.Get("/c/" + token)
			if !strings.Contains(v.Body, `id="voucher-pdf"`) || !strings.Contains(v.Body, `href="/c/`+token+`/voucher.pdf"`) || !strings.Contains(v.Body, "/partner/baeckerei-sonnenkorn/logo?v=") {
				t.Fatal("voucher page without PDF link or partner logo")
			}
			if p := customer.Get("/c/" + token + "?print=1"); strings.Contains(p.Body, `id="voucher-pdf"`) {
				t.Fatal("print view shows the PDF button")
			}
			_ = ctx
		})
	}
}

func TestVoucherPagesAndTill(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	_, token := e.gift(t, 50_00, e.bakery, e.cafe)
	customer := apptest.NewClient(t, e.a.HTTP)
	page := customer.Get("/c/" + token)
	if page.Status != 200 || !strings.Contains(page.Body, "Sie haben die Wahl") || !strings.Contains(page.Body, `id="choose-baeckerei-sonnenkorn"`) {
		t.Fatalf("claim page: %d", page.Status)
	}
	if res := customer.PostForm("/c/"+token+"/claim", url.Values{"merchant_id": {"999999"}}); res.Status != 422 {
		t.Fatalf("bad choice: %d", res.Status)
	}
	if res := customer.PostForm("/c/"+token+"/claim", url.Values{"merchant_id": {fmt.Sprint(e.bakery.ID)}}); res.Status != http.StatusSeeOther {
		t.Fatalf("choose: %d %s", res.Status, res.Body)
	}
	page = customer.Get("/c/" + token)
	code := regexp.MustCompile(`id="voucher-code">([0-9A-Z-]+)<`).FindStringSubmatch(page.Body)
	if page.Status != 200 || code == nil || !strings.Contains(page.Body, "data:image/png;base64,") || !strings.Contains(page.Body, "50,00 €") || page.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("voucher page: %d", page.Status)
	}
	if p := customer.Get("/c/" + token + "?print=1"); p.Status != 200 || !strings.Contains(p.Body, "print-view") {
		t.Fatal("print view")
	}

	// The bakery's owner redeems 12,50 € at the till, typing the code sloppily.
	till := apptest.NewClient(t, e.a.HTTP)
	till.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
	if res := till.Get("/merchant/redeem"); res.Status != 200 {
		t.Fatalf("till: %d", res.Status)
	}
	// Nothing typed: the till asks for the code (422 on the field), not "unknown code".
	if res := till.PostForm("/merchant/redeem/lookup", url.Values{"code": {"  "}}); res.Status != 422 || !strings.Contains(res.Body, `aria-invalid="true"`) {
		t.Fatalf("empty lookup: %d", res.Status)
	}
	typed := strings.ToLower(strings.ReplaceAll(code[1], "-", " "))
	res := till.PostForm("/merchant/redeem/lookup", url.Values{"code": {typed}})
	if res.Status != 200 || !strings.Contains(res.Body, "50,00 €") {
		t.Fatalf("lookup: %d", res.Status)
	}
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(res.Body)
	if res := till.PostForm("/merchant/redeem", url.Values{"code": {code[1]}, "amount": {"abc"}, "key": {key[1]}}); res.Status != 422 {
		t.Fatalf("bad amount: %d", res.Status)
	}
	res = till.PostForm("/merchant/redeem", url.Values{"code": {code[1]}, "amount": {"12,50"}, "key": {key[1]}})
	if res.Status != 200 || !strings.Contains(res.Body, `id="receipt-balance">37,50 €`) {
		t.Fatalf("redeem: %d", res.Status)
	}
	// A double submit of the same form redeems once.
	till.PostForm("/merchant/redeem", url.Values{"code": {code[1]}, "amount": {"12,50"}, "key": {key[1]}})
	if p := customer.Get("/c/" + token); !strings.Contains(p.Body, `id="voucher-balance">37,50 €`) {
		t.Fatal("customer page does not show the new balance")
	}
	rid := regexp.MustCompile(`/merchant/redemptions/(rd_[a-z0-9]+)/reversal`).FindStringSubmatch(res.Body)
	if res := till.PostForm("/merchant/redemptions/"+rid[1]+"/reversal", nil); res.Status != 200 || !strings.Contains(res.Body, "50,00 €") {
		t.Fatalf("undo: %d", res.Status)
	}
	// Another shop's till does not know the code.
	other := apptest.NewClient(t, e.a.HTTP)
	other.PostForm("/signup/merchant", signupForm("merchant", map[string]string{"email": "x@shop.example"}))
	if res := other.PostForm("/merchant/redeem/lookup", url.Values{"code": {code[1]}}); res.Status != 404 {
		t.Fatalf("foreign till: %d", res.Status)
	}
	verifyLedger(t, e.a.Store)

	// Neither claim token nor voucher code is in the database files.
	e.a.Close()
	path := strings.TrimPrefix(e.a.Cfg.DatabaseURL, "sqlite:")
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		norm, _ := models.NormalizeCode(code[1])
		if bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte(code[1])) || bytes.Contains(b, []byte(norm)) {
			t.Fatalf("%s holds a claim token or voucher code in clear", f)
		}
	}
}

// After use the recipient is asked "Did this make up for it?"; the answer
// reaches the company (API and webhook), once, and never the partner.
func TestFeedbackReachesTheCompanyOnly(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	ctx := t.Context()
	chefin, _ := e.a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	hook, err := e.a.Store.AddWebhookEndpoint(ctx, e.company.ID, chefin.ID, "https://desk.example/hook", false)
	if err != nil {
		t.Fatal(err)
	}
	g, token := e.gift(t, 20_00, e.cafe)
	code := e.claim(t, token, e.cafe)
	customer := apptest.NewClient(t, e.a.HTTP)
	if res := customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"yes"}}); res.Status != 409 {
		t.Fatalf("feedback before use: %d", res.Status)
	}
	if res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "f1", redeemBody(5_00)); res.Status != 201 {
		t.Fatal(res.Body)
	}
	if page := customer.Get("/c/" + token); !strings.Contains(page.Body, `id="feedback"`) {
		t.Fatal("no feedback question after use")
	}
	if res := customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"maybe"}}); res.Status != 422 {
		t.Fatalf("bad answer: %d", res.Status)
	}
	if res := customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"partly"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("feedback: %d", res.Status)
	}
	customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"no"}})
	var after models.Gift
	e.a.DB.First(&after, g.ID)
	if after.Feedback != "partly" {
		t.Fatalf("feedback %q", after.Feedback)
	}
	companyKey, _, _ := e.a.Store.CreateAPIKey(ctx, &e.company.ID, nil, "desk", models.ActorCLI)
	if res := e.call(t, companyKey, "GET", "/api/v1/gifts/"+g.PublicID, "", ""); !strings.Contains(res.Body, `"feedback":"partly"`) {
		t.Fatalf("company API: %s", res.Body)
	}
	if res := e.call(t, e.cafeKey, "GET", "/api/v1/vouchers/"+code, "", ""); strings.Contains(res.Body, "feedback") || strings.Contains(res.Body, "partly") {
		t.Fatalf("partner sees feedback: %s", res.Body)
	}
	var n int64
	e.a.DB.Model(&models.WebhookDelivery{}).Where("endpoint_id = ? AND event_type = ? AND payload LIKE ?", hook.ID, models.HookGiftFeedback, "%partly%").Count(&n)
	if n != 1 {
		t.Fatalf("%d feedback webhooks", n)
	}
}
