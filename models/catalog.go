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

// CatalogHit is one approved merchant in a catalog answer. Merchant points
// into the catalog index's snapshot, which is shared by every request and
// never changed: read it, never write through it.
type CatalogHit struct {
	*Merchant
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

	// The in-memory index (catalog_index.go) answers from a snapshot that is
	// at least as new as the last committed merchant change.
	sn, err := s.catalog(ctx)
	if err != nil {
		return nil, "", err
	}
	f := sn.filter(q)
	hits := make([]CatalogHit, 0, q.Limit+1)
	if origin == nil {
		for _, e := range sn.textOrder(&f, offset, q.Limit+1) {
			hits = append(hits, CatalogHit{Merchant: e.m})
		}
	} else {
		for _, h := range sn.nearOrder(&f, *origin, offset, q.Limit+1) {
			d := h.d
			hits = append(hits, CatalogHit{Merchant: h.e.m, DistanceKm: &d})
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

// CatalogCities lists the cities that have approved merchants, for the
// filter (at most CatalogCityLimit: the ones with the most partners).
func (s *Store) CatalogCities(ctx context.Context) ([]string, error) {
	sn, err := s.catalog(ctx)
	if err != nil {
		return nil, err
	}
	return sn.cities, nil
}
