package handlers

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type apiGiftMerchant struct {
	ID   uint   `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
	City string `json:"city"`
}

// apiGift is a gift as the company's help desk sees it.
type apiGift struct {
	ID             string            `json:"id"`
	Status         string            `json:"status"`
	ClaimURL       string            `json:"claim_url"`
	AmountCents    int64             `json:"amount_cents"`
	BalanceCents   int64             `json:"balance_cents"`
	Currency       string            `json:"currency"`
	RecipientName  string            `json:"recipient_name"`
	RecipientEmail string            `json:"recipient_email"`
	Message        string            `json:"message"`
	Reference      string            `json:"reference"`
	ReasonCode     string            `json:"reason_code"`
	Reason         string            `json:"reason"` // same as reason_code
	Notify         string            `json:"notify"`
	Language       string            `json:"language"`
	Merchants      []apiGiftMerchant `json:"merchants"`
	MerchantID     *uint             `json:"merchant_id"`
	DecisionNote   string            `json:"decision_note,omitempty"`
	Feedback       string            `json:"feedback,omitempty"` // the recipient's "did this make up for it?"
	ExpiresAt      time.Time         `json:"expires_at"`
	CreatedAt      time.Time         `json:"created_at"`
	SentAt         *time.Time        `json:"sent_at"`
	SendAt         *time.Time        `json:"send_at"`   // scheduled delivery, null: at once
	Scheduled      bool              `json:"scheduled"` // send_at still ahead: mail waits, claim link not yet open
	CancelledAt    *time.Time        `json:"cancelled_at"`
}

func (h *Handlers) claimURL(g *models.Gift) string {
	return h.opt.BaseURL + "/c/" + h.store.GiftClaimToken(g)
}

func (h *Handlers) apiGift(g *models.Gift) apiGift {
	out := apiGift{ID: g.PublicID, Status: g.Status, ClaimURL: h.claimURL(g), AmountCents: g.AmountCents,
		BalanceCents: g.BalanceCents, Currency: g.Currency, RecipientName: g.RecipientName,
		RecipientEmail: g.RecipientEmail, Message: g.Message, Reference: g.Reference, ReasonCode: g.ReasonCode,
		Reason: g.ReasonCode, SendAt: g.SendAt, Scheduled: g.Scheduled, Notify: g.Notify, Language: g.Lang, MerchantID: g.MerchantID, DecisionNote: g.DecisionNote, Feedback: g.Feedback,
		ExpiresAt: g.ExpiresAt, CreatedAt: g.CreatedAt, SentAt: g.SentAt, CancelledAt: g.CancelledAt,
		Merchants: []apiGiftMerchant{}}
	if g.Status == models.GiftPendingApproval || g.Status == models.GiftCancelled {
		out.ClaimURL = "" // not claimable (yet); the link would show "not found"
	}
	for _, m := range g.OfferedMerchants() {
		out.Merchants = append(out.Merchants, apiGiftMerchant{ID: m.ID, Slug: m.Slug, Name: m.Name, City: m.City})
	}
	return out
}

type apiGiftRequest struct {
	RecipientEmail string `json:"recipient_email"`
	RecipientName  string `json:"recipient_name"`
	AmountCents    int64  `json:"amount_cents"`
	Currency       string `json:"currency"`
	MerchantIDs    []uint `json:"merchant_ids"`
	Near           string `json:"near"`
	Message        string `json:"message"`
	Reference      string `json:"reference"`
	ReasonCode     string `json:"reason_code"` // older name of reason
	Reason         string `json:"reason"`
	SendAt         string `json:"send_at"` // RFC 3339, optional
	Notify         string `json:"notify"`
	Language       string `json:"language"`
}

// APIGiftCreate sends a gift for a help-desk integration. The
// Idempotency-Key header is required: a replay returns the same gift (200,
// Idempotent-Replayed: true), the same key with another body is 409.
func (h *Handlers) APIGiftCreate(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	idem := strings.Clone(strings.TrimSpace(c.Get("Idempotency-Key")))
	if idem == "" || len(idem) > models.IdempotencyKeyMax {
		return problem(c, Problem{Type: "about:blank", Title: statusText(fiber.StatusBadRequest), Status: fiber.StatusBadRequest,
			Code: "idempotency_key", Detail: "An Idempotency-Key header of 1 to 200 characters is required."})
	}
	var req apiGiftRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := models.GiftInput{RecipientName: req.RecipientName, RecipientEmail: req.RecipientEmail,
		AmountCents: req.AmountCents, Currency: req.Currency, MerchantIDs: req.MerchantIDs, Near: req.Near,
		Message: req.Message, Reference: req.Reference, ReasonCode: req.ReasonCode, Notify: req.Notify,
		Lang: req.Language, IdempotencyKey: idem}
	if in.Lang == "" {
		in.Lang = "de"
	} else if in.Lang != "de" && in.Lang != "en" {
		return models.ValidationErrors{"language": models.MsgInvalid}
	}
	reasonField := "reason_code"
	if req.Reason != "" {
		if req.ReasonCode != "" && req.ReasonCode != req.Reason {
			return models.ValidationErrors{"reason": models.MsgGiftReason}
		}
		in.ReasonCode, reasonField = req.Reason, "reason"
	}
	if req.SendAt != "" {
		at, err := time.Parse(time.RFC3339, req.SendAt)
		if err != nil {
			return models.ValidationErrors{"send_at": models.MsgInvalid}
		}
		at = at.UTC()
		in.SendAt = &at
	}
	g, created, err := h.store.SendGift(c.UserContext(), h.places, models.GiftSender{CompanyID: *k.CompanyID, APIKeyID: &k.ID}, in)
	var ve models.ValidationErrors
	if errors.As(err, &ve) {
		if msg, ok := ve["reason_code"]; ok && reasonField == "reason" {
			delete(ve, "reason_code")
			ve["reason"] = msg
		}
		if ve["recipient_email"] == models.MsgGiftCustomerCap {
			// The per-customer cap: 422 with its own code and a clear detail.
			return problem(c, Problem{Type: "about:blank", Title: statusText(fiber.StatusUnprocessableEntity), Status: fiber.StatusUnprocessableEntity,
				Code: "customer_cap", Detail: h.r.T("en", "err."+models.MsgGiftCustomerCap),
				Errors: map[string]string{"recipient_email": h.r.T("en", "err."+models.MsgGiftCustomerCap)}})
		}
		return ve
	}
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if !created {
		status = fiber.StatusOK
		c.Set("Idempotent-Replayed", "true")
	}
	c.Location("/api/v1/gifts/" + g.PublicID)
	return c.Status(status).JSON(h.apiGift(g))
}

// APIGift shows one of the company's gifts; other companies' gifts are 404.
func (h *Handlers) APIGift(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	g, err := h.store.GiftByPublicID(c.UserContext(), *k.CompanyID, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	return c.JSON(h.apiGift(g))
}

// APIGifts lists the company's gifts, newest first; filters status and
// reference, paging by cursor.
func (h *Handlers) APIGifts(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	q := models.GiftQuery{Status: strings.Clone(c.Query("status")), Reference: strings.Clone(c.Query("reference")),
		Reason: strings.Clone(c.Query("reason")), Cursor: strings.Clone(c.Query("cursor"))}
	return h.giftListJSON(c, *k.CompanyID, q)
}

// APIGiftCancel takes a gift back before it is claimed (409 after).
func (h *Handlers) APIGiftCancel(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	g, err := h.store.CancelGift(c.UserContext(), models.GiftCanceller{CompanyID: *k.CompanyID, APIKeyID: &k.ID}, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	return c.JSON(h.apiGift(g))
}

// giftListJSON answers one page of the company's gifts matching q (with the
// request's limit), as GET /api/v1/gifts does.
func (h *Handlers) giftListJSON(c *fiber.Ctx, companyID uint, q models.GiftQuery) error {
	if l := c.Query("limit"); l != "" {
		n, err := parseSmallInt(l)
		if err != nil || n == 0 {
			return models.ValidationErrors{"limit": models.MsgInvalid}
		}
		q.Limit = n
	}
	gs, next, err := h.store.Gifts(c.UserContext(), companyID, q)
	if err != nil {
		return err
	}
	out := apiList[apiGift]{Data: make([]apiGift, 0, len(gs)), NextCursor: next}
	for i := range gs {
		out.Data = append(out.Data, h.apiGift(&gs[i]))
	}
	return c.JSON(out)
}
