package app_test

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
	g, _, err := e.a.Store.SendGift(t.Context(), e.a.Places, e.sender, models.GiftInput{RecipientEmail: "kim@example.com", AmountCents: cents, Near: near, Notify: models.NotifyNone}, nil)
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

// pdfText inflates every stream of a PDF and returns them with the
// uncompressed parts, so a test can look for the text drawn on the page.
func pdfText(t *testing.T, doc []byte) string {
	t.Helper()
	var out strings.Builder
	rest := doc
	for {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			break
		}
		out.Write(rest[:i])
		rest = rest[i+len("stream\n"):]
		j := bytes.Index(rest, []byte("endstream"))
		if j < 0 {
			t.Fatal("unterminated stream")
		}
		raw := rest[:j]
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			b, err := io.ReadAll(zr)
			if err == nil {
				out.Write(b)
			}
		} else {
			out.Write(raw)
		}
		rest = rest[j+len("endstream"):]
	}
	out.Write(rest)
	return out.String()
}

// The voucher as a PDF: a real PDF document carrying the code, partner,
// company, amount and expiry, with the claim page's headers; unknown
// tokens 404 like everywhere, unclaimed gifts go back to the choice.
func TestVoucherPDF(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			mustLogo(t, e.a.Store, e.cafe)
			e.a.DB.Model(&models.Merchant{}).Where("id = ?", e.cafe.ID).Updates(map[string]any{"redeem_where": models.RedeemBoth,
				"shop_url": "https://shop.rheinblick.example", "redeem_instructions": "Online: Feld Gutschein im Warenkorb."})
			g, token := e.gift(t, 40_00, e.cafe, e.bakery)
			c := apptest.NewClient(t, e.a.HTTP)

			unknown := c.Get("/c/unknown-token-000000000000000000000/voucher.pdf")
			if unknown.Status != 404 {
				t.Fatalf("unknown token: %d", unknown.Status)
			}
			checkClaimHeaders(t, "unknown pdf", unknown)
			if res := c.Get("/c/" + token + "/voucher.pdf"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/c/"+token {
				t.Fatalf("unclaimed: %d %s", res.Status, res.Header.Get("Location"))
			}
			code := e.claim(t, token, e.cafe)
			if res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "p1", redeemBody(15_00)); res.Status != 201 {
				t.Fatal(res.Body)
			}
			res := c.Get("/c/" + token + "/voucher.pdf")
			checkClaimHeaders(t, "pdf", res)
			if res.Status != 200 || res.Header.Get("Content-Type") != "application/pdf" ||
				res.Header.Get("Content-Disposition") != `attachment; filename="gutschein-cafe-rheinblick.pdf"` {
				t.Fatalf("pdf: %d %v", res.Status, res.Header)
			}
			doc := []byte(res.Body)
			if dir := os.Getenv("TEST_ARTIFACTS"); dir != "" && d == "sqlite" {
				_ = os.MkdirAll(dir, 0o755)
				_ = os.WriteFile(filepath.Join(dir, "voucher.pdf"), doc, 0o644)
			}
			if !bytes.HasPrefix(doc, []byte("%PDF-1.")) || !bytes.HasSuffix(bytes.TrimSpace(doc), []byte("%%EOF")) || !bytes.Contains(doc, []byte("startxref")) {
				t.Fatal("not a complete PDF document")
			}
			text := pdfText(t, doc)
			cp1252 := func(s string) string { // the core fonts' encoding
				r := strings.NewReplacer("ä", "\xe4", "é", "\xe9", "€", "\x80", "ß", "\xdf", "ü", "\xfc")
				return r.Replace(s)
			}
			for _, want := range []string{"(" + code + ")", "Beispiel-Verlag", cp1252("Café Rheinblick"), cp1252("25,00 €"), cp1252("von 40,00 €"),
				"(Im Laden)", "(Im Onlineshop)", "https://shop.rheinblick.example", "Frankenwerft 7", "Feld Gutschein im Warenkorb",
				"/Subtype /Image", "/URI (https://shop.rheinblick.example)", g.ExpiresAt.Format("02.01.2006")} {
				if !strings.Contains(text, want) {
					t.Errorf("PDF lacks %q", want)
				}
			}
			if strings.Contains(text, token) {
				t.Fatal("the PDF carries the claim token")
			}
			// The QR code encodes the code (what the till reads), never the link.
			if n := strings.Count(text, "/Subtype /Image"); n < 2 {
				t.Fatalf("%d images, want QR and logo", n)
			}
			req, _ := http.NewRequest("GET", "/c/"+token+"/voucher.pdf", nil)
			req.Header.Set("Accept-Language", "en")
			if en := c.Do(req); en.Status != 200 || !strings.Contains(pdfText(t, []byte(en.Body)), "(In store)") || !strings.Contains(en.Header.Get("Content-Disposition"), "voucher-cafe-rheinblick.pdf") {
				t.Fatalf("English PDF: %d %s", en.Status, en.Header.Get("Content-Disposition"))
			}
		})
	}
}

// Staff undo at the till only within their shift; the web shop's API key
// reverses for 90 days (cancelled online orders); outside: a clear 422 on
// the till, a 409 problem on the API, and nothing moves.
func TestUndoOnlyWithinShift(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			ctx := t.Context()
			staff, err := e.a.Store.CreateUser(ctx, models.NewUser{Email: "kasse@sonnenkorn.example", Name: "Kasse", Password: "correct horse battery"})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.a.Store.AddMember(ctx, staff.ID, nil, &e.bakery.ID, models.RoleMerchantStaff); err != nil {
				t.Fatal(err)
			}
			g, token := e.gift(t, 50_00, e.bakery)
			code := e.claim(t, token, e.bakery)

			owner := apptest.NewClient(t, e.a.HTTP)
			owner.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
			cashier := apptest.NewClient(t, e.a.HTTP)
			cashier.Login("kasse@sonnenkorn.example", "correct horse battery")

			redeemAt := func(c *apptest.Client, amount, key string) string {
				t.Helper()
				res := c.PostForm("/merchant/redeem", url.Values{"code": {code}, "amount": {amount}, "key": {key}})
				rid := regexp.MustCompile(`/merchant/redemptions/(rd_[a-z0-9]+)/reversal`).FindStringSubmatch(res.Body)
				if res.Status != 200 || rid == nil {
					t.Fatalf("redeem: %d", res.Status)
				}
				return rid[1]
			}
			balance := func() int64 {
				var after models.Gift
				e.a.DB.First(&after, g.ID)
				return after.BalanceCents
			}

			// The empty till screen offers to undo the person's own last redemption.
			r1 := redeemAt(cashier, "5,00", "k1")
			form := cashier.Get("/merchant/redeem")
			if !strings.Contains(form.Body, `id="last-redemption"`) || !strings.Contains(form.Body, "/merchant/redemptions/"+r1+"/reversal") {
				t.Fatal("the cashier's till does not offer the last redemption")
			}
			if p := owner.Get("/merchant/redeem"); strings.Contains(p.Body, r1) {
				t.Fatal("the owner's till offers the cashier's redemption")
			}
			// Someone else's redemption is not part of one's shift.
			res := owner.PostForm("/merchant/redemptions/"+r1+"/reversal", nil)
			if res.Status != 422 || !strings.Contains(res.Body, "nicht aus Ihrer aktuellen Schicht") || balance() != 45_00 {
				t.Fatalf("owner undoing the cashier's redemption: %d, balance %d", res.Status, balance())
			}
			if res := cashier.PostForm("/merchant/redemptions/"+r1+"/reversal", nil); res.Status != 200 || balance() != 50_00 {
				t.Fatalf("undo within the shift: %d, balance %d", res.Status, balance())
			}
			if res := cashier.PostForm("/merchant/redemptions/"+r1+"/reversal", nil); res.Status != 409 || !strings.Contains(res.Body, "schon erledigt") {
				t.Fatalf("second undo: %d", res.Status)
			}

			// 13 hours later the shift is over: the till refuses, nothing moves.
			r2 := redeemAt(cashier, "7,50", "k2")
			e.a.DB.Model(&models.Redemption{}).Where("public_id = ?", r2).Update("created_at", time.Now().UTC().Add(-13*time.Hour))
			if p := cashier.Get("/merchant/redeem"); strings.Contains(p.Body, `id="last-redemption"`) {
				t.Fatal("a redemption from the last shift is still offered")
			}
			res = cashier.PostForm("/merchant/redemptions/"+r2+"/reversal", nil)
			if res.Status != 422 || !strings.Contains(res.Body, "nicht aus Ihrer aktuellen Schicht") || balance() != 42_50 {
				t.Fatalf("undo after the shift: %d, balance %d", res.Status, balance())
			}
			var r models.Redemption
			e.a.DB.Where("public_id = ?", r2).First(&r)
			if r.ReversedAt != nil {
				t.Fatal("refused undo marked the redemption reversed")
			}

			// The shop's API key still reverses it (a cancelled online order) …
			if res := e.call(t, e.bakeryKey, "POST", "/api/v1/redemptions/"+r2+"/reversal", "", ""); res.Status != 200 || !strings.Contains(res.Body, `"balance_cents":5000`) {
				t.Fatalf("API reversal after the shift: %d %s", res.Status, res.Body)
			}
			// … within 90 days, not after.
			res = e.call(t, e.bakeryKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "online-1", redeemBody(10_00))
			var online struct{ ID string }
			json.Unmarshal([]byte(res.Body), &online)
			e.a.DB.Model(&models.Redemption{}).Where("public_id = ?", online.ID).Update("created_at", time.Now().UTC().Add(-89*24*time.Hour))
			res = e.call(t, e.bakeryKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "online-2", redeemBody(10_00))
			var old struct{ ID string }
			json.Unmarshal([]byte(res.Body), &old)
			e.a.DB.Model(&models.Redemption{}).Where("public_id = ?", old.ID).Update("created_at", time.Now().UTC().Add(-91*24*time.Hour))
			res = e.call(t, e.bakeryKey, "POST", "/api/v1/redemptions/"+old.ID+"/reversal", "", "")
			var p struct{ Code, Title, Detail string }
			json.Unmarshal([]byte(res.Body), &p)
			if res.Status != 409 || res.Header.Get("Content-Type") != "application/problem+json" || p.Code != "reversal_window_closed" || !strings.Contains(p.Detail, "90 days") {
				t.Fatalf("API reversal after 91 days: %d %s", res.Status, res.Body)
			}
			if balance() != 30_00 {
				t.Fatalf("balance %d after a refused reversal", balance())
			}
			if res := e.call(t, e.bakeryKey, "POST", "/api/v1/redemptions/"+online.ID+"/reversal", "", ""); res.Status != 200 || !strings.Contains(res.Body, `"balance_cents":4000`) {
				t.Fatalf("API reversal after 89 days: %d %s", res.Status, res.Body)
			}
			verifyLedger(t, e.a.Store)
		})
	}
}

// The till may use the camera (own origin only); every other page may not.
// The scanner script and the vendored decoder are served first-party; the
// typed-code form stays as it was.
func TestTillCameraHeaders(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	_, token := e.gift(t, 10_00, e.bakery)
	till := apptest.NewClient(t, e.a.HTTP)
	till.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
	page := till.Get("/merchant/redeem")
	if page.Status != 200 || page.Header.Get("Permissions-Policy") != "camera=(self), microphone=(), geolocation=()" {
		t.Fatalf("till: %d Permissions-Policy %q", page.Status, page.Header.Get("Permissions-Policy"))
	}
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("CSP %q", csp)
	}
	if !strings.Contains(page.Body, `<script src="/static/js/scan.js" defer></script>`) || !strings.Contains(page.Body, `id="scan-start" hidden`) ||
		!strings.Contains(page.Body, `id="f-code"`) || !strings.Contains(page.Body, `action="/merchant/redeem/lookup`) {
		t.Fatal("till page lacks the scanner or the typed-code form")
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(page.Body) || strings.Contains(page.Body, " style=") {
		t.Fatal("inline script or style on the till page")
	}
	for _, p := range []string{"/static/js/scan.js", "/static/vendor/jsQR.js"} {
		if res := till.Get(p); res.Status != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
			t.Fatalf("%s: %d %s", p, res.Status, res.Header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/", "/c/" + token, "/partners"} {
		if res := apptest.NewClient(t, e.a.HTTP).Get(p); res.Header.Get("Permissions-Policy") != "camera=(), microphone=(), geolocation=()" {
			t.Fatalf("%s: Permissions-Policy %q", p, res.Header.Get("Permissions-Policy"))
		}
	}
}
