package handlers

import (
	"errors"
	"html"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// The profile wizard's steps, in order; "review" submits.
var profileSteps = []string{"business", "address", "contact", "logo", "offer", "review"}

// merchantPage is every page of the owner's merchant area.
type merchantPage struct {
	Page
	Merchant *models.Merchant
	Step     string
	Steps    []string
	Q        string // "?m=slug", appended to the area's links and forms
	Missing  []string
	Staff    *models.StaffList
}

func (h *Handlers) merchantPage(c *fiber.Ctx, titleKey, step string) merchantPage {
	ms := merchantMemberOf(c)
	return merchantPage{Page: h.page(c, titleKey), Merchant: ms.Merchant, Step: step, Steps: profileSteps,
		Q: "?m=" + url.QueryEscape(ms.Merchant.Slug)}
}

// missingTexts translates the fields ProfileMissing names.
func (h *Handlers) missingTexts(lang string, v models.ValidationErrors) []string {
	var out []string
	for _, f := range []string{"name", "category", "description", "street", "postcode", "city", "contact_email", "offer", "redeem", "shop_url"} {
		if _, ok := v[f]; ok {
			out = append(out, h.r.T(lang, "merchant_profile.field."+f))
		}
	}
	return out
}

// stepForm returns the form values of a step as stored, for the GET page.
func stepForm(m *models.Merchant, step string) map[string]string {
	switch step {
	case "business":
		return map[string]string{"name": m.Name, "category": m.Category, "description": m.Description}
	case "address":
		return map[string]string{"street": m.Address, "postcode": m.Postcode, "city": m.City}
	case "contact":
		return map[string]string{"website": m.Website, "contact_email": m.ContactEmail, "opening_hours": m.OpeningHours}
	case "offer":
		f := map[string]string{"mode": m.OfferMode, "redeem": m.RedeemWhere, "shop_url": m.ShopURL, "instructions": m.RedeemInstructions}
		var steps []string
		for _, c := range m.OfferCents() {
			steps = append(steps, models.FormatEuros(c))
		}
		f["steps"] = strings.Join(steps, ", ")
		if m.OfferMaxCents > 0 {
			f["min"], f["max"] = models.FormatEuros(m.OfferMinCents), models.FormatEuros(m.OfferMaxCents)
		}
		if f["mode"] == "" {
			f["mode"] = models.OfferSteps
		}
		return f
	}
	return map[string]string{}
}

// ProfileStep shows one step of the wizard (GET /merchant/profile/:step);
// /merchant/profile shows the first.
func (h *Handlers) ProfileStep(c *fiber.Ctx) error {
	step := c.Params("step")
	if step == "" {
		step = profileSteps[0]
	}
	known := false
	for _, s := range profileSteps {
		known = known || s == step
	}
	if !known {
		return models.ErrNotFound
	}
	step = strings.Clone(step)
	return h.renderStep(c, fiber.StatusOK, step, stepForm(merchantMemberOf(c).Merchant, step), nil)
}

func (h *Handlers) renderStep(c *fiber.Ctx, status int, step string, form map[string]string, err error) error {
	p := h.merchantPage(c, "merchant_profile.step."+step, step)
	p.Page = h.withForm(p.Page, form, err)
	if step == "review" {
		missing := p.Merchant.ProfileMissing()
		var v models.ValidationErrors
		if errors.As(err, &v) {
			missing = v
		}
		p.Missing = h.missingTexts(p.Lang, missing)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "merchant_profile", p)
}

// nextStep is where a saved step continues.
func nextStep(step string) string {
	for i, s := range profileSteps {
		if s == step && i+1 < len(profileSteps) {
			return profileSteps[i+1]
		}
	}
	return "review"
}

// saveStepResult answers a step's POST: 422 with the step re-rendered and
// nothing saved, or 303 to the next step.
func (h *Handlers) saveStepResult(c *fiber.Ctx, step string, form map[string]string, err error) error {
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return h.renderStep(c, fiber.StatusUnprocessableEntity, step, form, err)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "profile_saved")
	return seeOther(c, "/merchant/profile/"+nextStep(step)+"?m="+url.QueryEscape(merchantMemberOf(c).Merchant.Slug))
}

// ProfileBusiness saves step 1.
func (h *Handlers) ProfileBusiness(c *fiber.Ctx) error {
	form := formValues(c, "name", "category", "description")
	err := h.store.SaveMerchantBusiness(c.UserContext(), merchantMemberOf(c).Merchant.ID,
		models.MerchantBusiness{Name: form["name"], Category: form["category"], Description: form["description"]}, models.UserActor(currentUser(c).ID))
	return h.saveStepResult(c, "business", form, err)
}

// ProfileAddress saves step 2.
func (h *Handlers) ProfileAddress(c *fiber.Ctx) error {
	form := formValues(c, "street", "postcode", "city")
	err := h.store.SaveMerchantAddress(c.UserContext(), h.places, merchantMemberOf(c).Merchant.ID,
		models.MerchantAddress{Street: form["street"], Postcode: form["postcode"], City: form["city"]}, models.UserActor(currentUser(c).ID))
	return h.saveStepResult(c, "address", form, err)
}

// ProfileContact saves step 3.
func (h *Handlers) ProfileContact(c *fiber.Ctx) error {
	form := formValues(c, "website", "contact_email", "opening_hours")
	err := h.store.SaveMerchantContact(c.UserContext(), merchantMemberOf(c).Merchant.ID,
		models.MerchantContact{Website: form["website"], ContactEmail: form["contact_email"], OpeningHours: form["opening_hours"]}, models.UserActor(currentUser(c).ID))
	return h.saveStepResult(c, "contact", form, err)
}

// ProfileOffer saves step 5.
func (h *Handlers) ProfileOffer(c *fiber.Ctx) error {
	form := formValues(c, "mode", "steps", "min", "max", "redeem", "shop_url", "instructions")
	err := h.store.SaveMerchantOffer(c.UserContext(), merchantMemberOf(c).Merchant.ID, models.MerchantOffer{
		Mode: form["mode"], Steps: form["steps"], Min: form["min"], Max: form["max"], Redeem: form["redeem"],
		ShopURL: form["shop_url"], Instructions: form["instructions"]}, models.UserActor(currentUser(c).ID))
	return h.saveStepResult(c, "offer", form, err)
}

// ProfileSubmit sends a complete profile to the platform team for review;
// an incomplete one gets 422 listing what is missing.
func (h *Handlers) ProfileSubmit(c *fiber.Ctx) error {
	m := merchantMemberOf(c).Merchant
	err := h.store.SubmitMerchantForReview(c.UserContext(), m.ID, models.UserActor(currentUser(c).ID))
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return h.renderStep(c, fiber.StatusUnprocessableEntity, "review", map[string]string{}, err)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "profile_submitted")
	return seeOther(c, "/merchant/profile/review?m="+url.QueryEscape(m.Slug))
}

type placeSuggestPage struct {
	Places []models.Place
}

// PlaceSuggest answers the address step's postcode field (htmx): the places
// whose postcodes start with what was typed, as <option>s of a datalist for
// the city field.
func (h *Handlers) PlaceSuggest(c *fiber.Ctx) error {
	q := strings.TrimSpace(c.Query("postcode"))
	if len(q) > 5 {
		q = q[:5]
	}
	var places []models.Place
	if len(q) >= 2 {
		seen := map[string]bool{}
		for _, p := range h.places.Suggest(q, 50) {
			if !seen[p.Name] && len(places) < 8 {
				seen[p.Name] = true
				places = append(places, p)
			}
		}
	}
	var b strings.Builder
	b.WriteString(`<datalist id="city-options">`)
	for _, p := range places {
		b.WriteString(`<option value="`)
		b.WriteString(html.EscapeString(p.Name))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(p.Postcode + " " + p.Name))
		b.WriteString(`</option>`)
	}
	b.WriteString(`</datalist>`)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "private, max-age=3600")
	return c.SendString(b.String())
}
