package models_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"gorm.io/gorm"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// catalogFixture is the part of the demo data the catalog tests read: the
// region rheinland with approved partners in Köln and Bonn (among them
// baeckerei-sonnenkorn, with a complete profile) and a platform admin.
func catalogFixture(t *testing.T, s *models.Store) *models.User {
	t.Helper()
	region := models.Region{Slug: "rheinland", Name: "Rheinland", Currency: "EUR", CommissionBP: 500}
	if err := s.DB().Create(&region).Error; err != nil {
		t.Fatal(err)
	}
	offer := models.MerchantOnboarding{OfferMode: models.OfferSteps, OfferStepList: "1000,2500,5000", RedeemWhere: models.RedeemInStore}
	for _, m := range []models.Merchant{
		{Slug: "baeckerei-sonnenkorn", Name: "Bäckerei Sonnenkorn", Category: "bakery", Address: "Severinstraße 112", Postcode: "50678", City: "Köln",
			Description: "Sauerteigbrot, Rosinenstuten und Kaffee zum Mitnehmen – seit drei Generationen im Severinsviertel.", Lat: 50.9270, Lng: 6.9590},
		{Slug: "cafe-rheinblick", Name: "Café Rheinblick", Category: "cafe", Address: "Frankenwerft 7", Postcode: "50667", City: "Köln",
			Description: "Frühstück, Kuchen aus eigener Backstube und der schönste Blick auf den Dom.", Lat: 50.9380, Lng: 6.9620},
		{Slug: "cafe-poppelsdorf", Name: "Café Poppelsdorf", Category: "cafe", Address: "Clemens-August-Straße 16", Postcode: "53115", City: "Bonn",
			Description: "Hausgemachte Torten und Kaffee von der Bonner Rösterei nebenan.", Lat: 50.7240, Lng: 7.0880},
	} {
		m.RegionID, m.Status, m.MerchantOnboarding = region.ID, models.MerchantApproved, offer
		m.Website, m.OpeningHours, m.ContactEmail = "https://"+m.Slug+".example", "Mo–Sa 9:00–18:00", "hallo@"+m.Slug+".example"
		if err := s.DB().Create(&m).Error; err != nil {
			t.Fatal(err)
		}
	}
	admin, err := s.CreateUser(t.Context(), models.NewUser{Email: "admin@trostpflaster.example", Name: "Plattform-Admin",
		Password: storetest.Password, PlatformAdmin: true})
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

func loadPlaces(t *testing.T) *models.Places {
	t.Helper()
	p, err := models.LoadPlaces()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCatalogIndexFollowsChanges: the in-memory catalog index answers every
// search as of the last committed change — approvals, suspensions, profile
// edits, plain SQL updates, deletes — also in a second instance on the same
// database, on SQLite and PostgreSQL.
func TestCatalogIndexFollowsChanges(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s, ctx := storetest.NewStore(t, d), t.Context()
			admin := catalogFixture(t, s)
			places := loadPlaces(t)
			other := models.NewStore(s.DB(), models.StoreOptions{Secret: []byte(strings.Repeat("s", 32)), BcryptCost: 4})
			m, err := s.MerchantBySlug(ctx, "baeckerei-sonnenkorn")
			if err != nil {
				t.Fatal(err)
			}
			find := func(st *models.Store, q models.CatalogQuery) []string {
				t.Helper()
				hits, _, err := st.SearchMerchants(ctx, places, q)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, h := range hits {
					out = append(out, h.Slug)
				}
				return out
			}
			has := func(st *models.Store, q string, want bool) {
				t.Helper()
				got := find(st, models.CatalogQuery{Q: q})
				found := false
				for _, slug := range got {
					found = found || slug == m.Slug
				}
				if found != want {
					t.Fatalf("q=%q: found=%v, want %v (%v)", q, found, want, got)
				}
			}
			has(s, "SONNENKORN", true)
			has(other, "sonnenkörn", false) // no such word: the umlaut folds to "oe"
			has(other, "Sönnenkorn", false)
			has(other, "sonnenkorn", true)

			if err := s.SuspendMerchant(ctx, m.ID, admin.ID, "Test: vorübergehend geschlossen"); err != nil {
				t.Fatal(err)
			}
			has(s, "sonnenkorn", false)
			has(other, "sonnenkorn", false)
			if err := s.ReactivateMerchant(ctx, m.ID, admin.ID); err != nil {
				t.Fatal(err)
			}
			has(other, "sonnenkorn", true)

			err = s.SaveMerchantBusiness(ctx, m.ID, models.MerchantBusiness{Name: "Backstube Morgenröte", Category: m.Category,
				Description: "Sauerteigbrot, Franzbrötchen und Kuchen vom Blech, jeden Morgen frisch aus dem Ofen."}, models.ActorCLI)
			if err != nil {
				t.Fatal(err)
			}
			has(other, "morgenroete", true)
			has(s, "Franzbrötchen", true)
			has(s, "sonnenkorn", false)

			// A change no Go code sees (an operator's SQL) is followed too.
			if err := s.DB().Exec("UPDATE merchants SET lat = ?, lng = ? WHERE id = ?", 48.137, 11.575, m.ID).Error; err != nil {
				t.Fatal(err)
			}
			if got := find(other, models.CatalogQuery{Near: "80331", Limit: 1}); len(got) != 1 || got[0] != m.Slug {
				t.Fatalf("near Munich after the move: %v", got)
			}
			if err := s.DB().Exec("UPDATE regions SET slug = ? WHERE slug = ?", "rheinland-neu", "rheinland").Error; err != nil {
				t.Fatal(err)
			}
			if got := find(s, models.CatalogQuery{Region: "rheinland"}); len(got) != 0 {
				t.Fatalf("old region slug still finds %v", got)
			}
			if got := find(s, models.CatalogQuery{Region: "rheinland-neu", Q: "morgenroete"}); len(got) != 1 {
				t.Fatalf("new region slug: %v", got)
			}
		})
	}
}

// TestCatalogTextMatchesLike compares the index with the plain definition —
// every folded query word is a substring of search_text (SQL LIKE), ordered
// by search_text and id — for words of every length, filters and pages.
func TestCatalogTextMatchesLike(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s, ctx := storetest.NewStore(t, d), t.Context()
			catalogFixture(t, s)
			places := loadPlaces(t)
			var region models.Region
			if err := s.DB().Where("slug = ?", "rheinland").First(&region).Error; err != nil {
				t.Fatal(err)
			}
			names := []string{"Café Überall", "Bäckerei Groß", "Fahrradladen Süd", "Radhaus Nord", "Buchladen am Dom", "Weinhaus Rebe",
				"Blumen Müller", "Mueller & Söhne", "Laden 1", "Laden 21", "Kaffeerösterei", "Ökoladen"}
			var ms []models.Merchant
			for i := range 120 {
				n := names[i%len(names)]
				status := models.MerchantApproved
				if i%9 == 4 {
					status = models.MerchantPending
				}
				ms = append(ms, models.Merchant{RegionID: region.ID, Slug: fmt.Sprintf("t-%03d", i), Name: fmt.Sprintf("%s %d", n, i/len(names)),
					Category: models.Categories[i%len(models.Categories)], City: []string{"Köln", "Bonn", "Düsseldorf"}[i%3],
					Postcode: "50667", Description: []string{"", "Frisch & fein", "seit 1920"}[i%3], Status: status, Lat: 50.9, Lng: 6.9})
			}
			if err := s.DB().CreateInBatches(&ms, 50).Error; err != nil {
				t.Fatal(err)
			}
			for _, q := range []models.CatalogQuery{
				{Q: "laden"}, {Q: "rad"}, {Q: "RAD süd"}, {Q: "mueller"}, {Q: "Müller"}, {Q: "1"}, {Q: "laden 1"}, {Q: "e"},
				{Q: "ck"}, {Q: "café"}, {Q: "cafe"}, {Q: "groß"}, {Q: "oeko"}, {Q: "&"}, {Q: "50%"}, {Q: "x_y"}, {Q: "zzz"},
				{Q: "laden", City: "KÖLN"}, {Q: "e", Category: "cafe"}, {Q: "e", Region: "rheinland"}, {Q: "e", Region: "nowhere"},
				{Limit: 7}, {Q: "fein", Limit: 3},
			} {
				want := likeSearch(t, s.DB(), q)
				var got []string
				cursor := ""
				for page := 0; page < 100; page++ {
					pq := q
					pq.Cursor = cursor
					hits, next, err := s.SearchMerchants(ctx, places, pq)
					if err != nil {
						t.Fatalf("%+v: %v", q, err)
					}
					for _, h := range hits {
						got = append(got, h.Slug)
					}
					if next == "" {
						break
					}
					cursor = next
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%+v:\n got %v\nwant %v", q, got, want)
				}
			}
		})
	}
}

func likeSearch(t *testing.T, db *gorm.DB, q models.CatalogQuery) []string {
	t.Helper()
	tx := db.Model(&models.Merchant{}).Where("merchants.status = ?", models.MerchantApproved)
	if q.Region != "" {
		tx = tx.Joins("JOIN regions ON regions.id = merchants.region_id").Where("regions.slug = ?", q.Region)
	}
	if q.City != "" {
		tx = tx.Where("merchants.city_key = ?", models.FoldText(q.City))
	}
	if q.Category != "" {
		tx = tx.Where("merchants.category = ?", q.Category)
	}
	for _, w := range strings.Fields(models.FoldText(q.Q)) {
		w = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(w)
		tx = tx.Where("merchants.search_text LIKE ? ESCAPE '\\'", "%"+w+"%")
	}
	var ms []models.Merchant
	if err := tx.Find(&ms).Error; err != nil {
		t.Fatal(err)
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].SearchText != ms[j].SearchText {
			return ms[i].SearchText < ms[j].SearchText
		}
		return ms[i].ID < ms[j].ID
	})
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Slug)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
