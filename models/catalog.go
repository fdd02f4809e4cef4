package models

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CatalogQuery filters the partner catalog. Near is a postcode or place name;
// when given, results are ordered by distance from it.
type CatalogQuery struct {
	Region   string
	City     string
	Category string
	Q        string
	Near     string
	Limit    int
	Cursor   string
}

// CatalogHit is one approved merchant in a catalog answer.
type CatalogHit struct {
	Merchant
	DistanceKm *float64
}

// CatalogLimit bounds page sizes.
const (
	CatalogDefaultLimit = 24
	CatalogMaxLimit     = 100
)

func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset)))
}

func decodeCursor(c string) (int, bool) {
	if c == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'o' {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[1:]))
	return n, err == nil && n >= 0 && n <= 1_000_000
}

// SearchMerchants lists approved merchants matching q. Bad filters are
// ValidationErrors naming the field (for a 422), never a server error.
func (s *Store) SearchMerchants(ctx context.Context, places *Places, q CatalogQuery) ([]CatalogHit, string, error) {
	v := ValidationErrors{}
	if q.Limit == 0 {
		q.Limit = CatalogDefaultLimit
	}
	if q.Limit < 1 || q.Limit > CatalogMaxLimit {
		v.Add("limit", MsgInvalid)
	}
	offset, ok := decodeCursor(q.Cursor)
	if !ok {
		v.Add("cursor", MsgInvalid)
	}
	if q.Category != "" && !ValidCategory(q.Category) {
		v.Add("category", MsgInvalid)
	}
	for field, val := range map[string]string{"q": q.Q, "city": q.City, "near": q.Near, "region": q.Region} {
		if utf8.RuneCountInString(val) > 100 || !utf8.ValidString(val) {
			v.Add(field, MsgTooLong)
		}
	}
	var origin *Place
	if strings.TrimSpace(q.Near) != "" && v["near"] == "" {
		p, ok := places.Resolve(q.Near)
		if !ok {
			v.Add("near", MsgUnknownPlace)
		} else {
			origin = &p
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}

	db := s.db.WithContext(ctx).Model(&Merchant{}).Where("merchants.status = ?", MerchantApproved)
	if q.Region != "" {
		db = db.Joins("JOIN regions ON regions.id = merchants.region_id").Where("regions.slug = ?", q.Region)
	}
	if q.City != "" {
		db = db.Where("merchants.city_key = ?", FoldText(q.City))
	}
	if q.Category != "" {
		db = db.Where("merchants.category = ?", q.Category)
	}
	for _, word := range strings.Fields(FoldText(q.Q)) {
		db = db.Where("merchants.search_text LIKE ? ESCAPE '\\'", "%"+escapeLike(word)+"%")
	}

	var hits []CatalogHit
	if origin == nil {
		var ms []Merchant
		// search_text starts with the folded name, so "Bäckerei" sorts as "baeckerei".
		if err := db.Order("merchants.search_text, merchants.id").Offset(offset).Limit(q.Limit + 1).Find(&ms).Error; err != nil {
			return nil, "", err
		}
		for _, m := range ms {
			hits = append(hits, CatalogHit{Merchant: m})
		}
	} else {
		var err error
		if hits, err = s.nearestMerchants(ctx, db, *origin, offset, q.Limit+1); err != nil {
			return nil, "", err
		}
	}
	next := ""
	if len(hits) > q.Limit {
		hits = hits[:q.Limit]
		next = encodeCursor(offset + q.Limit)
	}
	return hits, next, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CatalogCities lists the cities that have approved merchants, for filters.
func (s *Store) CatalogCities(ctx context.Context) ([]string, error) {
	var cities []string
	err := s.db.WithContext(ctx).Model(&Merchant{}).Where("status = ?", MerchantApproved).
		Distinct("city").Order("city").Pluck("city", &cities).Error
	return cities, err
}
