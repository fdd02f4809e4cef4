package models_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// TestNearSearchMatchesFullSort checks the bounding-box search against the
// plain definition — every match sorted by distance, then id — for origins
// in dense and empty areas, text filters, page sizes and cursors.
func TestNearSearchMatchesFullSort(t *testing.T) {
	t.Parallel()
	places, err := models.LoadPlaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			region := models.Region{Slug: "rheinland", Name: "Rheinland"}
			if err := s.DB().Create(&region).Error; err != nil {
				t.Fatal(err)
			}
			koeln, _ := places.ByPostcode("50667")
			rng := rand.New(rand.NewPCG(1, 2))
			var ms []models.Merchant
			for i := range 300 {
				lat, lng := koeln.Lat+rng.NormFloat64()*0.3, koeln.Lng+rng.NormFloat64()*0.5
				if i%10 == 0 { // a few far away, in the south
					lat, lng = 48+rng.Float64(), 11+rng.Float64()
				}
				if i%50 == 0 { // and two at exactly the same point
					lat, lng = koeln.Lat, koeln.Lng
				}
				cat := []string{"bakery", "cafe"}[i%2]
				status := models.MerchantApproved
				if i%7 == 0 {
					status = models.MerchantDraft
				}
				ms = append(ms, models.Merchant{RegionID: region.ID, Slug: fmt.Sprintf("m-%d", i), Name: fmt.Sprintf("Laden %d", i),
					Category: cat, City: "Köln", Lat: lat, Lng: lng, Status: status})
			}
			if err := s.DB().CreateInBatches(&ms, 100).Error; err != nil {
				t.Fatal(err)
			}

			for _, tc := range []models.CatalogQuery{
				{Near: "50667"},
				{Near: "50667", Limit: 100},
				{Near: "50667", Category: "cafe", Limit: 7},
				{Near: "80331", Limit: 40}, // Munich: few nearby, the radius must grow
				{Near: "24103", Limit: 5},  // Kiel: none nearby
				{Near: "50667", Q: "laden 1", Region: "rheinland", Limit: 9},
			} {
				want := bruteForce(t, s, places, tc)
				var got []string
				cursor := ""
				for page := 0; ; page++ {
					q := tc
					q.Cursor = cursor
					hits, next, err := s.SearchMerchants(ctx, places, q)
					if err != nil {
						t.Fatalf("%+v: %v", tc, err)
					}
					for _, h := range hits {
						got = append(got, fmt.Sprintf("%s@%.6f", h.Slug, *h.DistanceKm))
					}
					if next == "" || page > 100 {
						break
					}
					cursor = next
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%+v:\n got %v\nwant %v", tc, got, want)
				}
			}
		})
	}
}

func bruteForce(t *testing.T, s *models.Store, places *models.Places, q models.CatalogQuery) []string {
	t.Helper()
	origin, _ := places.Resolve(q.Near)
	var ms []models.Merchant
	db := s.DB().Where("status = ?", models.MerchantApproved)
	if q.Category != "" {
		db = db.Where("category = ?", q.Category)
	}
	for _, w := range strings.Fields(models.FoldText(q.Q)) {
		db = db.Where("search_text LIKE ?", "%"+w+"%")
	}
	if err := db.Find(&ms).Error; err != nil {
		t.Fatal(err)
	}
	type hit struct {
		slug string
		id   uint
		d    float64
	}
	var hs []hit
	for _, m := range ms {
		hs = append(hs, hit{m.Slug, m.ID, models.DistanceKm(origin.Lat, origin.Lng, m.Lat, m.Lng)})
	}
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].d != hs[j].d {
			return hs[i].d < hs[j].d
		}
		return hs[i].id < hs[j].id
	})
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = fmt.Sprintf("%s@%.6f", h.slug, h.d)
	}
	return out
}
