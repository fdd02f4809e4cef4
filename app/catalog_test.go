package app_test

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

func TestPublicPages(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	tests := []struct {
		name       string
		path       string
		lang       string
		status     int
		contains   []string
		notContain []string
	}{
		{"home explains and lists partners", "/", "de", 200, []string{"Ein Trostpflaster vom Laden nebenan", "/partner/"}, nil},
		{"home in English", "/", "en", 200, []string{"A little comfort from the shop next door"}, nil},
		{"catalog lists all", "/partners", "de", 200, []string{"Bäckerei Sonnenkorn", "Radhaus Flingern", "Café Poppelsdorf"}, nil},
		{"catalog by city", "/partners?city=Bonn", "de", 200, []string{"Café Poppelsdorf", "Weinhandlung Rebstock"}, []string{"Radhaus Flingern", "Bäckerei Sonnenkorn"}},
		{"catalog by city, folded", "/partners?city=duesseldorf", "de", 200, []string{"Radhaus Flingern"}, []string{"Café Poppelsdorf"}},
		{"catalog by category", "/partners?category=bike", "de", 200, []string{"Radhaus Flingern", "Fahrradwerkstatt Speiche"}, []string{"Bäckerei Sonnenkorn"}},
		{"catalog by text", "/partners?q=pralinen", "de", 200, []string{"Kakaobohne"}, []string{"Radhaus"}},
		{"catalog text without umlaut", "/partners?q=baeckerei", "de", 200, []string{"Bäckerei Sonnenkorn", "Möller"}, []string{"Radhaus"}},
		{"catalog unknown place", "/partners?near=Atlantis", "de", 422, []string{"Diesen Ort oder diese PLZ kennen wir nicht"}, nil},
		{"catalog bad category", "/partners?category=%3Cscript%3E", "de", 422, []string{"nicht gültig"}, []string{"<script>"}},
		{"catalog overlong query", "/partners?q=" + strings.Repeat("x", 300), "de", 422, []string{"zu lang"}, nil},
		{"partner profile", "/partner/cafe-rheinblick", "de", 200, []string{"Café Rheinblick", "Frankenwerft 7", "Öffnungszeiten"}, nil},
		{"unknown partner", "/partner/nope", "de", 404, []string{"Seite nicht gefunden", "error-page"}, nil},
		{"unknown page", "/no/such/page", "en", 404, []string{"Page not found"}, nil},
		{"login page", "/login", "de", 200, []string{`name="_csrf"`, "Anmelden"}, nil},
		{"company sign-up", "/signup/company", "de", 200, []string{"Name des Unternehmens"}, nil},
		{"merchant sign-up", "/signup/merchant", "en", 200, []string{"Shop name", "Bakery"}, nil},
		{"dashboard needs log-in", "/dashboard", "de", 303, nil, nil},
		{"dev mailbox", "/dev/mail", "de", 200, []string{"Entwickler-Postfach"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := apptest.NewClient(t, a.HTTP)
			c.Head["Accept-Language"] = tc.lang
			res := c.Get(tc.path)
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d\n%s", res.Status, tc.status, res.Body)
			}
			for _, s := range tc.contains {
				if !strings.Contains(res.Body, s) {
					t.Errorf("body lacks %q", s)
				}
			}
			for _, s := range tc.notContain {
				if strings.Contains(res.Body, s) {
					t.Errorf("body contains %q", s)
				}
			}
			if res.Status < 300 || res.Status >= 400 {
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("content type %q", ct)
				}
				if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Frame-Options") != "DENY" {
					t.Error("security headers missing")
				}
			}
		})
	}
}

func TestCatalogNearOrdersByDistance(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	for _, tc := range []struct{ near, firstCity string }{{"53111", "Bonn"}, {"Düsseldorf", "Düsseldorf"}, {"50667 Köln", "Köln"}} {
		res := c.Get("/api/v1/merchants?limit=100&near=" + url.QueryEscape(tc.near))
		if res.Status != 200 {
			t.Fatalf("near %s: %d %s", tc.near, res.Status, res.Body)
		}
		var out struct {
			Data []struct {
				City       string   `json:"city"`
				DistanceKm *float64 `json:"distance_km"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Data) < 12 {
			t.Fatalf("near %s: %d results", tc.near, len(out.Data))
		}
		if out.Data[0].City != tc.firstCity {
			t.Errorf("near %s: first result in %s", tc.near, out.Data[0].City)
		}
		for i := 1; i < len(out.Data); i++ {
			if out.Data[i].DistanceKm == nil || *out.Data[i].DistanceKm < *out.Data[i-1].DistanceKm {
				t.Fatalf("near %s: not ordered by distance at %d", tc.near, i)
			}
		}
	}
}

func TestMerchantsAPI(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)

	// Paging with a cursor walks every approved merchant exactly once.
	seen := map[string]bool{}
	path := "/api/v1/merchants?region=rheinland&limit=5"
	pages := 0
	for path != "" {
		res := c.Get(path)
		if res.Status != 200 || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, res.Status, res.Header.Get("Content-Type"))
		}
		var out struct {
			Data []struct {
				ID       uint    `json:"id"`
				Slug     string  `json:"slug"`
				Name     string  `json:"name"`
				Category string  `json:"category"`
				City     string  `json:"city"`
				Postcode string  `json:"postcode"`
				Lat      float64 `json:"lat"`
				Lng      float64 `json:"lng"`
			} `json:"data"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Data {
			if seen[m.Slug] {
				t.Fatalf("%s returned twice", m.Slug)
			}
			if m.ID == 0 || m.Name == "" || m.Postcode == "" || m.Lat < 50 || m.Lat > 52 || m.Lng < 6 || m.Lng > 8 {
				t.Errorf("incomplete merchant %+v", m)
			}
			seen[m.Slug] = true
		}
		pages++
		path = ""
		if out.NextCursor != "" {
			path = "/api/v1/merchants?region=rheinland&limit=5&cursor=" + out.NextCursor
		}
	}
	if len(seen) != 14 || pages != 3 {
		t.Fatalf("saw %d merchants on %d pages", len(seen), pages)
	}

	// Draft merchants are not listed.
	_, m := apptest.MustMerchant(t, a.Store, "Heimliche Bäckerei", "Köln")
	res := c.Get("/api/v1/merchants?q=heimliche")
	if !strings.Contains(res.Body, `"data":[]`) {
		t.Errorf("draft merchant listed: %s", res.Body)
	}
	if res := c.Get("/partner/" + m.Slug); res.Status != 404 {
		t.Errorf("draft profile public: %d", res.Status)
	}

	problems := []struct {
		path, field string
		status      int
	}{
		{"/api/v1/merchants?limit=0", "limit", 422},
		{"/api/v1/merchants?limit=1000", "limit", 422},
		{"/api/v1/merchants?limit=abc", "limit", 422},
		{"/api/v1/merchants?cursor=%%%", "cursor", 422},
		{"/api/v1/merchants?cursor=bm90LWEtY3Vyc29y", "cursor", 422},
		{"/api/v1/merchants?category=spaceship", "category", 422},
		{"/api/v1/merchants?near=Nirgendwo-am-See", "near", 422},
		{"/api/v1/nothing-here", "", 404},
	}
	for _, p := range problems {
		res := c.Get(p.path)
		if res.Status != p.status || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", p.path, res.Status, res.Header.Get("Content-Type"))
			continue
		}
		var pr struct {
			Status int               `json:"status"`
			Title  string            `json:"title"`
			Code   string            `json:"code"`
			Errors map[string]string `json:"errors"`
		}
		if err := json.Unmarshal([]byte(res.Body), &pr); err != nil {
			t.Fatal(err)
		}
		if pr.Status != p.status || pr.Title == "" || pr.Code == "" {
			t.Errorf("%s: incomplete problem %s", p.path, res.Body)
		}
		if p.field != "" && pr.Errors[p.field] == "" {
			t.Errorf("%s: no error for field %s: %s", p.path, p.field, res.Body)
		}
	}
}

// The catalog's partner cards are written in Go (handlers/catalog_cards.go),
// not by a template: an edited partner shows its new name, escaped, at once,
// distances are per query, and each language has its own labels.
func TestCatalogCardsFollowEdits(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Head["Accept-Language"] = "de"
	get := func(path string) string {
		t.Helper()
		res := c.Get(path)
		if res.Status != 200 {
			t.Fatalf("%s: %d", path, res.Status)
		}
		return res.Body
	}
	first := get("/partners?near=53111")
	if !strings.Contains(first, "Café Poppelsdorf") || !strings.Contains(first, " km</p>") || !strings.Contains(first, ",") {
		t.Fatalf("catalog near Bonn lacks the card or its distance:\n%s", first)
	}
	if again := get("/partners?near=53111"); again != first {
		t.Error("the same query rendered differently the second time")
	}
	// Far from Bonn the same card shows another distance.
	far := get("/partners?near=Düsseldorf&q=Poppelsdorf")
	bonnCard, farCard := cardOf(t, first, "Café Poppelsdorf"), cardOf(t, far, "Café Poppelsdorf")
	if bonnCard == farCard {
		t.Errorf("the card kept its distance across queries: %s", farCard)
	}
	if err := a.DB.Model(&models.Merchant{}).Where("name = ?", "Café Poppelsdorf").
		Updates(map[string]any{"name": "Café Poppelsdorf & Söhne"}).Error; err != nil {
		t.Fatal(err)
	}
	edited := get("/partners?near=53111")
	if !strings.Contains(edited, "Café Poppelsdorf &amp; Söhne") {
		t.Errorf("the edited name is not shown (escaped):\n%s", cardOf(t, edited, "Café Poppelsdorf"))
	}
	if !deKm.MatchString(cardOf(t, edited, "Café Poppelsdorf")) {
		t.Errorf("German card without a German distance: %s", cardOf(t, edited, "Café Poppelsdorf"))
	}
	c.Head["Accept-Language"] = "en"
	en := cardOf(t, get("/partners?near=53111"), "Café Poppelsdorf")
	if !enKm.MatchString(en) || !strings.Contains(en, "Café</span>") {
		t.Errorf("English card: %s", en)
	}
}

var (
	deKm = regexp.MustCompile(`\d,\d km`)
	enKm = regexp.MustCompile(`\d\.\d km`)
)

// cardOf cuts the catalog card that names name out of a page.
func cardOf(t *testing.T, page, name string) string {
	t.Helper()
	i := strings.Index(page, name)
	if i < 0 {
		t.Fatalf("no card for %q", name)
	}
	start := strings.LastIndex(page[:i], `<li class="card">`)
	end := strings.Index(page[i:], "</li>")
	if start < 0 || end < 0 {
		t.Fatalf("no card around %q", name)
	}
	return page[start : i+end]
}
