package handlers

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// stripeOwnedMerchant picks the merchant the logged-in user owns: the one
// named by ?m=slug, else the first. Staff get ErrForbidden (payout settings
// are the owner's), users without a merchant ErrNotFound.
func stripeOwnedMerchant(c *fiber.Ctx) (*models.Merchant, error) {
	ms, _ := c.Locals(localMemberships).([]models.Membership)
	want := c.Query("m")
	staff := false
	for _, m := range ms {
		if m.MerchantID == nil || m.Merchant == nil || (want != "" && m.Merchant.Slug != want) {
			continue
		}
		if m.Role != models.RoleMerchantOwner {
			staff = true
			continue
		}
		return m.Merchant, nil
	}
	if staff {
		return nil, models.ErrForbidden
	}
	return nil, models.ErrNotFound
}

type stripePage struct {
	Page
	Merchant     *models.Merchant
	Configured   bool
	Returned     bool     // back from Stripe's onboarding
	Requirements []string // readable texts of requirements.currently_due
	Unavailable  bool     // Stripe could not be reached just now
}

// StripeSetup shows the payout set-up page ("Auszahlungen einrichten").
func (h *Handlers) StripeSetup(c *fiber.Ctx) error {
	m, err := stripeOwnedMerchant(c)
	if err != nil {
		return err
	}
	if m, err = h.store.MerchantStripeStatus(c.UserContext(), m.ID); err != nil {
		return err
	}
	return h.renderStripe(c, fiber.StatusOK, m, false, false)
}

// StripeConnect creates the connected account on the first click and sends
// the owner to Stripe's onboarding (303 to the Account Link).
func (h *Handlers) StripeConnect(c *fiber.Ctx) error {
	m, err := stripeOwnedMerchant(c)
	if err != nil {
		return err
	}
	if h.opt.Connect == nil {
		return h.renderStripe(c, fiber.StatusServiceUnavailable, m, false, false)
	}
	link, err := h.store.StripeOnboardingLink(c.UserContext(), h.opt.Connect, m.ID, h.opt.BaseURL)
	if err != nil {
		return h.stripeFailed(c, m, err)
	}
	return c.Redirect(link, fiber.StatusSeeOther)
}

// StripeRefresh is Stripe's refresh_url: the old link expired or was used,
// so a new one is made and the owner sent on. Being a GET, it never creates
// an account; without one it shows the set-up page.
func (h *Handlers) StripeRefresh(c *fiber.Ctx) error {
	m, err := stripeOwnedMerchant(c)
	if err != nil {
		return err
	}
	if m, err = h.store.MerchantStripeStatus(c.UserContext(), m.ID); err != nil {
		return err
	}
	if !m.StripeConnected() || h.opt.Connect == nil {
		return seeOther(c, "/merchant/stripe?m="+url.QueryEscape(m.Slug))
	}
	return h.StripeConnect(c)
}

// StripeReturn is Stripe's return_url: it re-fetches the account (the
// webhook may not have arrived yet), stores the flags and shows what Stripe
// still needs.
func (h *Handlers) StripeReturn(c *fiber.Ctx) error {
	m, err := stripeOwnedMerchant(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if m, err = h.store.MerchantStripeStatus(ctx, m.ID); err != nil {
		return err
	}
	if h.opt.Connect == nil || !m.StripeConnected() {
		return h.renderStripe(c, fiber.StatusOK, m, true, false)
	}
	st, err := h.opt.Connect.ConnectedAccount(ctx, m.StripeAccount())
	if err != nil {
		return h.stripeFailed(c, m, err)
	}
	switch updated, err := h.store.SetStripeAccountState(ctx, *st); {
	case err == nil:
		m = updated
	case errors.Is(err, models.ErrStaleState): // a newer webhook got there first
		if m, err = h.store.MerchantStripeStatus(ctx, m.ID); err != nil {
			return err
		}
	default:
		return err
	}
	return h.renderStripe(c, fiber.StatusOK, m, true, false)
}

// stripeFailed logs a Stripe failure and shows the page with a calm notice
// (502), never Stripe's error text.
func (h *Handlers) stripeFailed(c *fiber.Ctx, m *models.Merchant, err error) error {
	if errors.Is(err, models.ErrNotFound) {
		return err
	}
	h.log.Error("stripe onboarding failed", "merchant", m.ID, "err", err)
	return h.renderStripe(c, fiber.StatusBadGateway, m, false, true)
}

func (h *Handlers) renderStripe(c *fiber.Ctx, status int, m *models.Merchant, returned, unavailable bool) error {
	p := stripePage{Page: h.page(c, "stripe.title"), Merchant: m, Configured: h.opt.Connect != nil,
		Returned: returned, Unavailable: unavailable}
	p.Requirements = h.stripeRequirementTexts(p.Lang, m.CurrentlyDue())
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "stripe_connect", p)
}

// stripeRequirementTexts turns Stripe's currently_due field names into
// readable texts where a translation exists ("individual.dob.day" →
// "Geburtsdatum"), else keeps the field name; duplicates are merged.
func (h *Handlers) stripeRequirementTexts(lang string, fields []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fields {
		key := f
		// Persons are named by id ("person_1A2b.first_name"); translate
		// the field after the id.
		if strings.HasPrefix(key, "person_") {
			if _, rest, ok := strings.Cut(key, "."); ok {
				key = "individual." + rest
			}
		}
		text := f
		for k := key; k != ""; {
			if t := h.r.T(lang, "stripe.req."+k); t != "stripe.req."+k {
				text = t
				break
			}
			i := strings.LastIndexByte(k, '.')
			if i < 0 {
				break
			}
			k = k[:i]
		}
		if !seen[text] {
			seen[text] = true
			out = append(out, text)
		}
	}
	return out
}

type merchantAPIOut struct {
	ID               uint   `json:"id"`
	Slug             string `json:"slug"`
	Name             string `json:"name"`
	StripeAccountID  string `json:"stripe_account_id"`
	ChargesEnabled   bool   `json:"charges_enabled"`
	PayoutsEnabled   bool   `json:"payouts_enabled"`
	PayableCents     int64  `json:"payable_cents"`
	Currency         string `json:"currency"`
	DetailsSubmitted bool   `json:"details_submitted"`
}

// APIMerchantSelf returns the merchant the API key belongs to (and only
// that one: the id comes from the key, never from the request).
func (h *Handlers) APIMerchantSelf(c *fiber.Ctx) error {
	k := apiKeyOf(c)
	if k == nil || k.MerchantID == nil {
		return models.ErrInvalidCredentials
	}
	ctx := c.UserContext()
	m, err := h.store.MerchantStripeStatus(ctx, *k.MerchantID)
	if err != nil {
		return err
	}
	payable, err := h.store.AccountBalance(ctx, models.AccountMerchantPayable(m.ID))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(merchantAPIOut{ID: m.ID, Slug: m.Slug, Name: m.Name, StripeAccountID: m.StripeAccount(),
		ChargesEnabled: m.ChargesEnabled, PayoutsEnabled: m.PayoutsEnabled, PayableCents: payable,
		Currency: m.Region.Currency, DetailsSubmitted: m.DetailsSubmitted})
}
