package handlers

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"html/template"
	"strings"
	"sync"
	"time"

	"trostpflaster/models"
)

// cardCache holds partner cards of the catalog ("merchant_card") rendered
// once per partner, language and variant: a catalog page shows 24 cards, and
// executing the partial for each was most of the page's time (make bench,
// catalog_page). A card is keyed by a fingerprint of every field it shows,
// so an edited partner gets a new card at once; the distance, which differs
// per query, is filled in at the placeholder kmSlot. The cache is bounded
// and cleared when full, like qrCache.
type cardCache struct {
	mu  sync.RWMutex
	m   map[cardKey]cardParts
	max int
}

type cardKey struct {
	fingerprint uint64
	lang        string
	paused      bool
	distance    bool
}

// cardParts is a card split at the distance (after is "" without one).
type cardParts struct{ before, after string }

// kmSlot is where a card rendered for the cache gets its distance: km
// prints kmSlotText for it, which html/template leaves unchanged.
var kmSlot = new(float64)

const kmSlotText = "tp-distance-slot-5c0f1e"

func newCardCache(max int) *cardCache {
	return &cardCache{m: map[cardKey]cardParts{}, max: max}
}

// cardFingerprint hashes what merchant_card shows of m.
func cardFingerprint(m *models.Merchant) uint64 {
	f := fnv.New64a()
	for _, s := range []string{m.Slug, m.Name, m.Category, m.Postcode, m.City, m.Description, m.LogoHash} {
		f.Write([]byte(s))
		f.Write([]byte{0})
	}
	fmt.Fprint(f, m.ID)
	return f.Sum64()
}

// catalogCards renders hits as merchant_card in lang, from the cache where
// it can.
func (h *Handlers) catalogCards(lang string, hits []models.CatalogHit) ([]template.HTML, error) {
	t, ok := h.r.pages[lang]["catalog"]
	if !ok {
		return nil, fmt.Errorf("no template %q", "catalog")
	}
	now := time.Now()
	out := make([]template.HTML, 0, len(hits))
	for i := range hits {
		hit := &hits[i]
		key := cardKey{fingerprint: cardFingerprint(hit.Merchant), lang: lang, paused: hit.PausedAt(now), distance: hit.DistanceKm != nil}
		h.cards.mu.RLock()
		parts, ok := h.cards.m[key]
		h.cards.mu.RUnlock()
		if !ok {
			var err error
			if parts, err = h.renderCard(t, lang, hit, key.paused, key.distance); err != nil {
				return nil, err
			}
			h.cards.mu.Lock()
			if len(h.cards.m) >= h.cards.max {
				clear(h.cards.m)
			}
			h.cards.m[key] = parts
			h.cards.mu.Unlock()
		}
		card := parts.before
		if key.distance {
			card += template.HTMLEscapeString(h.r.km(lang, hit.DistanceKm)) + parts.after
		}
		out = append(out, template.HTML(card))
	}
	return out, nil
}

// cardView is what merchant_card shows, flat and ready to print (so the
// template does not search the large Merchant struct by reflection).
type cardView struct {
	URL, LogoURL, Name, Category, Postcode, City, Description string
	Paused                                                    bool
	DistanceKm                                                *float64
}

// renderCard executes merchant_card for hit, with the distance slot in
// place of its distance.
func (h *Handlers) renderCard(t *template.Template, lang string, hit *models.CatalogHit, paused, distance bool) (cardParts, error) {
	m := hit.Merchant
	c := cardView{URL: "/partner/" + m.Slug, Name: m.Name, Category: h.r.T(lang, "category."+m.Category),
		Postcode: m.Postcode, City: m.City, Description: m.Description, Paused: paused}
	if m.HasLogo() {
		c.LogoURL = "/partner/" + m.Slug + "/logo?v=" + m.LogoHash
	}
	if distance {
		c.DistanceKm = kmSlot
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "merchant_card", c); err != nil {
		return cardParts{}, fmt.Errorf("render merchant_card: %w", err)
	}
	s := buf.String()
	if !distance {
		return cardParts{before: s}, nil
	}
	before, after, ok := strings.Cut(s, kmSlotText)
	if !ok {
		return cardParts{}, fmt.Errorf("merchant_card does not show the distance through km")
	}
	return cardParts{before: before, after: after}, nil
}
