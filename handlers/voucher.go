package handlers

import (
	"encoding/json"
	"errors"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

func claimHeaders(c *fiber.Ctx) {
	c.Set("Referrer-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Robots-Tag", "noindex, nofollow")
}

type voucherPage struct {
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
		return h.renderVoucher(c, fiber.StatusOK, g, token, nil)
	}
	p, err := h.voucherPage(c, g, token, nil)
	if err != nil {
		return err
	}
	p.CSRF = string(h.claims.sentinel)
	page, err := h.renderBytes(c, "voucher", p)
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

func (h *Handlers) voucherPage(c *fiber.Ctx, g *models.Gift, token string, err error) (voucherPage, error) {
	p := voucherPage{Page: h.withForm(h.page(c, "voucher.title"), nil, err), Gift: g, Token: token, Print: c.Query("print") == "1"}
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

func (h *Handlers) renderVoucher(c *fiber.Ctx, status int, g *models.Gift, token string, err error) error {
	p, perr := h.voucherPage(c, g, token, err)
	if perr != nil {
		return perr
	}
	return h.render(c, status, "voucher", p)
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
		return h.renderVoucher(c, fiber.StatusUnprocessableEntity, g, token, err)
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

// codeParam is the voucher code from the path, unescaped ("7k3m%200q9x…"
// from a shop that URL-encodes what the customer typed).
func codeParam(c *fiber.Ctx) string {
	raw := c.Params("code")
	if s, err := url.PathUnescape(raw); err == nil {
		return s
	}
	return strings.Clone(raw)
}

// FailureLimit counts failed look-ups (answers 404) per key and, once max is
// reached within window, answers 429 with Retry-After until the window has
// passed. Successful requests are never counted or delayed, so a busy till
// or many customers behind one office IP are not locked out; only guessing
// is. Counters live in the shared kv table, so every instance agrees.
//
// A key found with no failures is remembered as clean for a second, so a
// busy claim page or till does not read the kv table on every request (it
// was a sixth of the claim page's time, make bench); a failure counted here
// forgets it at once, one counted by another instance is seen within that
// second.
//
// The key is stored (kv table): it names the client (IP, API key id, user
// id), never a secret such as the Authorization header or a session cookie.
func (h *Handlers) FailureLimit(prefix string, key func(*fiber.Ctx) string, max int64, window time.Duration) fiber.Handler {
	clean := newCleanMemo(time.Second, 10_000)
	count := func(c *fiber.Ctx, k string) int64 {
		b, err := h.store.KVGet(c.UserContext(), k)
		if err != nil || b == nil {
			return 0
		}
		n, _ := strconv.ParseInt(string(b), 10, 64)
		return n
	}
	return func(c *fiber.Ctx) error {
		k := "fail:" + prefix + ":" + key(c)
		if !clean.has(k) {
			n := count(c, k)
			if n >= max {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(window.Seconds())))
				return fiber.ErrTooManyRequests
			}
			if n == 0 {
				clean.add(k)
			}
		}
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			status, _ = classify(err)
		}
		if status == fiber.StatusNotFound {
			clean.forget(k)
			if _, serr := h.store.KVIncr(c.UserContext(), k, window); serr != nil {
				h.log.Warn("counting a failed look-up", "err", serr)
			}
		}
		return err
	}
}

// cleanMemo remembers keys known to have no failures, each for ttl, up to
// max keys (then it starts afresh).
type cleanMemo struct {
	mu  sync.Mutex
	m   map[string]time.Time
	ttl time.Duration
	max int
}

func newCleanMemo(ttl time.Duration, max int) *cleanMemo {
	return &cleanMemo{m: map[string]time.Time{}, ttl: ttl, max: max}
}

func (m *cleanMemo) has(k string) bool {
	m.mu.Lock()
	until, ok := m.m[k]
	m.mu.Unlock()
	return ok && time.Now().Before(until)
}

func (m *cleanMemo) add(k string) {
	m.mu.Lock()
	if len(m.m) >= m.max {
		clear(m.m)
	}
	m.m[k] = time.Now().Add(m.ttl)
	m.mu.Unlock()
}

func (m *cleanMemo) forget(k string) {
	m.mu.Lock()
	delete(m.m, k)
	m.mu.Unlock()
}

func merchantKeyID(c *fiber.Ctx) (uint, *uint) {
	k := apiKeyOf(c)
	return *k.MerchantID, &k.ID
}

// APIVoucher tells a partner's shop the balance of a code.
func (h *Handlers) APIVoucher(c *fiber.Ctx) error {
	mid, _ := merchantKeyID(c)
	g, err := h.store.VoucherForMerchant(c.UserContext(), mid, codeParam(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"balance_cents": g.BalanceCents, "currency": g.Currency, "status": g.Status, "expires_at": g.ExpiresAt})
}

// APIRedeem redeems an amount from a code (Idempotency-Key required).
func (h *Handlers) APIRedeem(c *fiber.Ctx) error {
	mid, keyID := merchantKeyID(c)
	idem := strings.Clone(c.Get("Idempotency-Key"))
	if idem == "" || len(idem) > 200 {
		return fiber.NewError(fiber.StatusBadRequest, "Idempotency-Key header required")
	}
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return fiber.ErrUnsupportedMediaType
	}
	var in struct {
		AmountCents *int64 `json:"amount_cents"`
		Reference   string `json:"reference"`
		BasketCents *int64 `json:"basket_cents"`
		NewCustomer *bool  `json:"new_customer"`
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return models.ValidationErrors{te.Field: models.MsgInvalid}
		}
		return fiber.NewError(fiber.StatusBadRequest, "malformed JSON")
	}
	if in.AmountCents == nil {
		return models.ValidationErrors{"amount_cents": models.MsgRequired}
	}
	r, g, replay, err := h.store.Redeem(c.UserContext(), mid, codeParam(c), models.RedeemInput{
		AmountCents: *in.AmountCents, Reference: in.Reference, BasketCents: in.BasketCents, NewCustomer: in.NewCustomer,
		IdempotencyKey: idem, APIKeyID: keyID})
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if replay {
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(status).JSON(fiber.Map{"id": r.PublicID, "amount_cents": r.AmountCents, "balance_cents": g.BalanceCents, "currency": g.Currency})
}

// APIReverse undoes a redemption (e.g. a cancelled online order).
func (h *Handlers) APIReverse(c *fiber.Ctx) error {
	mid, keyID := merchantKeyID(c)
	_, g, err := h.store.ReverseRedemption(c.UserContext(), mid, strings.Clone(c.Params("id")), models.Actor{Kind: "api_key", ID: keyID})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"balance_cents": g.BalanceCents, "currency": g.Currency})
}

type redeemPage struct {
	Page
	Merchant   *models.Merchant
	Q          string
	Code       string
	Gift       *models.Gift
	Redemption *models.Redemption
	// Last is the user's latest redemption that can still be undone in
	// this shift (shown on the empty till screen).
	Last *models.Redemption
}

func (h *Handlers) redeemPage(c *fiber.Ctx, status int, form map[string]string, err error, g *models.Gift, r *models.Redemption) error {
	ms := onbMember(c)
	p := redeemPage{Page: h.withForm(h.page(c, "redeem.title"), form, err), Merchant: ms.Merchant, Q: "?m=" + ms.Merchant.Slug, Gift: g, Redemption: r}
	if g != nil {
		p.Code = h.store.VoucherCode(g)
	} else if r == nil {
		if last, _, lerr := h.store.LastShiftRedemption(c.UserContext(), ms.Merchant.ID, currentUser(c).ID); lerr == nil {
			p.Last = last
		}
	}
	if err != nil && p.Flash == "" {
		if _, ok := err.(models.ValidationErrors); !ok {
			_, code := classify(err)
			if errors.Is(err, models.ErrBalanceTooLow) {
				code = "balance_too_low"
			}
			p.Flash, p.FlashKind = h.r.T(p.Lang, "redeem.err."+code), "error"
		}
	}
	if form["undone"] == "1" {
		p.Flash, p.FlashKind = h.r.T(p.Lang, "redeem.undone"), "success"
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	// The till scans QR codes with the camera (static/js/scan.js); only
	// this origin may ask for it, and only on these pages.
	c.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
	return h.render(c, status, "redeem", p)
}

// RequireMerchantMember lets owners and staff of a merchant through.
func (h *Handlers) RequireMerchantMember(c *fiber.Ctx) error {
	if _, err := h.merchantMember(c); err != nil {
		return err
	}
	return c.Next()
}

// RedeemForm is the till screen: type (or scan) a code.
func (h *Handlers) RedeemForm(c *fiber.Ctx) error {
	return h.redeemPage(c, fiber.StatusOK, nil, nil, nil, nil)
}

// RedeemLookup shows the voucher behind a typed code: balance and partner
// check, and the amount form.
func (h *Handlers) RedeemLookup(c *fiber.Ctx) error {
	form := formValues(c, "code")
	if strings.TrimSpace(form["code"]) == "" {
		// Nothing typed: ask for the code (not a failed look-up).
		return h.redeemPage(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"code": models.MsgRequired}, nil, nil)
	}
	g, err := h.store.VoucherForMerchant(c.UserContext(), *onbMember(c).MerchantID, form["code"])
	if errors.Is(err, models.ErrNotFound) {
		return h.redeemPage(c, fiber.StatusNotFound, form, err, nil, nil)
	}
	if err != nil {
		return err
	}
	return h.redeemPage(c, fiber.StatusOK, form, nil, g, nil)
}

// Redeem takes the entered amount ("12,50") from the voucher and shows the
// receipt with an undo button.
func (h *Handlers) Redeem(c *fiber.Ctx) error {
	form := formValues(c, "code", "amount", "reference", "key")
	mid := *onbMember(c).MerchantID
	cents, ok := parseCents(form["amount"])
	if !ok {
		g, err := h.store.VoucherForMerchant(c.UserContext(), mid, form["code"])
		if err != nil {
			return h.redeemPage(c, fiber.StatusNotFound, form, err, nil, nil)
		}
		return h.redeemPage(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"amount": models.MsgRedeemAmount}, g, nil)
	}
	u := currentUser(c)
	r, g, _, err := h.store.Redeem(c.UserContext(), mid, form["code"], models.RedeemInput{AmountCents: cents, Reference: form["reference"], IdempotencyKey: form["key"], UserID: &u.ID})
	if err != nil {
		cur, _ := h.store.VoucherForMerchant(c.UserContext(), mid, form["code"])
		st, _ := classify(err)
		return h.redeemPage(c, st, form, err, cur, nil)
	}
	return h.redeemPage(c, fiber.StatusOK, nil, nil, g, r)
}

// RedeemUndo reverses a redemption made at this merchant, by the same
// person within the shift (models.TillUndoWindow); later the till answers
// 422 with a message, and a merchant's API key or the operator can still
// reverse it.
func (h *Handlers) RedeemUndo(c *fiber.Ctx) error {
	u := currentUser(c)
	_, g, err := h.store.ReverseRedemption(c.UserContext(), *onbMember(c).MerchantID, strings.Clone(c.Params("id")), models.UserActor(u.ID))
	switch {
	case errors.Is(err, models.ErrReversalWindow):
		return h.redeemPage(c, fiber.StatusUnprocessableEntity, nil, err, nil, nil)
	case errors.Is(err, models.ErrConflict), errors.Is(err, models.ErrExpired), errors.Is(err, models.ErrInsufficientBalance):
		st, _ := classify(err)
		return h.redeemPage(c, st, nil, err, nil, nil)
	case err != nil:
		return err
	}
	return h.redeemPage(c, fiber.StatusOK, map[string]string{"undone": "1"}, nil, g, nil)
}

// APIMerchantPayouts lists the calling merchant's payouts.
func (h *Handlers) APIMerchantPayouts(c *fiber.Ctx) error {
	mid, _ := merchantKeyID(c)
	ps, err := h.store.MerchantPayouts(c.UserContext(), mid)
	if err != nil {
		return err
	}
	type payout struct {
		ID               string     `json:"id"`
		AmountCents      int64      `json:"amount_cents"`
		Currency         string     `json:"currency"`
		StripeTransferID string     `json:"stripe_transfer_id"`
		Status           string     `json:"status"`
		CreatedAt        time.Time  `json:"created_at"`
		PaidAt           *time.Time `json:"paid_at"`
	}
	out := make([]payout, 0, len(ps))
	for _, p := range ps {
		out = append(out, payout{ID: p.PublicID, AmountCents: p.AmountCents, Currency: p.Currency, StripeTransferID: p.StripeTransferID,
			Status: p.Status, CreatedAt: p.CreatedAt, PaidAt: p.PaidAt})
	}
	return c.JSON(fiber.Map{"data": out})
}
