package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

// The embedded catalogue loads: every key in both languages (Parse refuses
// to start otherwise), no key defined twice.
func TestCatalogLoadsWithParity(t *testing.T) {
	t.Parallel()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	de, en := c.Keys("de"), c.Keys("en")
	if len(de) < 500 || len(de) != len(en) {
		t.Fatalf("keys: de %d, en %d", len(de), len(en))
	}
	if c.T("de", "nav.login") != "Anmelden" || c.T("en", "nav.login") != "Log in" {
		t.Error("translations")
	}
}

// A key one language lacks, or one defined twice, stops the start.
func TestParseRefusesGaps(t *testing.T) {
	t.Parallel()
	for name, fsys := range map[string]fstest.MapFS{
		"missing in en": {"de/core.json": {Data: []byte(`{"a":"A","b":"B"}`)}, "en/core.json": {Data: []byte(`{"a":"A"}`)}},
		"missing in de": {"de/core.json": {Data: []byte(`{"a":"A"}`)}, "en/core.json": {Data: []byte(`{"a":"A","b":"B"}`)}},
		"twice":         {"de/core.json": {Data: []byte(`{"a":"A"}`)}, "de/gifts.json": {Data: []byte(`{"a":"A"}`)}, "en/core.json": {Data: []byte(`{"a":"A"}`)}},
		"no language":   {"de/core.json": {Data: []byte(`{"a":"A"}`)}},
		"broken json":   {"de/core.json": {Data: []byte(`{"a":`)}, "en/core.json": {Data: []byte(`{"a":"A"}`)}},
	} {
		if _, err := Parse(fsys); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := Parse(fstest.MapFS{
		"de/core.json": {Data: []byte(`{"hello":"Hallo %s","items":"Dinge","items.one":"%d Ding","items.other":"%d Dinge","only":"nur"}`)},
		"en/core.json": {Data: []byte(`{"hello":"Hello %s","items":"things","items.one":"%d thing","items.other":"%d things","only":"only"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTranslateAndFallBack(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	for _, tc := range []struct{ lang, key, arg, want string }{
		{"de", "hello", "Ada", "Hallo Ada"},
		{"en", "hello", "Ada", "Hello Ada"},
		{"fr", "hello", "Ada", "Hallo Ada"}, // an unknown language reads German
		{"en", "nothing.here", "", "nothing.here"},
	} {
		var got string
		if tc.arg == "" {
			got = c.T(tc.lang, tc.key)
		} else {
			got = c.T(tc.lang, tc.key, tc.arg)
		}
		if got != tc.want {
			t.Errorf("T(%s, %s) = %q, want %q", tc.lang, tc.key, got, tc.want)
		}
	}
	for lang, want := range map[string]string{"de": "de", "en": "en", "fr": "de", "": "de", "EN": "de"} {
		if got := Match(lang); got != want {
			t.Errorf("Match(%q) = %q, want %q", lang, got, want)
		}
	}
	if l := Languages(); len(l) != 2 || l[0] != Default {
		t.Errorf("Languages() = %v", l)
	}
}

func TestPlural(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	for _, tc := range []struct {
		lang  string
		count int
		want  string
	}{
		{"de", 1, "1 Ding"}, {"de", 0, "0 Dinge"}, {"de", 3, "3 Dinge"},
		{"en", 1, "1 thing"}, {"en", 2, "2 things"},
	} {
		if got := c.Plural(tc.lang, "items", tc.count, tc.count); got != tc.want {
			t.Errorf("Plural(%s, %d) = %q, want %q", tc.lang, tc.count, got, tc.want)
		}
	}
	if got := c.Plural("en", "only", 2); got != "only" {
		t.Errorf("a key without plural forms: %q", got)
	}
}

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	cases := []struct {
		lang     string
		cents    int64
		currency string
		want     string
	}{
		{"de", 1250, "EUR", "12,50 €"},
		{"en", 1250, "EUR", "€12.50"},
		{"de", 5, "EUR", "0,05 €"},
		{"de", 123456789, "EUR", "1.234.567,89 €"},
		{"en", 123456789, "EUR", "€1,234,567.89"},
		{"de", -1999, "EUR", "-19,99 €"},
		{"de", 0, "EUR", "0,00 €"},
		{"de", 1250, "", "12,50 €"},
		{"en", 1250, "CHF", "CHF12.50"},
	}
	for _, c := range cases {
		if got := FormatMoney(c.lang, c.cents, c.currency); got != c.want {
			t.Errorf("FormatMoney(%s, %d, %s) = %q, want %q", c.lang, c.cents, c.currency, got, c.want)
		}
	}
}

func TestKm(t *testing.T) {
	t.Parallel()
	d := 1.25
	if got := Km("de", &d); got != "1,2 km" && got != "1,3 km" {
		t.Errorf("de: %q", got)
	}
	far := 12.5
	if got := Km("de", &far); got != "12,5 km" {
		t.Errorf("de: %q", got)
	}
	if got := Km("en", &far); got != "12.5 km" {
		t.Errorf("en: %q", got)
	}
	if Km("de", nil) != "" {
		t.Error("no distance")
	}
}

// The template functions pages and mails share, in their language.
func TestFuncs(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	f := c.Funcs("en")
	if got := f["t"].(func(string, ...any) string)("hello", "Ada"); got != "Hello Ada" {
		t.Errorf("t: %q", got)
	}
	if got := f["money"].(func(int64, string) string)(1250, "EUR"); got != "€12.50" {
		t.Errorf("money: %q", got)
	}
	if got := f["km"].(func(*float64) string)(nil); got != "" || !strings.HasPrefix(Km("en", new(float64)), "0.0") {
		t.Errorf("km: %q", got)
	}
}
