package main

import (
	"slices"
	"strings"
	"unicode"
)

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
