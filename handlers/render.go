package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// berlin is the time zone of every time shown on a page (models embeds
// time/tzdata, so it loads on hosts without zoneinfo too).
var berlin = func() *time.Location {
	if loc, err := time.LoadLocation("Europe/Berlin"); err == nil {
		return loc
	}
	return time.FixedZone("CET", 3600)
}()

// Languages the UI speaks; the first is the default.
var Languages = []string{"de", "en"}

// Renderer holds every page template, parsed once at start per language so a
// broken template fails the start, not a request.
type Renderer struct {
	pages    map[string]map[string]*template.Template // lang → page → template
	mails    map[string]map[string]*texttemplate.Template
	htmlMail map[string]map[string]*template.Template // mail/NAME.html: optional HTML part
	messages map[string]map[string]string             // lang → key → text
}

// NewRenderer parses layout.html, partials/*.html and each pages/*.html, plus
// mail/*.txt and the i18n/*.json message files, from fsys.
func NewRenderer(fsys fs.FS) (*Renderer, error) {
	r := &Renderer{pages: map[string]map[string]*template.Template{}, mails: map[string]map[string]*texttemplate.Template{}, htmlMail: map[string]map[string]*template.Template{}, messages: map[string]map[string]string{}}
	for _, lang := range Languages {
		// Each area keeps its own file (i18n/de/core.json, i18n/de/gifts.json …);
		// a key defined twice is an error.
		files, err := fs.Glob(fsys, "i18n/"+lang+"/*.json")
		if err != nil {
			return nil, err
		}
		msgs := map[string]string{}
		for _, f := range files {
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, err
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			for k, v := range part {
				if _, dup := msgs[k]; dup {
					return nil, fmt.Errorf("%s: key %q is defined twice", f, k)
				}
				msgs[k] = v
			}
		}
		if len(msgs) == 0 {
			return nil, fmt.Errorf("no translations for %s", lang)
		}
		r.messages[lang] = msgs
	}
	// Every key must exist in every language, so nothing shows a raw key.
	for _, lang := range Languages[1:] {
		var missing []string
		for k := range r.messages[Languages[0]] {
			if _, ok := r.messages[lang][k]; !ok {
				missing = append(missing, lang+":"+k)
			}
		}
		for k := range r.messages[lang] {
			if _, ok := r.messages[Languages[0]][k]; !ok {
				missing = append(missing, Languages[0]+":"+k)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return nil, fmt.Errorf("i18n: missing translations: %s", strings.Join(missing, ", "))
		}
	}
	pageFiles, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, err
	}
	mailFiles, err := fs.Glob(fsys, "mail/*.txt")
	if err != nil {
		return nil, err
	}
	htmlMailFiles, err := fs.Glob(fsys, "mail/*.html")
	if err != nil {
		return nil, err
	}
	for _, lang := range Languages {
		funcs := r.funcs(lang)
		base, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "layout.html", "partials/*.html")
		if err != nil {
			return nil, err
		}
		r.pages[lang] = map[string]*template.Template{}
		for _, f := range pageFiles {
			t, err := template.Must(base.Clone()).ParseFS(fsys, f)
			if err != nil {
				return nil, err
			}
			r.pages[lang][strings.TrimSuffix(path.Base(f), ".html")] = t
		}
		r.mails[lang] = map[string]*texttemplate.Template{}
		for _, f := range mailFiles {
			t, err := texttemplate.New(path.Base(f)).Funcs(texttemplate.FuncMap(funcs)).ParseFS(fsys, f)
			if err != nil {
				return nil, err
			}
			r.mails[lang][strings.TrimSuffix(path.Base(f), ".txt")] = t
		}
		r.htmlMail[lang] = map[string]*template.Template{}
		for _, f := range htmlMailFiles {
			t, err := template.New(path.Base(f)).Funcs(funcs).ParseFS(fsys, f)
			if err != nil {
				return nil, err
			}
			r.htmlMail[lang][strings.TrimSuffix(path.Base(f), ".html")] = t
		}
	}
	return r, nil
}

// T translates key into lang; args fill %s/%d verbs in the message.
func (r *Renderer) T(lang, key string, args ...any) string {
	msg, ok := r.messages[lang][key]
	if !ok {
		msg, ok = r.messages[Languages[0]][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// km formats a distance: "1,5 km" in German, "1.5 km" in English.
func (r *Renderer) km(lang string, d *float64) string {
	if d == nil {
		return ""
	}
	if lang == "de" {
		return strings.Replace(fmt.Sprintf("%.1f km", *d), ".", ",", 1)
	}
	return fmt.Sprintf("%.1f km", *d)
}

func (r *Renderer) funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"t":          func(key string, args ...any) string { return r.T(lang, key, args...) },
		"money":      func(cents int64, currency string) string { return FormatMoney(lang, cents, currency) },
		"km":         func(d *float64) string { return r.km(lang, d) },
		"local":      func(t time.Time) time.Time { return t.In(berlin) }, // times on pages are German time, like the till and the report
		"categories": func() []string { return models.Categories },
		"randomKey":  models.NewRandomKey, // one-time form keys (a double submit acts once)
		"lines":      func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") },
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
	}
}

// FormatMoney renders cents in the language's convention: "12,50 €" in
// German, "€12.50" in English. It is the only place money becomes text.
func FormatMoney(lang string, cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign = "-"
		cents = -cents
	}
	units, rest := cents/100, cents%100
	sym := currency
	if currency == "EUR" || currency == "" {
		sym = "€"
	}
	group := func(n int64, sep string) string {
		s := fmt.Sprint(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + sep + s[i:]
		}
		return s
	}
	if lang == "en" {
		return fmt.Sprintf("%s%s%s.%02d", sign, sym, group(units, ","), rest)
	}
	return fmt.Sprintf("%s%s,%02d %s", sign, group(units, "."), rest, sym)
}

// pageTemplate is a page's template in the request's language.
func (h *Handlers) pageTemplate(c *fiber.Ctx, page string) (*template.Template, error) {
	t, ok := h.r.pages[langOf(c)][page]
	if !ok {
		return nil, fmt.Errorf("no template %q", page)
	}
	return t, nil
}

// render executes a page into the response; on a template error the body is
// emptied again, so the error becomes a clean 500 instead of half a page.
func (h *Handlers) render(c *fiber.Ctx, status int, page string, data any) error {
	t, err := h.pageTemplate(c, page)
	if err != nil {
		return err
	}
	// Straight into the response's pooled body buffer: a page rendered into
	// a fresh bytes.Buffer grew it by doubling, and that was the largest
	// allocation of the catalog page (make bench, allocation profile).
	res := c.Response()
	res.ResetBody()
	if err := t.ExecuteTemplate(res.BodyWriter(), "layout.html", data); err != nil {
		res.ResetBody()
		return fmt.Errorf("render %s: %w", page, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Status(status)
	return nil
}

// renderBytes executes a page in the request's language.
func (h *Handlers) renderBytes(c *fiber.Ctx, page string, data any) ([]byte, error) {
	t, err := h.pageTemplate(c, page)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(16 << 10) // a page is 4-40 KB; fewer doublings
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		return nil, fmt.Errorf("render %s: %w", page, err)
	}
	return buf.Bytes(), nil
}

// RenderMail renders mail/NAME.txt: the first line is "Subject: …", then a
// blank line and the plain-text body.
func (r *Renderer) RenderMail(lang, name string, data any) (subject, body string, err error) {
	t, ok := r.mails[lang][name]
	if !ok {
		return "", "", fmt.Errorf("no mail template %q", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", "", err
	}
	head, rest, ok := strings.Cut(buf.String(), "\n\n")
	if !ok || !strings.HasPrefix(head, "Subject: ") {
		return "", "", fmt.Errorf("mail %s: first line must be 'Subject: …' followed by a blank line", name)
	}
	return strings.TrimPrefix(head, "Subject: "), strings.TrimSpace(rest) + "\n", nil
}

// RenderMailHTML renders mail/NAME.html, the optional HTML alternative of a
// mail (the plain-text part from RenderMail is always sent too); "" when
// the mail has no HTML template.
func (r *Renderer) RenderMailHTML(lang, name string, data any) (string, error) {
	t, ok := r.htmlMail[lang][name]
	if !ok {
		if t, ok = r.htmlMail[Languages[0]][name]; !ok {
			return "", nil
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// sendCSV answers a UTF-8 CSV download with a byte-order mark first: without
// it Excel (German Windows above all) opens the file as Windows-1252 and shows
// "BÃ¤ckerei" for "Bäckerei". LibreOffice and CSV parsers read it either way.
func sendCSV(c *fiber.Ctx, data []byte) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	return c.Send(append([]byte("\ufeff"), data...))
}
