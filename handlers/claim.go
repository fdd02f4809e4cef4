package handlers

import (
	"encoding/json"
	"errors"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// claimHeaders keep a claim link out of caches, referrers and search
// engines: the token in the path is the key to the voucher.
func claimHeaders(c *fiber.Ctx) {
	c.Set("Referrer-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Robots-Tag", "noindex, nofollow")
}

// claimPageData is the claim page: the partners offered before the claim,
// the voucher (code, QR) after it.
type claimPageData struct {
	Page
	Gift      *models.Gift
	Merchants []claimPartner
	// Partner is the chosen partner as a card (logo), once claimed.
	Partner *claimPartner
	Token   string
	Code    string
	QR      template.URL
	Print   bool
}

// ClaimPage is the recipient's link: before the claim it offers the
// partner(s); afterwards it is the voucher itself (code, QR, balance,
// expiry, how to redeem). ?print=1 is the print view.
//
// The claimed voucher, the busiest page, is served from the claim page
// cache (claim_cache.go) while the gift's version — one small query — is
// the one it was rendered at; only the visitor's CSRF token is put in.
// Pages that vary otherwise (a session, a flash message, another query)
// are rendered as before.
func (h *Handlers) ClaimPage(c *fiber.Ctx) error {
	claimHeaders(c)
	token := c.Params("token") // request memory: cloned only where it is kept (the cache key)
	key, csrf, cacheable := h.claimPageKey(c, token)
	var ver models.ClaimPageVersion
	if cacheable {
		v, err := h.store.ClaimPageVersionOf(c.UserContext(), token)
		if errors.Is(err, models.ErrNotFound) {
			return err // as ClaimPageGift would answer
		}
		if cacheable = err == nil && v.Voucher(h.store.Now()); cacheable {
			if parts, ok := h.claims.get(key, v); ok {
				return sendClaimPage(c, parts, csrf)
			}
			ver = v
		}
	}
	g, err := h.store.ClaimPageGift(c.UserContext(), token)
	if err != nil {
		return err
	}
	// The version was read before the gift, so the page is at least as new
	// as the version it is stored under; a later change misses.
	if !cacheable || g.ID != ver.GiftID || g.Merchant == nil || g.CodeHash == nil {
		return h.renderClaim(c, fiber.StatusOK, g, token, nil)
	}
	p, err := h.claimPageData(c, g, token, nil)
	if err != nil {
		return err
	}
	p.CSRF = string(h.claims.sentinel)
	page, err := h.renderBytes(c, "claim", p)
	if err != nil {
		return err
	}
	key.token = strings.Clone(token)
	return sendClaimPage(c, h.claims.put(key, ver, page), csrf)
}

// claimPageKey tells whether this request's claim page may come from the
// cache, and under which key: a GET of exactly /c/TOKEN or
// /c/TOKEN?print=1 (so the page's links and language switch target are
// functions of the key), without a session cookie (no user, no menu) or a
// flash message, with a CSRF token that appears in HTML unchanged.
func (h *Handlers) claimPageKey(c *fiber.Ctx, token string) (claimKey, string, bool) {
	if !h.claims.enabled() || c.Cookies(cookieSession) != "" || c.Cookies(cookieFlash) != "" || c.Locals(localUser) != nil {
		return claimKey{}, "", false
	}
	csrf, _ := c.Locals(localCSRF).(string)
	if !tokenSafe(csrf) || !tokenSafe(token) {
		return claimKey{}, "", false
	}
	var print bool
	switch q := c.Request().URI().QueryString(); string(q) {
	case "":
	case "print=1":
		print = true
	default:
		return claimKey{}, "", false
	}
	path, orig := c.Path(), c.OriginalURL()
	if len(path) != len("/c/")+len(token) || path[:3] != "/c/" || path[3:] != token ||
		!strings.HasPrefix(orig, path) || (orig[len(path):] != "" && orig[len(path):] != "?print=1") {
		return claimKey{}, "", false
	}
	lang := langOf(c)
	for _, l := range Languages {
		if l == lang {
			return claimKey{token: token, lang: l, print: print}, csrf, true
		}
	}
	return claimKey{}, "", false
}

// sendClaimPage writes a cached claim page with the visitor's CSRF token,
// as render would (the claim headers are already set).
func sendClaimPage(c *fiber.Ctx, parts [][]byte, csrf string) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Status(fiber.StatusOK)
	res := c.Response()
	res.ResetBody()
	for i, p := range parts {
		if i > 0 {
			res.AppendBodyString(csrf)
		}
		res.AppendBody(p)
	}
	return nil
}

func (h *Handlers) claimPageData(c *fiber.Ctx, g *models.Gift, token string, err error) (claimPageData, error) {
	p := claimPageData{Page: h.withForm(h.page(c, "voucher.title"), nil, err), Gift: g, Token: token, Print: c.Query("print") == "1"}
	if g.CodeHash != nil && g.Merchant != nil {
		// Claimed: the voucher shows its partner only (the offers are not
		// loaded for it, models.ClaimPageGift). A gift for one named partner
		// has its merchant before the claim too, and is offered like a choice
		// of one until the recipient takes it.
		p.Partner = &claimPartner{Merchant: *g.Merchant, ShowLogo: g.Merchant.HasLogo() && g.Merchant.Status == models.MerchantApproved, Initial: initial(g.Merchant.Name)}
	} else {
		p.Merchants = h.claimPartners(g)
	}
	if g.CodeHash != nil {
		p.Code = h.store.VoucherCode(g)
		qr, qerr := h.qr.dataURL(p.Code)
		if qerr != nil {
			return p, qerr
		}
		p.QR = qr
	}
	return p, nil
}

func (h *Handlers) renderClaim(c *fiber.Ctx, status int, g *models.Gift, token string, err error) error {
	p, perr := h.claimPageData(c, g, token, err)
	if perr != nil {
		return perr
	}
	return h.render(c, status, "claim", p)
}

// ClaimChoose binds the gift to the chosen partner and shows the voucher.
func (h *Handlers) ClaimChoose(c *fiber.Ctx) error {
	claimHeaders(c)
	token := strings.Clone(c.Params("token"))
	id, _ := strconv.ParseUint(c.FormValue("merchant_id"), 10, 32)
	_, _, err := h.store.ClaimGift(c.UserContext(), token, uint(id))
	var v models.ValidationErrors
	if errors.As(err, &v) {
		g, gerr := h.store.GiftByClaimToken(c.UserContext(), token)
		if gerr != nil {
			return gerr
		}
		return h.renderClaim(c, fiber.StatusUnprocessableEntity, g, token, err)
	}
	if err != nil {
		return err
	}
	return seeOther(c, "/c/"+token)
}

// ClaimFeedback stores the recipient's answer to "Did this make up for it?".
func (h *Handlers) ClaimFeedback(c *fiber.Ctx) error {
	claimHeaders(c)
	token := strings.Clone(c.Params("token"))
	if _, err := h.store.GiveFeedback(c.UserContext(), token, c.FormValue("feedback")); err != nil {
		return err
	}
	return seeOther(c, "/c/"+token)
}

type apiVoucher struct {
	Code         string    `json:"code"`
	BalanceCents int64     `json:"balance_cents"`
	Currency     string    `json:"currency"`
	MerchantID   uint      `json:"merchant_id"`
	Status       string    `json:"status"`
	ExpiresAt    time.Time `json:"expires_at"`
}

type apiClaimMerchant struct {
	ID           uint     `json:"id"`
	Slug         string   `json:"slug"`
	Name         string   `json:"name"`
	Category     string   `json:"category"`
	Address      string   `json:"address"`
	Postcode     string   `json:"postcode"`
	City         string   `json:"city"`
	Website      string   `json:"website"`
	OpeningHours string   `json:"opening_hours"`
	RedeemWhere  string   `json:"redeem_where"`
	ShopURL      string   `json:"shop_url"`
	LogoURL      string   `json:"logo_url,omitempty"`
	DistanceKm   *float64 `json:"distance_km,omitempty"`
}

func (h *Handlers) apiVoucherOf(g *models.Gift) *apiVoucher {
	if g.CodeHash == nil || g.MerchantID == nil {
		return nil
	}
	return &apiVoucher{Code: h.store.VoucherCode(g), BalanceCents: g.BalanceCents, Currency: g.Currency,
		MerchantID: *g.MerchantID, Status: g.Status, ExpiresAt: g.ExpiresAt}
}

// APIClaim is the claim link as JSON, for wallets and integrations.
func (h *Handlers) APIClaim(c *fiber.Ctx) error {
	claimHeaders(c)
	g, err := h.store.GiftByClaimToken(c.UserContext(), strings.Clone(c.Params("token")))
	if err != nil {
		return err
	}
	out := struct {
		Status      string             `json:"status"`
		AmountCents int64              `json:"amount_cents"`
		Currency    string             `json:"currency"`
		Company     string             `json:"company"`
		Message     string             `json:"message"`
		ExpiresAt   time.Time          `json:"expires_at"`
		Merchants   []apiClaimMerchant `json:"merchants"`
		Voucher     *apiVoucher        `json:"voucher,omitempty"`
	}{Status: g.Status, AmountCents: g.AmountCents, Currency: g.Currency, Company: g.Company.Name, Message: g.Message,
		ExpiresAt: g.ExpiresAt, Merchants: []apiClaimMerchant{}, Voucher: h.apiVoucherOf(g)}
	for _, m := range h.claimPartners(g) {
		am := apiClaimMerchant{ID: m.ID, Slug: m.Slug, Name: m.Name, Category: m.Category, Address: m.Address, Postcode: m.Postcode,
			City: m.City, Website: m.Website, OpeningHours: m.OpeningHours, RedeemWhere: m.RedeemWhere, ShopURL: m.ShopURL}
		if m.ShowLogo {
			am.LogoURL = "/partner/" + m.Slug + "/logo?v=" + m.LogoHash
		}
		if m.DistanceKm != nil {
			d := math.Round(*m.DistanceKm*10) / 10
			am.DistanceKm = &d
		}
		out.Merchants = append(out.Merchants, am)
	}
	return c.JSON(out)
}

// APIClaimCreate claims the gift for a partner: 201 the first time, 200
// with the same voucher afterwards.
func (h *Handlers) APIClaimCreate(c *fiber.Ctx) error {
	claimHeaders(c)
	var in struct {
		MerchantID uint `json:"merchant_id"`
	}
	if len(c.Body()) > 0 {
		if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
			return fiber.ErrUnsupportedMediaType
		}
		if err := json.Unmarshal(c.Body(), &in); err != nil {
			return models.ValidationErrors{"merchant_id": models.MsgInvalid}
		}
	}
	g, created, err := h.store.ClaimGift(c.UserContext(), strings.Clone(c.Params("token")), in.MerchantID)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(fiber.Map{"voucher": h.apiVoucherOf(g)})
}
