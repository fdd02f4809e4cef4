package handlers

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"trostpflaster/models"
)

func webSender(c *fiber.Ctx) models.GiftSender {
	m := companyMemberOf(c)
	u := currentUser(c)
	return models.GiftSender{CompanyID: *m.CompanyID, UserID: &u.ID}
}

type giftFormPage struct {
	Page
	Network   []models.CatalogHit // the company's preferred partners, offered first
	Merchants []models.CatalogHit // the other partners
	Reasons   []models.GiftReason
	Templates []models.GiftTemplate
	Selected  map[uint]bool
	Recent    []models.Gift
	Checked   bool // the recent-gift check ran
	Cap       *models.GiftSettings
}

var giftFormFields = []string{"recipient_name", "recipient_email", "share_link", "amount", "mode", "merchant_id", "near",
	"message", "template_id", "reference", "reason_code", "send_at", "lang", "idem"}

func (h *Handlers) giftForm(c *fiber.Ctx, status int, form map[string]string, selected map[uint]bool, err error) error {
	p := giftFormPage{Page: h.withForm(h.page(c, "gifts.new.title"), form, err), Selected: selected}
	m := companyMemberOf(c)
	ctx := c.UserContext()
	company, cerr := h.store.CompanyByID(ctx, *m.CompanyID)
	if cerr != nil {
		return cerr
	}
	hits, _, serr := h.store.SearchMerchants(ctx, h.places, models.CatalogQuery{Region: company.Region.Slug, Limit: models.CatalogMaxLimit})
	if serr != nil {
		return serr
	}
	preferred, serr := h.store.PreferredPartners(ctx, company.ID)
	if serr != nil {
		return serr
	}
	sorted, marked := models.SortPreferredFirst(hits, preferred)
	p.Network, p.Merchants = sorted[:len(marked)], sorted[len(marked):]
	if p.Reasons, serr = h.store.GiftReasons(ctx, company.ID, true); serr != nil {
		return serr
	}
	if p.Templates, serr = h.store.GiftTemplates(ctx, company.ID); serr != nil {
		return serr
	}
	if p.Cap, serr = h.store.CompanyGiftSettings(ctx, company.ID); serr != nil {
		return serr
	}
	// On a re-render the agent sees the recent-gesture hint at once.
	if email := form["recipient_email"]; email != "" && len(email) <= 254 {
		if p.Recent, serr = h.store.RecentGiftsTo(ctx, company.ID, email); serr != nil {
			return serr
		}
		p.Checked = true
	}
	if errors.Is(err, models.ErrInsufficientBalance) {
		p.Flash, p.FlashKind = h.r.T(p.Lang, "gifts.insufficient"), "error"
	}
	return h.render(c, status, "gifts_new", p)
}

// GiftNew shows the send form; a fresh idempotency key makes a double
// submit send one gift.
func (h *Handlers) GiftNew(c *fiber.Ctx) error {
	form := map[string]string{"mode": "one", "lang": langOf(c), "idem": "web-" + randomKey()}
	return h.giftForm(c, fiber.StatusOK, form, nil, nil)
}

func randomKey() string { return models.NewRandomKey() }

// GiftCreate sends a gift from the web form.
func (h *Handlers) GiftCreate(c *fiber.Ctx) error {
	form := formValues(c, giftFormFields...)
	selected := map[uint]bool{}
	in := models.GiftInput{RecipientName: form["recipient_name"], RecipientEmail: form["recipient_email"],
		Message: form["message"], Reference: form["reference"], ReasonCode: form["reason_code"],
		Lang: form["lang"], IdempotencyKey: form["idem"], Notify: models.NotifyEmail}
	if form["share_link"] != "" {
		in.Notify = models.NotifyNone
	}
	v := models.ValidationErrors{}
	cents, ok := parseCents(form["amount"])
	if !ok {
		v.Add("amount", models.MsgInvalid)
	}
	in.AmountCents = cents
	if raw := strings.TrimSpace(form["send_at"]); raw != "" {
		at, ok := models.ParseBerlinTime(raw)
		if !ok {
			v.Add("send_at", models.MsgInvalid)
		} else {
			in.SendAt = &at
		}
	}
	// Without JavaScript the chosen template fills an empty message here.
	if tid := strings.TrimSpace(form["template_id"]); tid != "" && strings.TrimSpace(in.Message) == "" {
		id, err := strconv.ParseUint(tid, 10, 32)
		if err != nil {
			v.Add("template_id", models.MsgInvalid)
		} else if t, err := h.store.GiftTemplate(c.UserContext(), *companyMemberOf(c).CompanyID, uint(id)); errors.Is(err, models.ErrNotFound) {
			v.Add("template_id", models.MsgInvalid)
		} else if err != nil {
			return err
		} else {
			in.Message = t.Text
			form["message"] = t.Text
		}
	}
	switch form["mode"] {
	case "near":
		in.Near = form["near"]
		if strings.TrimSpace(in.Near) == "" {
			v.Add("near", models.MsgRequired)
		}
	case "choice":
		args := c.Request().PostArgs()
		for _, raw := range args.PeekMulti("merchant_ids") {
			id, err := strconv.ParseUint(string(raw), 10, 32)
			if err != nil {
				v.Add("merchant_ids", models.MsgGiftMerchant)
				continue
			}
			selected[uint(id)] = true
			in.MerchantIDs = append(in.MerchantIDs, uint(id))
		}
		if len(in.MerchantIDs) < 2 || len(in.MerchantIDs) > models.GiftMaxMerchants {
			v.Add("merchant_ids", models.MsgGiftMerchantCount)
		}
	default:
		form["mode"] = "one"
		id, err := strconv.ParseUint(form["merchant_id"], 10, 32)
		if err != nil || id == 0 {
			v.Add("merchant_id", models.MsgRequired)
		} else {
			in.MerchantIDs = []uint{uint(id)}
		}
	}
	if err := v.Err(); err != nil {
		return h.giftForm(c, fiber.StatusUnprocessableEntity, form, selected, err)
	}
	g, _, err := h.store.SendGift(c.UserContext(), h.places, webSender(c), in)
	var ve models.ValidationErrors
	switch {
	case errors.As(err, &ve):
		// The form names the amount and single partner differently from the model.
		if msg, ok := ve["amount_cents"]; ok {
			ve["amount"] = msg
		}
		if msg, ok := ve["merchant_ids"]; ok && form["mode"] == "one" {
			ve["merchant_id"] = msg
		}
		return h.giftForm(c, fiber.StatusUnprocessableEntity, form, selected, ve)
	case errors.Is(err, models.ErrInsufficientBalance):
		return h.giftForm(c, fiber.StatusPaymentRequired, form, selected, err)
	case errors.Is(err, models.ErrConflict):
		form["idem"] = "web-" + randomKey()
		return h.giftForm(c, fiber.StatusConflict, form, selected, err)
	case err != nil:
		return err
	}
	if g.Status == models.GiftPendingApproval {
		h.flash(c, "success", "gifts_pending")
	} else {
		h.flash(c, "success", "gifts_sent")
	}
	return seeOther(c, "/gifts/"+g.PublicID)
}

type giftShowPage struct {
	Page
	Gift        *models.Gift
	ReasonLabel string
	SendAtLocal string // scheduled delivery in Berlin time
	ClaimURL    string
	QR          template.URL // data: URI of a PNG made here (trusted)
	CanCancel   bool
	IsAdmin     bool
}

// GiftShow shows one of the company's gifts with its link and QR code.
func (h *Handlers) GiftShow(c *fiber.Ctx) error {
	m := companyMemberOf(c)
	g, err := h.store.GiftByPublicID(c.UserContext(), *m.CompanyID, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	p := giftShowPage{Page: h.page(c, "gifts.show.title"), Gift: g, IsAdmin: m.Role == models.RoleCompanyAdmin}
	if g.ReasonCode != "" {
		labels, err := h.store.GiftReasonLabels(c.UserContext(), *m.CompanyID, p.Lang)
		if err != nil {
			return err
		}
		p.ReasonLabel = labels[g.ReasonCode]
		if p.ReasonLabel == "" {
			p.ReasonLabel = g.ReasonCode
		}
	}
	if g.SendAt != nil {
		p.SendAtLocal = berlinDisplay(*g.SendAt)
	}
	u := currentUser(c)
	p.CanCancel = g.Cancellable() && (p.IsAdmin || (g.SenderUserID != nil && *g.SenderUserID == u.ID))
	if g.Status != models.GiftPendingApproval && g.Status != models.GiftCancelled {
		p.ClaimURL = h.claimURL(g)
		png, err := qrcode.Encode(p.ClaimURL, qrcode.Medium, 320)
		if err != nil {
			return err
		}
		p.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, "gifts_show", p)
}

// GiftCancel takes a gift back from the web (the agent who sent it or an admin).
func (h *Handlers) GiftCancel(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if _, err := h.store.CancelGift(c.UserContext(), webSender(c), id); err != nil {
		return err
	}
	h.flash(c, "success", "gifts_cancelled")
	return seeOther(c, "/gifts/"+id)
}

type giftListPage struct {
	Page
	Gifts        []models.Gift
	Reasons      []models.GiftReason
	ReasonLabels map[string]string
	Statuses     []string
	NextLink     string
	Balance      *models.CompanyBalance
	IsAdmin      bool
	Pending      int
}

// GiftList lists the company's gifts (any agent's), newest first.
func (h *Handlers) GiftList(c *fiber.Ctx) error {
	m := companyMemberOf(c)
	p := giftListPage{Page: h.page(c, "gifts.list.title"), Statuses: models.GiftStatuses, IsAdmin: m.Role == models.RoleCompanyAdmin}
	q := models.GiftQuery{Status: strings.Clone(c.Query("status")), Reference: strings.Clone(c.Query("reference")),
		Reason: strings.Clone(c.Query("reason")), Cursor: strings.Clone(c.Query("cursor"))}
	p.Form = map[string]string{"status": q.Status, "reference": q.Reference, "reason": q.Reason}
	var err error
	if p.Reasons, err = h.store.GiftReasons(c.UserContext(), *m.CompanyID, false); err != nil {
		return err
	}
	if p.ReasonLabels, err = h.store.GiftReasonLabels(c.UserContext(), *m.CompanyID, p.Lang); err != nil {
		return err
	}
	status := fiber.StatusOK
	gs, next, err := h.store.Gifts(c.UserContext(), *m.CompanyID, q)
	if v, bad := err.(models.ValidationErrors); bad {
		// A bad filter (an old bookmark, a typed URL) shows the list page
		// with the field marked, not a bare error page.
		p.Page, status, next = h.withForm(p.Page, p.Form, v), fiber.StatusUnprocessableEntity, ""
	} else if err != nil {
		return err
	}
	p.Gifts = gs
	if next != "" {
		args := c.Request().URI().QueryArgs()
		args.Set("cursor", next)
		p.NextLink = "/gifts?" + string(args.QueryString())
	}
	if p.Balance, err = h.store.CompanyBalance(c.UserContext(), *m.CompanyID); err != nil {
		return err
	}
	if p.IsAdmin {
		pending, _, err := h.store.Gifts(c.UserContext(), *m.CompanyID, models.GiftQuery{Status: models.GiftPendingApproval, Limit: models.GiftListMax})
		if err != nil {
			return err
		}
		p.Pending = len(pending)
	}
	return h.render(c, status, "gifts_list", p)
}

// GiftRecent shows whether the customer already received a gesture from the
// company recently (by hashed e-mail, any agent); the form loads it with htmx.
func (h *Handlers) GiftRecent(c *fiber.Ctx) error {
	m := companyMemberOf(c)
	p := giftFormPage{Page: h.page(c, "gifts.new.title"), Checked: true}
	email := strings.Clone(c.Query("recipient_email"))
	if len(email) <= 254 {
		gs, err := h.store.RecentGiftsTo(c.UserContext(), *m.CompanyID, email)
		if err != nil {
			return err
		}
		p.Recent = gs
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, "gifts_recent", p)
}

// GiftsCSV exports the company's gifts (company admins).
func (h *Handlers) GiftsCSV(c *fiber.Ctx) error {
	var buf bytes.Buffer
	if err := h.store.WriteGiftsCSV(c.UserContext(), *companyMemberOf(c).CompanyID, &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="trostpflaster-gifts.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return sendCSV(c, buf.Bytes())
}

// berlinDisplay shows a time as local Berlin time.
func berlinDisplay(t time.Time) string { return models.InBerlin(t).Format("02.01.2006 15:04") }
