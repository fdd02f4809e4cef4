package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
	"trostpflaster/views/i18n"
)

// Languages the UI speaks; the first is the default (i18n.Languages).
var Languages = i18n.Languages()

// Renderer holds every page template, parsed once at start per language so a
// broken template fails the start, not a request.
type Renderer struct {
	pages map[string]map[string]*template.Template // lang → page → template
	cat   *i18n.Catalog
}

// NewRenderer parses layout.html, partials/*.html and each pages/*.html from
// fsys, with the template functions of each language from cat.
func NewRenderer(fsys fs.FS, cat *i18n.Catalog) (*Renderer, error) {
	r := &Renderer{pages: map[string]map[string]*template.Template{}, cat: cat}
	pageFiles, err := fs.Glob(fsys, "pages/*.html")
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
	}
	return r, nil
}

// T translates key into lang; args fill %s/%d verbs in the message.
func (r *Renderer) T(lang, key string, args ...any) string { return r.cat.T(lang, key, args...) }

// km formats a distance: "1,5 km" in German, "1.5 km" in English.
func (r *Renderer) km(lang string, d *float64) string { return i18n.Km(lang, d) }

// funcs are the page template functions of lang: the catalogue's (t, money,
// km) and the ones only pages use.
func (r *Renderer) funcs(lang string) template.FuncMap {
	funcs := template.FuncMap(r.cat.Funcs(lang))
	funcs["local"] = models.InBerlin // times on pages are German time, like the till and the report
	funcs["categories"] = func() []string { return models.Categories }
	funcs["randomKey"] = models.NewRandomKey // one-time form keys (a double submit acts once)
	funcs["lines"] = func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
	funcs["dict"] = func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	}
	return funcs
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

// sendCSV answers a UTF-8 CSV download with a byte-order mark first: without
// it Excel (German Windows above all) opens the file as Windows-1252 and shows
// "BÃ¤ckerei" for "Bäckerei". LibreOffice and CSV parsers read it either way.
func sendCSV(c *fiber.Ctx, data []byte) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	return c.Send(append([]byte("\ufeff"), data...))
}
