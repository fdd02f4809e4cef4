// Package i18n is the translation catalogue and the locale formatting shared
// by the pages (handlers) and the mails (app/mail): messages per language from
// the JSON files beside this package, money and distances in each language's
// convention.
//
// Times are not converted here: callers pass times already in Berlin time
// (models.InBerlin, the domain's one time zone), so this package needs
// neither the domain nor a time zone database of its own.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// files holds <lang>/<area>.json for every language (de/core.json,
// de/gifts.json …).
//
//go:embed de/*.json en/*.json
var files embed.FS

// Default is the language used when a visitor's or a recipient's language is
// not one the product speaks, and for keys another language lacks.
const Default = "de"

// languages the product speaks, Default first (read through Languages and
// Match, never changed).
var languages = [...]string{Default, "en"}

// Languages lists the languages the product speaks, Default first (a fresh
// slice: the caller may keep or change it).
func Languages() []string { return append([]string(nil), languages[:]...) }

// Match returns lang when the product speaks it, else Default: the language
// a mail goes out in for a stored gift or user language.
func Match(lang string) string {
	for _, l := range languages {
		if l == lang {
			return l
		}
	}
	return Default
}

// Catalog holds every message in every language, loaded once at start.
// Its methods are the whole interface of translating, so the storage
// behind them can change (plural rules from go-i18n, say) without callers
// noticing.
type Catalog struct {
	messages map[string]map[string]string // lang → key → text
}

// Load reads the catalogue embedded in the binary.
func Load() (*Catalog, error) { return Parse(files) }

// Parse reads <lang>/*.json from fsys for every language. Each area keeps
// its own file; a key defined twice, a language without messages or a key
// one language has and another lacks is an error, so nothing ever shows a
// raw key.
func Parse(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{messages: map[string]map[string]string{}}
	for _, lang := range Languages() {
		msgs, err := parseLanguage(fsys, lang)
		if err != nil {
			return nil, err
		}
		c.messages[lang] = msgs
	}
	if err := c.checkParity(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseLanguage(fsys fs.FS, lang string) (map[string]string, error) {
	names, err := fs.Glob(fsys, lang+"/*.json")
	if err != nil {
		return nil, err
	}
	msgs := map[string]string{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		part := map[string]string{}
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for k, v := range part {
			if _, dup := msgs[k]; dup {
				return nil, fmt.Errorf("%s: key %q is defined twice", name, k)
			}
			msgs[k] = v
		}
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("no translations for %s", lang)
	}
	return msgs, nil
}

// checkParity makes sure every key exists in every language.
func (c *Catalog) checkParity() error {
	langs := Languages()
	var missing []string
	for _, lang := range langs[1:] {
		for k := range c.messages[langs[0]] {
			if _, ok := c.messages[lang][k]; !ok {
				missing = append(missing, lang+":"+k)
			}
		}
		for k := range c.messages[lang] {
			if _, ok := c.messages[langs[0]][k]; !ok {
				missing = append(missing, langs[0]+":"+k)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("i18n: missing translations: %s", strings.Join(missing, ", "))
	}
	return nil
}

// T translates key into lang; args fill %s/%d verbs in the message. A key
// lang lacks comes from Default; an unknown key is shown as itself.
func (c *Catalog) T(lang, key string, args ...any) string {
	msg, ok := c.messages[lang][key]
	if !ok {
		msg, ok = c.messages[Default][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// Plural translates the form of key that fits count: the message
// key+".one" for exactly one, key+".other" for any other count (German and
// English have these two cardinal forms; other languages will get their
// CLDR rules when the catalogue moves to go-i18n). args fill the verbs as
// in T, so a message that shows the count gets it among args. Without the
// two forms it translates key itself.
func (c *Catalog) Plural(lang, key string, count int, args ...any) string {
	form := key + ".other"
	if count == 1 {
		form = key + ".one"
	}
	if c.Has(lang, form) || c.Has(Default, form) {
		return c.T(lang, form, args...)
	}
	return c.T(lang, key, args...)
}

// Has reports whether lang has a message for key.
func (c *Catalog) Has(lang, key string) bool {
	_, ok := c.messages[lang][key]
	return ok
}

// Keys lists lang's message keys in order (for the tests that check every
// key a template or handler names exists).
func (c *Catalog) Keys(lang string) []string {
	keys := make([]string, 0, len(c.messages[lang]))
	for k := range c.messages[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Funcs are the template functions of lang that pages and mails share:
// t (T), money (FormatMoney) and km (Km). The map fits both html/template
// and text/template (convert it to their FuncMap).
func (c *Catalog) Funcs(lang string) map[string]any {
	return map[string]any{
		"t":     func(key string, args ...any) string { return c.T(lang, key, args...) },
		"money": func(cents int64, currency string) string { return FormatMoney(lang, cents, currency) },
		"km":    func(d *float64) string { return Km(lang, d) },
	}
}
