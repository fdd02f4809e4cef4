package app_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

const testPassword = "correct horse battery"

// merchantOwner creates a draft merchant through the sign-up rules and a client
// logged in as its owner.
func merchantOwner(t *testing.T, a *app.App, name string) (*apptest.Client, *models.User, *models.Merchant) {
	t.Helper()
	u, m := apptest.MustMerchant(t, a.Store, name, "Köln")
	c := apptest.NewClient(t, a.HTTP)
	c.Login(u.Email, testPassword)
	return c, u, m
}

// postMultipart sends a multipart form with one file (and the CSRF token).
func postMultipart(t *testing.T, c *apptest.Client, path, field, filename string, data []byte) *apptest.Response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("_csrf", c.CSRF()); err != nil {
		t.Fatal(err)
	}
	if field != "" {
		fw, err := w.CreateFormFile(field, filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	req := httptest.NewRequest(http.MethodPost, path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.Do(req)
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// goodSteps are valid inputs of every text step.
var goodSteps = []struct {
	step string
	form url.Values
}{
	{"business", url.Values{"name": {"Buchladen Seitenweise"}, "category": {"bookshop"},
		"description": {"Ein kleiner Buchladen mit großer Kinderecke und Kaffee."}}},
	{"address", url.Values{"street": {"Zülpicher Straße 12"}, "postcode": {"50674"}, "city": {""}}},
	{"contact", url.Values{"website": {"https://seitenweise.example"}, "contact_email": {"hallo@seitenweise.example"},
		"opening_hours": {"Mo–Fr 9–19 Uhr\nSa 10–16 Uhr"}}},
	{"offer", url.Values{"mode": {"steps"}, "steps": {"10, 25, 50"}, "redeem": {"both"},
		"shop_url": {"https://shop.seitenweise.example"}, "instructions": {"Code an der Kasse zeigen oder im Warenkorb eingeben."}}},
}

// copyForm copies a form (PostForm adds the client's CSRF token to it).
func copyForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func completeProfile(t *testing.T, c *apptest.Client, q string) {
	t.Helper()
	for _, s := range goodSteps {
		res := c.PostForm("/merchant/profile/"+s.step+q, copyForm(s.form))
		if res.Status != http.StatusSeeOther {
			t.Fatalf("step %s: %d\n%s", s.step, res.Status, res.Body)
		}
	}
}

func reloadMerchant(t *testing.T, a *app.App, id uint) *models.Merchant {
	t.Helper()
	m, err := a.Store.MerchantByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func adminClient(t *testing.T, a *app.App) *apptest.Client {
	t.Helper()
	if _, err := a.Store.CreateUser(t.Context(), models.NewUser{Email: "admin@platform.example", Name: "Admin", Password: testPassword, PlatformAdmin: true}); err != nil {
		t.Fatal(err)
	}
	c := apptest.NewClient(t, a.HTTP)
	c.Login("admin@platform.example", testPassword)
	return c
}

func TestOnboardingWizardToCatalog(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	c, owner, m := merchantOwner(t, a, "Buchladen Seitenweise")
	q := "?m=" + m.Slug

	// The dashboard leads to the wizard; each step redirects to the next.
	if res := c.Get("/dashboard"); !strings.Contains(res.Body, `id="edit-profile"`) {
		t.Fatalf("dashboard has no profile link:\n%s", res.Body)
	}
	next := map[string]string{"business": "address", "address": "contact", "contact": "logo", "offer": "review"}
	for _, s := range goodSteps {
		if res := c.Get("/merchant/profile/" + s.step + q); res.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", s.step, res.Status)
		}
		res := c.PostForm("/merchant/profile/"+s.step+q, copyForm(s.form))
		if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/merchant/profile/"+next[s.step]) {
			t.Fatalf("step %s: %d %s\n%s", s.step, res.Status, res.Header.Get("Location"), res.Body)
		}
	}
	// The postcode suggests its town (htmx datalist).
	if res := c.Get("/merchant/places?postcode=5067"); !strings.Contains(res.Body, `<option value="Köln">`) {
		t.Errorf("suggestions: %s", res.Body)
	}
	// A big PNG, named .jpg: the content decides, and it is stored scaled.
	res := postMultipart(t, c, "/merchant/profile/logo"+q, "logo", "logo.jpg", testPNG(t, 600, 300))
	if res.Status != http.StatusSeeOther {
		t.Fatalf("logo: %d\n%s", res.Status, res.Body)
	}
	got := reloadMerchant(t, a, m.ID)
	if got.City != "Köln" || got.Lat == 0 || got.Postcode != "50674" {
		t.Errorf("address: city %q lat %v", got.City, got.Lat)
	}
	if got.OfferStepList != "1000,2500,5000" || !got.AcceptsAmount(2500) || got.AcceptsAmount(3000) {
		t.Errorf("offer: %q", got.OfferStepList)
	}
	logo, err := a.Store.MerchantLogoByID(t.Context(), m.ID)
	if err != nil || logo.Width != 256 || logo.Height != 128 {
		t.Fatalf("logo %v: %dx%d", err, logo.Width, logo.Height)
	}
	if got.Status != models.MerchantDraft {
		t.Fatalf("status %s", got.Status)
	}
	// Not public yet: no profile, no logo, not in the catalog.
	anon := apptest.NewClient(t, a.HTTP)
	if res := anon.Get("/partner/" + m.Slug); res.Status != http.StatusNotFound {
		t.Errorf("draft profile public: %d", res.Status)
	}
	if res := anon.Get("/partner/" + m.Slug + "/logo"); res.Status != http.StatusNotFound {
		t.Errorf("draft logo public: %d", res.Status)
	}

	res = c.PostForm("/merchant/profile/submit"+q, nil)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("submit: %d\n%s", res.Status, res.Body)
	}
	if got := reloadMerchant(t, a, m.ID); got.Status != models.MerchantPending || got.SubmittedAt == nil {
		t.Fatalf("after submit: %s", got.Status)
	}

	admin := adminClient(t, a)
	if res := admin.Get("/dashboard"); !strings.Contains(res.Body, fmt.Sprintf(`href="/admin/merchants/%d"`, m.ID)) {
		t.Errorf("dashboard waiting list does not link to the review page")
	}
	if res := admin.Get("/admin/merchants"); !strings.Contains(res.Body, "Buchladen Seitenweise") {
		t.Errorf("queue: %s", res.Body)
	}
	res = admin.PostForm(fmt.Sprintf("/admin/merchants/%d/approve", m.ID), nil)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", res.Status, res.Body)
	}
	var mails []models.Mail
	a.DB.Where("to_addr = ?", owner.Email).Find(&mails)
	if len(mails) != 1 || !strings.Contains(mails[0].Text, "/partner/"+m.Slug) {
		t.Errorf("approval mail: %+v", mails)
	}
	var n int64
	a.DB.Model(&models.AuditLog{}).Where("action = ? AND subject_id = ?", "merchant.approved", m.ID).Count(&n)
	if n != 1 {
		t.Errorf("audit entries: %d", n)
	}

	res = anon.Get("/partners?q=seitenweise")
	if !strings.Contains(res.Body, "/partner/"+m.Slug) {
		t.Fatalf("not in catalog:\n%s", res.Body)
	}
	res = anon.Get("/partner/" + m.Slug)
	for _, want := range []string{"10,00 €, 25,00 €, 50,00 €", "im Laden und online", `href="https://shop.seitenweise.example"`,
		"Code an der Kasse zeigen", "/partner/" + m.Slug + "/logo?v=" + logo.Hash} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("profile lacks %q", want)
		}
	}
	res = anon.Get("/partner/" + m.Slug + "/logo?v=" + logo.Hash)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "image/png" ||
		!strings.Contains(res.Header.Get("Cache-Control"), "immutable") || res.Header.Get("ETag") == "" {
		t.Errorf("logo: %d %v", res.Status, res.Header)
	}
	if cfg, err := png.DecodeConfig(strings.NewReader(res.Body)); err != nil || cfg.Width != 256 {
		t.Errorf("served logo: %v %d", err, cfg.Width)
	}
	req := httptest.NewRequest(http.MethodGet, "/partner/"+m.Slug+"/logo", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	if res := anon.Do(req); res.Status != http.StatusNotModified {
		t.Errorf("conditional logo: %d", res.Status)
	}
}

// TestOnboardingBadInput sends bad input to every step: each gets 422 with
// a field message, and nothing of the step is stored.
func TestOnboardingBadInput(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	c, _, m := merchantOwner(t, a, "Feinkost Fehlerfrei")
	q := "?m=" + m.Slug
	completeProfile(t, c, q)
	before := reloadMerchant(t, a, m.ID)

	with := func(step string, kv ...string) url.Values {
		var base url.Values
		for _, s := range goodSteps {
			if s.step == step {
				base = copyForm(s.form)
			}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			base.Set(kv[i], kv[i+1])
		}
		return base
	}
	long := strings.Repeat("x", 2001)
	cases := []struct {
		name, step, field string
		form              url.Values
	}{
		{"empty name", "business", "name", with("business", "name", "")},
		{"overlong name", "business", "name", with("business", "name", strings.Repeat("N", 121))},
		{"unknown category", "business", "category", with("business", "category", "spaceship")},
		{"short description", "business", "description", with("business", "description", "Kurz")},
		{"overlong description", "business", "description", with("business", "description", long)},
		{"script name too long", "business", "name", with("business", "name", "<script>"+strings.Repeat("a", 120)+"</script>")},
		{"postcode letters", "address", "postcode", with("address", "postcode", "abcde")},
		{"unknown postcode", "address", "postcode", with("address", "postcode", "00000")},
		{"missing street", "address", "street", with("address", "street", "")},
		{"overlong city", "address", "city", with("address", "city", strings.Repeat("K", 81))},
		{"http website", "contact", "website", with("contact", "website", "http://seitenweise.example")},
		{"javascript website", "contact", "website", with("contact", "website", "javascript:alert(1)")},
		{"website without host dot", "contact", "website", with("contact", "website", "https://localhost")},
		{"bad email", "contact", "contact_email", with("contact", "contact_email", "nicht-mail")},
		{"too many hour lines", "contact", "opening_hours", with("contact", "opening_hours", strings.Repeat("Mo 9-18\n", 11))},
		{"hour line too long", "contact", "opening_hours", with("contact", "opening_hours", strings.Repeat("M", 81))},
		{"unknown mode", "offer", "mode", with("offer", "mode", "teleport")},
		{"steps not numbers", "offer", "steps", with("offer", "steps", "zehn, zwanzig")},
		{"step too large", "offer", "steps", with("offer", "steps", "10, 25, 2000")},
		{"step zero", "offer", "steps", with("offer", "steps", "0")},
		{"negative step", "offer", "steps", with("offer", "steps", "-10")},
		{"too many steps", "offer", "steps", with("offer", "steps", "1; 2; 3; 4; 5; 6; 7; 8; 9")},
		{"range min not a number", "offer", "min", with("offer", "mode", "range", "min", "abc", "max", "50")},
		{"range reversed", "offer", "max", with("offer", "mode", "range", "min", "50", "max", "10")},
		{"unknown redeem", "offer", "redeem", with("offer", "redeem", "teleport")},
		{"online without shop", "offer", "shop_url", with("offer", "redeem", "online", "shop_url", "")},
		{"shop ftp", "offer", "shop_url", with("offer", "shop_url", "ftp://shop.example")},
		{"overlong instructions", "offer", "instructions", with("offer", "instructions", long)},
	}
	for _, tc := range cases {
		res := c.PostForm("/merchant/profile/"+tc.step+q, tc.form)
		if res.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d", tc.name, res.Status)
			continue
		}
		if !strings.Contains(res.Body, `id="f-`+tc.field+`-err"`) && !strings.Contains(res.Body, `class="field-error"`) {
			t.Errorf("%s: no inline error for %s", tc.name, tc.field)
		}
		if strings.Contains(res.Body, "<script>") {
			t.Errorf("%s: unescaped script in the re-rendered form", tc.name)
		}
	}

	// Uploads: not an image, an image type we do not take, too big, none.
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	big := append(testPNG(t, 8, 8), bytes.Repeat([]byte{0}, 3<<20)...)
	for _, up := range []struct {
		name, file string
		data       []byte
	}{
		{"text as png", "logo.png", []byte("just text, not an image")},
		{"html as png", "logo.png", []byte("<html><script>alert(1)</script></html>")},
		{"gif", "logo.gif", gif},
		{"truncated png", "logo.png", testPNG(t, 40, 40)[:60]},
		{"3 MB", "logo.png", big},
		{"no file", "", nil},
	} {
		field := "logo"
		if up.file == "" {
			field = ""
		}
		res := postMultipart(t, c, "/merchant/profile/logo"+q, field, up.file, up.data)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, `id="f-logo-err"`) {
			t.Errorf("upload %s: %d", up.name, res.Status)
		}
	}
	// A JPEG is fine.
	if res := postMultipart(t, c, "/merchant/profile/logo"+q, "logo", "x.png", testJPEG(t, 64, 64)); res.Status != http.StatusSeeOther {
		t.Errorf("jpeg: %d", res.Status)
	}

	after := reloadMerchant(t, a, m.ID)
	after.UpdatedAt, after.LogoHash = before.UpdatedAt, before.LogoHash
	if fmt.Sprintf("%+v", after.MerchantOnboarding) != fmt.Sprintf("%+v", before.MerchantOnboarding) ||
		after.Name != before.Name || after.Description != before.Description || after.Website != before.Website ||
		after.Postcode != before.Postcode || after.City != before.City || after.OpeningHours != before.OpeningHours ||
		after.Category != before.Category || after.ContactEmail != before.ContactEmail {
		t.Errorf("bad input changed the profile:\nbefore %+v\nafter  %+v", before, after)
	}
	if res := apptest.NewClient(t, a.HTTP).Get("/partner/" + m.Slug); res.Status != http.StatusNotFound {
		t.Errorf("draft shown publicly: %d", res.Status)
	}
}

func TestOnboardingScriptEscaped(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	c, _, m := merchantOwner(t, a, "Blumen Skript")
	q := "?m=" + m.Slug
	completeProfile(t, c, q)
	evil := `<script>alert("x")</script>`
	steps := map[string]url.Values{
		"business": {"name": {"Blumen " + evil}, "category": {"flowers"}, "description": {"Wir binden Sträuße. " + evil}},
		"address":  {"street": {"Weg 1 " + evil}, "postcode": {"50674"}, "city": {"Köln " + evil}},
		"contact":  {"website": {"https://blumen.example/?q=%3Cscript%3E"}, "contact_email": {"a@blumen.example"}, "opening_hours": {"Mo " + evil}},
		"offer":    {"mode": {"range"}, "min": {"5"}, "max": {"100"}, "redeem": {"store"}, "instructions": {evil}},
	}
	for step, form := range steps {
		if res := c.PostForm("/merchant/profile/"+step+q, form); res.Status != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", step, res.Status, res.Body)
		}
	}
	if res := c.PostForm("/merchant/profile/submit"+q, nil); res.Status != http.StatusSeeOther {
		t.Fatalf("submit: %d", res.Status)
	}
	admin := adminClient(t, a)
	pages := map[string]*apptest.Client{
		"/merchant/profile/review" + q: c, "/merchant/profile/business" + q: c, "/merchant/profile/contact" + q: c,
		fmt.Sprintf("/admin/merchants/%d", m.ID): admin, "/admin/merchants": admin, "/dashboard": admin,
	}
	check := func() {
		for path, cl := range pages {
			res := cl.Get(path)
			if res.Status != http.StatusOK {
				t.Errorf("%s: %d", path, res.Status)
			}
			if strings.Contains(res.Body, "<script>alert") {
				t.Errorf("%s renders the script unescaped", path)
			}
		}
	}
	check()
	if res := admin.PostForm(fmt.Sprintf("/admin/merchants/%d/approve", m.ID), nil); res.Status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", res.Status, res.Body)
	}
	anon := apptest.NewClient(t, a.HTTP)
	pages["/partner/"+m.Slug] = anon
	pages["/partners"] = anon
	pages["/"] = anon
	check()
	if res := anon.Get("/partner/" + m.Slug); !strings.Contains(res.Body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("escaped text missing on the profile")
	}
}

// The demo partners are approved, so their profiles must be complete (an
// admin could not reactivate them otherwise).
func TestOnboardingDemoMerchantsComplete(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	var ms []models.Merchant
	a.DB.Find(&ms)
	if len(ms) == 0 {
		t.Fatal("no demo merchants")
	}
	for _, m := range ms {
		if missing := m.ProfileMissing(); len(missing) > 0 {
			t.Errorf("%s misses %v", m.Slug, missing)
		}
	}
}

// TestOnboardingTenantIsolation: the owner and staff of merchant A reach
// nothing of merchant B by any URL: not by ?m=, not by ids in paths.
func TestOnboardingTenantIsolation(t *testing.T) {
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.NewApp(t, apptest.BaseEnv(t, d))
			ca, _, ma := merchantOwner(t, a, "Laden Alpha")
			cb, _, mb := merchantOwner(t, a, "Laden Beta")
			qa, qb := "?m="+ma.Slug, "?m="+mb.Slug
			completeProfile(t, cb, qb)
			if res := postMultipart(t, cb, "/merchant/profile/logo"+qb, "logo", "b.png", testPNG(t, 20, 20)); res.Status != http.StatusSeeOther {
				t.Fatalf("b logo: %d", res.Status)
			}
			// B has staff and an open invitation; A has staff too.
			linkB := inviteLink(t, a, cb, qb, "staff@beta.example")
			guestB := apptest.NewClient(t, a.HTTP)
			guestB.PostForm(linkB, url.Values{"name": {"Bea Beta"}, "password": {testPassword}, "confirm": {testPassword}})
			inviteLink(t, a, cb, qb, "offen@beta.example")
			linkA := inviteLink(t, a, ca, qa, "staff@alpha.example")
			staffA := apptest.NewClient(t, a.HTTP)
			staffA.PostForm(linkA, url.Values{"name": {"Alf Alpha"}, "password": {testPassword}, "confirm": {testPassword}})
			staffB, _ := a.Store.UserByEmail(t.Context(), "staff@beta.example")
			var openB models.MerchantInvite
			a.DB.Where("email = ?", "offen@beta.example").First(&openB)
			before := reloadMerchant(t, a, mb.ID)

			for _, cl := range []*apptest.Client{ca, staffA} {
				for _, path := range []string{"/merchant/profile" + qb, "/merchant/profile/offer" + qb, "/merchant/profile/review" + qb,
					"/merchant/capacity" + qb, "/merchant/staff" + qb, "/partner/" + mb.Slug, "/partner/" + mb.Slug + "/logo",
					fmt.Sprintf("/admin/merchants/%d", mb.ID)} {
					if res := cl.Get(path); res.Status != http.StatusNotFound {
						t.Errorf("GET %s: %d", path, res.Status)
					}
				}
				posts := map[string]url.Values{
					"/merchant/profile/business" + qb:                                copyForm(goodSteps[0].form),
					"/merchant/profile/offer" + qb:                                   {"mode": {"steps"}, "steps": {"5"}, "redeem": {"store"}},
					"/merchant/profile/submit" + qb:                                  nil,
					"/merchant/profile/logo/delete" + qb:                             nil,
					"/merchant/capacity" + qb:                                        {"paused": {"1"}},
					"/merchant/staff/invite" + qb:                                    {"email": {"spion@example.com"}},
					fmt.Sprintf("/merchant/staff/%d/remove%s", staffB.ID, qb):        nil,
					fmt.Sprintf("/merchant/staff/invites/%d/revoke%s", openB.ID, qb): nil,
					fmt.Sprintf("/admin/merchants/%d/reject", mb.ID):                 {"reason": {"nur so"}},
				}
				for path, form := range posts {
					if res := cl.PostForm(path, form); res.Status != http.StatusNotFound {
						t.Errorf("POST %s: %d", path, res.Status)
					}
				}
				if res := postMultipart(t, cl, "/merchant/profile/logo"+qb, "logo", "a.png", testPNG(t, 30, 30)); res.Status != http.StatusNotFound {
					t.Errorf("logo upload into B: %d", res.Status)
				}
			}
			// A's owner acting on its own merchant with B's ids in the path: 404.
			for path, form := range map[string]url.Values{
				fmt.Sprintf("/merchant/staff/%d/remove%s", staffB.ID, qa):        nil,
				fmt.Sprintf("/merchant/staff/invites/%d/revoke%s", openB.ID, qa): nil,
			} {
				if res := ca.PostForm(path, form); res.Status != http.StatusNotFound {
					t.Errorf("POST %s: %d", path, res.Status)
				}
			}
			after := reloadMerchant(t, a, mb.ID)
			if after.Name != before.Name || after.OfferStepList != before.OfferStepList || after.GiftsPaused || after.LogoHash != before.LogoHash || after.Status != models.MerchantDraft {
				t.Errorf("B changed: %+v", after)
			}
			staff, _ := a.Store.MerchantStaff(t.Context(), mb.ID)
			if len(staff.Members) != 2 || len(staff.Invites) != 1 {
				t.Errorf("B's team changed: %d members, %d invites", len(staff.Members), len(staff.Invites))
			}
			if res := cb.Get("/merchant/staff" + qb); strings.Contains(res.Body, "spion@") || strings.Contains(res.Body, "Alpha") {
				t.Errorf("B's team page shows A's data")
			}
		})
	}
}
