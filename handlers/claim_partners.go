package handlers

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"trostpflaster/models"
)

// claimPartner is one partner card on the claim page: the merchant plus
// what the recipient needs to choose on a phone (distance, logo or a
// monogram when there is none).
type claimPartner struct {
	models.Merchant
	// DistanceKm is the distance from the place the gift was sent "near"
	// (the customer's postcode or town); nil when that is unknown, and
	// then the card shows none rather than a guess.
	DistanceKm *float64
	// ShowLogo is true when the merchant has a logo that /partner/{slug}/logo
	// serves publicly (approved merchants only).
	ShowLogo bool
	Initial  string
}

// claimPartners prepares the offered partners of g for the claim page.
// Companies keep no address, so the only origin for a distance is the
// gift's "near" place.
func (h *Handlers) claimPartners(g *models.Gift) []claimPartner {
	var origin *models.Place
	if g.Near != "" && h.places != nil {
		if p, ok := h.places.Resolve(g.Near); ok {
			origin = &p
		}
	}
	ms := g.OfferedMerchants()
	out := make([]claimPartner, 0, len(ms))
	for _, m := range ms {
		p := claimPartner{Merchant: m, ShowLogo: m.HasLogo() && m.Status == models.MerchantApproved, Initial: initial(m.Name)}
		if origin != nil && (m.Lat != 0 || m.Lng != 0) {
			d := models.DistanceKm(origin.Lat, origin.Lng, m.Lat, m.Lng)
			p.DistanceKm = &d
		}
		out = append(out, p)
	}
	return out
}

// initial is the first letter of a name, upper case, for the monogram of a
// partner without a logo.
func initial(name string) string {
	for _, r := range strings.TrimSpace(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	r, _ := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError {
		return "?"
	}
	return string(r)
}
