package models

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// SearchVersion is a change counter of the catalog's data. Database
// triggers on merchants and regions (migrations/0001_baseline.*.sql) raise it
// in the same transaction as any insert, update or delete, whichever code or
// tool makes it. Each process keeps an in-memory search index (catalogIndex) of the
// approved merchants and rebuilds it when the counter has moved, so every
// search sees every committed change — also one made by another instance —
// at the cost of reading one row, without scanning the merchants table.
// Merchants change seldom (sign-up, review, profile edits, Stripe status),
// so rebuilds are rare; searches are many.
type SearchVersion struct {
	ID uint  `gorm:"primaryKey;autoIncrement:false"`
	N  int64 `gorm:"not null;default:0"`
}

// TableName keeps the table name stable.
func (SearchVersion) TableName() string { return "search_versions" }

// catalogIndex holds the current snapshot; building is serialised so a
// change makes one rebuild, not one per waiting request.
type catalogIndex struct {
	snap  atomic.Pointer[catalogSnapshot]
	build sync.Mutex
}

// catalogEntry is one approved merchant as the search sees it; m is its
// whole row, handed out as a copy.
type catalogEntry struct {
	id       uint
	regionID uint
	category string
	cityKey  string
	text     string
	lat, lng float64
	m        *Merchant
}

// catalogSnapshot is an immutable index of the approved merchants at one
// version: entries in catalog order (search_text, id), trigram posting
// lists of entry positions (ascending, so in catalog order), and positions
// ordered by latitude for "near" look-ups.
type catalogSnapshot struct {
	version int64
	entries []catalogEntry
	grams   map[uint64][]int32
	byLat   []int32
	regions map[string]uint // slug → id
	cities  []string
}

func gramKey(a, b, c rune) uint64 { return uint64(a)<<42 | uint64(b)<<21 | uint64(c) }

// trigrams calls fn for each run of three runes of s.
func trigrams(s string, fn func(uint64)) {
	var r0, r1 rune
	n := 0
	for _, r := range s {
		if n >= 2 {
			fn(gramKey(r0, r1, r))
		}
		r0, r1 = r1, r
		n++
	}
}

// WarmCatalog builds the catalog index now, so the first search after a
// start does not wait for it.
func (s *Store) WarmCatalog(ctx context.Context) error {
	_, err := s.catalog(ctx)
	return err
}

// catalog returns a snapshot at least as new as the committed version.
func (s *Store) catalog(ctx context.Context) (*catalogSnapshot, error) {
	var v int64
	if err := s.db.WithContext(ctx).Raw("SELECT n FROM search_versions WHERE id = 1").Scan(&v).Error; err != nil {
		return nil, err
	}
	if sn := s.catIndex.snap.Load(); sn != nil && sn.version >= v {
		return sn, nil
	}
	s.catIndex.build.Lock()
	defer s.catIndex.build.Unlock()
	if sn := s.catIndex.snap.Load(); sn != nil && sn.version >= v {
		return sn, nil
	}
	sn, err := s.buildCatalog(ctx, v)
	if err != nil {
		return nil, err
	}
	s.catIndex.snap.Store(sn)
	return sn, nil
}

// buildCatalog reads the approved merchants (after the version was read, so
// the snapshot holds at least that version's data).
func (s *Store) buildCatalog(ctx context.Context, version int64) (*catalogSnapshot, error) {
	db := s.db.WithContext(ctx)
	var regions []Region
	if err := db.Select("id", "slug").Find(&regions).Error; err != nil {
		return nil, err
	}
	var rows []Merchant
	if err := db.Where("status = ?", MerchantApproved).Find(&rows).Error; err != nil {
		return nil, err
	}
	// Catalog order is byte order of search_text (SQLite's, not PostgreSQL's
	// locale collation), then id.
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].SearchText != rows[j].SearchText {
			return rows[i].SearchText < rows[j].SearchText
		}
		return rows[i].ID < rows[j].ID
	})
	sn := &catalogSnapshot{version: version, entries: make([]catalogEntry, len(rows)), grams: map[uint64][]int32{},
		byLat: make([]int32, len(rows)), regions: make(map[string]uint, len(regions))}
	for _, r := range regions {
		sn.regions[r.Slug] = r.ID
	}
	cityCount := map[string]int{}
	for i := range rows {
		r := &rows[i]
		sn.entries[i] = catalogEntry{id: r.ID, regionID: r.RegionID, category: r.Category, cityKey: r.CityKey,
			text: r.SearchText, lat: r.Lat, lng: r.Lng, m: r}
		sn.byLat[i] = int32(i)
		if r.City != "" {
			cityCount[r.City]++
		}
		pos := int32(i)
		trigrams(r.SearchText, func(g uint64) {
			l := sn.grams[g]
			if len(l) == 0 || l[len(l)-1] != pos {
				sn.grams[g] = append(l, pos)
			}
		})
	}
	// One backing array for all posting lists: appending left each list
	// with up to twice its length in capacity, and ten thousand partners'
	// lists were the largest thing on the heap (make bench, heap profile).
	total := 0
	for _, l := range sn.grams {
		total += len(l)
	}
	flat := make([]int32, 0, total)
	for g, l := range sn.grams {
		start := len(flat)
		flat = append(flat, l...)
		sn.grams[g] = flat[start:len(flat):len(flat)]
	}
	slices.SortFunc(sn.byLat, func(a, b int32) int {
		if d := sn.entries[a].lat - sn.entries[b].lat; d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
		return int(a - b)
	})
	sn.cities = topCities(cityCount, CatalogCityLimit)
	return sn, nil
}

// CatalogCityLimit caps the city filter: with partners in more cities, the
// ones with the most partners are offered (typing a place in "near" still
// finds any).
const CatalogCityLimit = 60

func topCities(count map[string]int, n int) []string {
	cities := make([]string, 0, len(count))
	for c := range count {
		cities = append(cities, c)
	}
	if len(cities) > n {
		sort.Slice(cities, func(i, j int) bool {
			if count[cities[i]] != count[cities[j]] {
				return count[cities[i]] > count[cities[j]]
			}
			return cities[i] < cities[j]
		})
		cities = cities[:n]
	}
	sort.Strings(cities)
	return cities
}

// catalogFilter is a validated CatalogQuery.
type catalogFilter struct {
	regionID uint
	noRegion bool // the region slug is unknown: nothing matches
	cityKey  string
	category string
	words    []string
}

func (sn *catalogSnapshot) filter(q CatalogQuery) catalogFilter {
	f := catalogFilter{category: q.Category, words: strings.Fields(FoldText(q.Q))}
	if q.City != "" {
		f.cityKey = FoldText(q.City)
	}
	if q.Region != "" {
		id, ok := sn.regions[q.Region]
		f.regionID, f.noRegion = id, !ok
	}
	return f
}

func (f *catalogFilter) match(e *catalogEntry) bool {
	if f.regionID != 0 && e.regionID != f.regionID {
		return false
	}
	if f.cityKey != "" && e.cityKey != f.cityKey {
		return false
	}
	if f.category != "" && e.category != f.category {
		return false
	}
	for _, w := range f.words {
		if !strings.Contains(e.text, w) {
			return false
		}
	}
	return true
}

// candidates returns the shortest posting list among the trigrams of the
// query words — every match is in it — or all=true when no word has three
// runes. A trigram nobody has means no match.
func (sn *catalogSnapshot) candidates(f *catalogFilter) (list []int32, all bool) {
	all = true
	for _, w := range f.words {
		trigrams(w, func(g uint64) {
			l := sn.grams[g]
			if all || len(l) < len(list) {
				list, all = l, false
			}
		})
	}
	return list, all
}

// textOrder returns up to n matching entries after skipping offset, in
// catalog order.
func (sn *catalogSnapshot) textOrder(f *catalogFilter, offset, n int) []*catalogEntry {
	if f.noRegion {
		return nil
	}
	list, all := sn.candidates(f)
	var out []*catalogEntry
	visit := func(pos int32) bool {
		e := &sn.entries[pos]
		if !f.match(e) {
			return true
		}
		if offset > 0 {
			offset--
			return true
		}
		out = append(out, e)
		return len(out) < n
	}
	if all {
		for i := range sn.entries {
			if !visit(int32(i)) {
				break
			}
		}
	} else {
		for _, pos := range list {
			if !visit(pos) {
				break
			}
		}
	}
	return out
}

type nearHit struct {
	e *catalogEntry
	d float64
}

// nearOrder returns up to n matching entries after skipping offset, ordered
// by distance from origin (ties by id). With a selective text filter it
// measures every match; otherwise it looks in growing circles around the
// origin (see nearestMerchants for why that is exact).
func (sn *catalogSnapshot) nearOrder(f *catalogFilter, origin Place, offset, n int) []nearHit {
	if f.noRegion {
		return nil
	}
	need := offset + n
	var within []nearHit
	if list, all := sn.candidates(f); !all && len(list) <= 2000 {
		within = make([]nearHit, 0, len(list))
		for _, pos := range list {
			e := &sn.entries[pos]
			if f.match(e) {
				within = append(within, nearHit{e, DistanceKm(origin.Lat, origin.Lng, e.lat, e.lng)})
			}
		}
	} else {
		within = make([]nearHit, 0, 4*need)
		for r := float64(nearSearchStartKm); ; r *= 3 {
			box, whole := boundingBox(origin.Lat, origin.Lng, r)
			within = within[:0]
			lo, hi := 0, len(sn.byLat)
			if !whole {
				lo = sort.Search(len(sn.byLat), func(i int) bool { return sn.entries[sn.byLat[i]].lat >= box[0] })
				hi = sort.Search(len(sn.byLat), func(i int) bool { return sn.entries[sn.byLat[i]].lat > box[1] })
			}
			for _, pos := range sn.byLat[lo:hi] {
				e := &sn.entries[pos]
				if !whole && (e.lng < box[2] || e.lng > box[3]) {
					continue
				}
				if !f.match(e) {
					continue
				}
				d := DistanceKm(origin.Lat, origin.Lng, e.lat, e.lng)
				if whole || d <= r {
					within = append(within, nearHit{e, d})
				}
			}
			if whole || len(within) >= need {
				break
			}
		}
	}
	slices.SortFunc(within, func(a, b nearHit) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		return int(a.e.id) - int(b.e.id)
	})
	if offset >= len(within) {
		return nil
	}
	within = within[offset:]
	if len(within) > n {
		within = within[:n]
	}
	return within
}
