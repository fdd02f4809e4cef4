package handlers

import (
	"errors"
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type catalogPage struct {
	Page
	Hits []models.CatalogHit
	// Cards are Hits as partner cards (catalog_cards.go).
	Cards template.HTML
	// The filters' choices as <option> elements (optionsHTML).
	CityOptions, CategoryOptions template.HTML
	Cities                       []string
	Next                         string
	Query                        models.CatalogQuery
	NextLink                     string
}

// selectOption is one <option> of a filter.
type selectOption struct {
	Value, Label string
	Selected     bool
}

// optionsHTML writes opts as <option> elements, escaped. The catalog's city
// filter has up to 60 of them, and a template range over them cost a tenth
// of the page (make bench, catalog_page).
func optionsHTML(opts []selectOption) template.HTML {
	var b strings.Builder
	for _, o := range opts {
		b.WriteString(`<option value="`)
		b.WriteString(template.HTMLEscapeString(o.Value))
		b.WriteByte('"')
		if o.Selected {
			b.WriteString(" selected")
		}
		b.WriteByte('>')
		b.WriteString(template.HTMLEscapeString(o.Label))
		b.WriteString("</option>")
	}
	return template.HTML(b.String())
}

func catalogQuery(c *fiber.Ctx) models.CatalogQuery {
	return models.CatalogQuery{
		Region:   strings.Clone(c.Query("region")),
		City:     strings.Clone(c.Query("city")),
		Category: strings.Clone(c.Query("category")),
		Q:        strings.Clone(c.Query("q")),
		Near:     strings.Clone(c.Query("near")),
		Cursor:   strings.Clone(c.Query("cursor")),
	}
}

// Home explains the idea in a sentence and shows the region's partners.
func (h *Handlers) Home(c *fiber.Ctx) error {
	hits, _, err := h.store.SearchMerchants(c.UserContext(), h.places, models.CatalogQuery{Limit: 6})
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "home", catalogPage{Page: h.page(c, "home.title"), Hits: hits, Cards: h.catalogCards(langOf(c), hits)})
}

// Catalog lists approved partners, filterable by city, category and text, and
// ordered by distance when "near" is given. Bad filters re-render with 422.
func (h *Handlers) Catalog(c *fiber.Ctx) error {
	q := catalogQuery(c)
	cities, err := h.store.CatalogCities(c.UserContext())
	if err != nil {
		return err
	}
	p := catalogPage{Page: h.page(c, "catalog.title"), Cities: cities, Query: q}
	p.Form = map[string]string{"q": q.Q, "city": q.City, "category": q.Category, "near": q.Near}
	lang := langOf(c)
	cityOpts := make([]selectOption, len(cities))
	for i, city := range cities {
		cityOpts[i] = selectOption{Value: city, Label: city, Selected: city == q.City}
	}
	catOpts := make([]selectOption, len(models.Categories))
	for i, cat := range models.Categories {
		catOpts[i] = selectOption{Value: cat, Label: h.r.T(lang, "category."+cat), Selected: cat == q.Category}
	}
	p.CityOptions, p.CategoryOptions = optionsHTML(cityOpts), optionsHTML(catOpts)
	hits, next, err := h.store.SearchMerchants(c.UserContext(), h.places, q)
	var v models.ValidationErrors
	if errors.As(err, &v) {
		p.Page = h.withForm(p.Page, p.Form, err)
		return h.render(c, fiber.StatusUnprocessableEntity, "catalog", p)
	}
	if err != nil {
		return err
	}
	p.Hits, p.Next = hits, next
	p.Cards = h.catalogCards(lang, hits)
	if next != "" {
		args := c.Request().URI().QueryArgs()
		args.Set("cursor", next)
		p.NextLink = "/partners?" + string(args.QueryString())
	}
	return h.render(c, fiber.StatusOK, "catalog", p)
}

type partnerPage struct {
	Page
	Merchant *models.Merchant
}

// Partner is a merchant's public profile. Merchants that are not approved are
// not public: 404 for everyone except their own members and platform admins.
func (h *Handlers) Partner(c *fiber.Ctx) error {
	m, err := h.store.MerchantBySlug(c.UserContext(), strings.Clone(c.Params("slug")))
	if err != nil {
		return err
	}
	p := h.page(c, "")
	if m.Status != models.MerchantApproved && !canSeeMerchant(p, m.ID) {
		return models.ErrNotFound
	}
	p.Title = m.Name
	return h.render(c, fiber.StatusOK, "partner", partnerPage{Page: p, Merchant: m})
}

func canSeeMerchant(p Page, merchantID uint) bool {
	if p.User != nil && p.User.IsPlatformAdmin {
		return true
	}
	for _, ms := range p.Memberships {
		if ms.MerchantID != nil && *ms.MerchantID == merchantID {
			return true
		}
	}
	return false
}

type apiMerchant struct {
	ID         uint     `json:"id"`
	Slug       string   `json:"slug"`
	Name       string   `json:"name"`
	Category   string   `json:"category"`
	City       string   `json:"city"`
	Postcode   string   `json:"postcode"`
	Lat        float64  `json:"lat"`
	Lng        float64  `json:"lng"`
	DistanceKm *float64 `json:"distance_km,omitempty"`
}

// APIMerchants is the public partner catalog as JSON.
func (h *Handlers) APIMerchants(c *fiber.Ctx) error {
	q := catalogQuery(c)
	if l := c.Query("limit"); l != "" {
		n, err := parseSmallInt(l)
		if err != nil || n == 0 {
			return models.ValidationErrors{"limit": models.MsgInvalid}
		}
		q.Limit = n
	}
	hits, next, err := h.store.SearchMerchants(c.UserContext(), h.places, q)
	if err != nil {
		return err
	}
	out := apiList[apiMerchant]{Data: make([]apiMerchant, 0, len(hits)), NextCursor: next}
	for _, m := range hits {
		d := m.DistanceKm
		if d != nil {
			r := float64(int64(*d*10+0.5)) / 10
			d = &r
		}
		out.Data = append(out.Data, apiMerchant{ID: m.ID, Slug: m.Slug, Name: m.Name, Category: m.Category,
			City: m.City, Postcode: m.Postcode, Lat: m.Lat, Lng: m.Lng, DistanceKm: d})
	}
	return c.JSON(out)
}
