package handlers

import (
	"html/template"
	"strings"
	"time"

	"trostpflaster/models"
)

// catalogCards writes the partner cards of the catalog and home page. They
// are written here rather than by a template partial: a page shows 24 of
// them, and executing a partial for each (reflection on the large Merchant
// struct, a function call per escaped field) was most of the page's time
// and allocations (make bench, catalog_page). Every field is escaped.
func (h *Handlers) catalogCards(lang string, hits []models.CatalogHit) template.HTML {
	var b strings.Builder
	b.Grow(len(hits) * 512)
	now := time.Now()
	esc := func(s string) { template.HTMLEscape(&b, []byte(s)) }
	for i := range hits {
		m, d := hits[i].Merchant, hits[i].DistanceKm
		b.WriteString("\n<li class=\"card\">\n  ")
		if m.HasLogo() {
			b.WriteString(`<img class="logo logo-sm" src="/partner/`)
			esc(m.Slug)
			b.WriteString(`/logo?v=`)
			esc(m.LogoHash)
			b.WriteString(`" alt="" width="48" height="48" loading="lazy">`)
		}
		b.WriteString("\n  <span class=\"badge\">")
		esc(h.r.T(lang, "category."+m.Category))
		b.WriteString("</span>")
		if m.PausedAt(now) {
			b.WriteString(` <span class="badge muted paused">`)
			esc(h.r.T(lang, "merchant_profile.partner.paused"))
			b.WriteString("</span>")
		}
		b.WriteString("\n  <h3><a href=\"/partner/")
		esc(m.Slug)
		b.WriteString(`">`)
		esc(m.Name)
		b.WriteString("</a></h3>\n  <p class=\"meta\">")
		esc(m.Postcode)
		b.WriteByte(' ')
		esc(m.City)
		if d != nil {
			b.WriteString(" · ")
			esc(h.r.km(lang, d))
		}
		b.WriteString("</p>\n  ")
		if m.Description != "" {
			b.WriteString("<p>")
			esc(m.Description)
			b.WriteString("</p>")
		}
		b.WriteString("\n</li>")
	}
	return template.HTML(b.String())
}
