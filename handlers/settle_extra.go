package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stripe/stripe-go/v76"

	"trostpflaster/models"
)

// CreditRefunder pays back a refund request through Stripe (app records
// the parts, calls Stripe with their idempotency keys, then confirms).
// nil when Stripe is not configured.
type CreditRefunder interface {
	RefundCredit(ctx context.Context, publicID string, a models.Actor) error
}

// onChargeRefunded books a refund of a top-up's payment. Stripe's running
// total amount_refunded makes duplicates and late events harmless; a
// payment no top-up is known for yet (its checkout event still on the way)
// fails and is retried from the stored event.
func (h *Handlers) onChargeRefunded(ctx context.Context, ev *stripe.Event) (string, error) {
	var ch stripe.Charge
	if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
		return "", fmt.Errorf("charge.refunded: decode charge: %w", err)
	}
	in := models.ChargeRefund{ChargeID: ch.ID, AmountRefunded: ch.AmountRefunded}
	if ch.PaymentIntent != nil {
		in.PaymentIntentID = ch.PaymentIntent.ID
	}
	if ch.Refunds != nil {
		// The newest refund names this step; Stripe lists newest first.
		for _, r := range ch.Refunds.Data {
			if r != nil && r.ID != "" {
				in.LastRefundID = r.ID
				break
			}
		}
	}
	res, err := h.store.BookChargeRefund(ctx, in)
	switch {
	case errors.Is(err, models.ErrUnknownPayment):
		return "", fmt.Errorf("charge.refunded: payment %q: %w", in.PaymentIntentID, err)
	case err != nil:
		return "", err
	case res.ShortfallCents > 0:
		h.log.Error("stripe refund exceeds the company's available credit; shortfall booked and flagged", "charge", ch.ID, "shortfall_cents", res.ShortfallCents)
		return "flagged_refund_shortfall", nil
	case res.BookedCents == 0:
		return "already_booked", nil
	}
	return "refund_booked", nil
}

// onTransferReversed books money that came back from a merchant's payout
// into a held account for the operator (the reconciliation page releases it
// to the merchant's payable). The event is flagged so it is looked at.
func (h *Handlers) onTransferReversed(ctx context.Context, ev *stripe.Event) (string, error) {
	var tr stripe.Transfer
	if err := json.Unmarshal(ev.Data.Raw, &tr); err != nil {
		return "", fmt.Errorf("transfer.reversed: decode transfer: %w", err)
	}
	in := models.TransferReversed{TransferID: tr.ID, TransferGroup: tr.TransferGroup, AmountReversed: tr.AmountReversed}
	if tr.Reversals != nil {
		for _, r := range tr.Reversals.Data {
			if r != nil && r.ID != "" {
				in.LastReversalID = r.ID
				break
			}
		}
	}
	booked, err := h.store.BookTransferReversal(ctx, in)
	switch {
	case errors.Is(err, models.ErrUnknownTransfer):
		return "", fmt.Errorf("transfer.reversed: transfer %q: %w", tr.ID, err)
	case err != nil:
		return "", err
	case booked == 0:
		return "already_booked", nil
	}
	return "flagged_transfer_reversed", nil
}

// merchantStatement loads the statement of one of the member's merchant's
// payouts; another merchant's payout is a 404.
func (h *Handlers) merchantStatement(c *fiber.Ctx) (*models.Statement, error) {
	ms := onbMember(c)
	if ms == nil || ms.Merchant == nil {
		return nil, fiber.ErrNotFound
	}
	st, err := h.store.PayoutStatement(c.UserContext(), ms.Merchant.ID, strings.Clone(c.Params("id")))
	if errors.Is(err, models.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	return st, err
}

// MerchantStatementCSV downloads a payout's settlement statement as CSV.
func (h *Handlers) MerchantStatementCSV(c *fiber.Ctx) error {
	st, err := h.merchantStatement(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := models.WriteStatementCSV(st, &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="abrechnung-`+st.Payout.PublicID+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return sendCSV(c, buf.Bytes())
}

// MerchantStatementPDF downloads a payout's settlement statement as PDF.
func (h *Handlers) MerchantStatementPDF(c *fiber.Ctx) error {
	st, err := h.merchantStatement(c)
	if err != nil {
		return err
	}
	b, err := StatementPDF(st)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="abrechnung-`+st.Payout.PublicID+`.pdf"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b)
}

type companyRefundsPage struct {
	Page
	Available int64
	Reserved  int64
	Refunds   []models.CreditRefund
}

func (h *Handlers) companyRefunds(c *fiber.Ctx, status int, form map[string]string, err error) error {
	ctx := c.UserContext()
	cid := *memberOf(c).CompanyID
	p := companyRefundsPage{Page: h.withForm(h.page(c, "settleextra.refunds_title"), form, err)}
	var lerr error
	if p.Available, lerr = h.store.AccountBalance(ctx, models.AccountCompanyCredit(cid)); lerr != nil {
		return lerr
	}
	if p.Reserved, lerr = h.store.AccountBalance(ctx, models.AccountRefundReserve(cid)); lerr != nil {
		return lerr
	}
	if p.Refunds, lerr = h.store.CompanyCreditRefunds(ctx, cid); lerr != nil {
		return lerr
	}
	return h.render(c, status, "settle_refunds", p)
}

// CompanyRefunds shows a company admin its credit and refund requests.
func (h *Handlers) CompanyRefunds(c *fiber.Ctx) error {
	return h.companyRefunds(c, fiber.StatusOK, nil, nil)
}

// CompanyRefundRequest asks for (part of) the available credit back; the
// amount is reserved at once so it cannot be gifted meanwhile.
func (h *Handlers) CompanyRefundRequest(c *fiber.Ctx) error {
	form := formValues(c, "amount", "reason")
	cents, ok := parseCents(form["amount"])
	if !ok || cents <= 0 {
		return h.companyRefunds(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"amount": models.MsgInvalid})
	}
	u := currentUser(c)
	_, err := h.store.RequestCreditRefund(c.UserContext(), *memberOf(c).CompanyID, cents, form["reason"], models.UserActor(u.ID))
	var ve models.ValidationErrors
	if errors.As(err, &ve) {
		return h.companyRefunds(c, fiber.StatusUnprocessableEntity, form, ve)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "refund_requested")
	return seeOther(c, "/company/refunds")
}

type adminRefundsPage struct {
	Page
	Refunds      []models.CreditRefund
	StripeReady  bool
	FormRefundID string
}

func (h *Handlers) adminRefunds(c *fiber.Ctx, status int, form map[string]string, err error) error {
	rs, lerr := h.store.CreditRefunds(c.UserContext())
	if lerr != nil {
		return lerr
	}
	p := adminRefundsPage{Page: h.withForm(h.page(c, "settleextra.admin_refunds_title"), form, err), Refunds: rs,
		StripeReady: h.opt.CreditRefunds != nil, FormRefundID: form["id"]}
	return h.render(c, status, "settle_admin_refunds", p)
}

// AdminRefunds lists refund requests for the platform admin.
func (h *Handlers) AdminRefunds(c *fiber.Ctx) error {
	return h.adminRefunds(c, fiber.StatusOK, nil, nil)
}

// AdminRefundAction refunds a request through Stripe, settles it by credit
// note or declines it (:action = stripe | credit-note | decline).
func (h *Handlers) AdminRefundAction(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	form := formValues(c, "note")
	form["id"] = id
	ctx := c.UserContext()
	if _, err := h.store.CreditRefundByPublicID(ctx, id); err != nil {
		return err
	}
	a := models.UserActor(currentUser(c).ID)
	var err error
	switch c.Params("action") {
	case "stripe":
		if h.opt.CreditRefunds == nil {
			return h.adminRefunds(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"refund": "refund_stripe_off"})
		}
		err = h.opt.CreditRefunds.RefundCredit(ctx, id, a)
	case "credit-note":
		err = h.store.CreditNoteRefund(ctx, id, form["note"], a)
	case "decline":
		err = h.store.DeclineCreditRefund(ctx, id, strings.TrimSpace(form["note"]), a)
	default:
		return fiber.ErrNotFound
	}
	var ve models.ValidationErrors
	switch {
	case errors.As(err, &ve):
		return h.adminRefunds(c, fiber.StatusUnprocessableEntity, form, ve)
	case errors.Is(err, models.ErrConflict):
		return h.adminRefunds(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"refund": "refund_not_open"})
	case errors.Is(err, ErrRefundIncomplete):
		h.flash(c, "error", "refund_incomplete")
		return seeOther(c, "/admin/refunds")
	case err != nil:
		return err
	}
	h.flash(c, "success", "refund_done")
	return seeOther(c, "/admin/refunds")
}

// ErrRefundIncomplete means some Stripe refund parts were refused or their
// outcome is unknown; the request stays open with the problem shown.
var ErrRefundIncomplete = errors.New("stripe refund incomplete")

type reconcilePage struct {
	Page
	R *models.Reconciliation
}

// AdminReconciliation compares Stripe top-ups with booked credit and
// transfers with payouts, and lists flagged or unapplied events, held
// reversals and refund shortfalls.
func (h *Handlers) AdminReconciliation(c *fiber.Ctx) error {
	r, err := h.store.Reconcile(c.UserContext())
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "settle_reconcile", reconcilePage{Page: h.page(c, "settleextra.reconcile_title"), R: r})
}

// AdminReleaseReversal moves a held transfer reversal to the merchant's
// payable (paid again by the next settlement run).
func (h *Handlers) AdminReleaseReversal(c *fiber.Ctx) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 32)
	if err != nil {
		return fiber.ErrNotFound
	}
	err = h.store.ReleaseTransferReversal(c.UserContext(), uint(id), models.UserActor(currentUser(c).ID))
	if errors.Is(err, models.ErrConflict) {
		return seeOther(c, "/admin/reconciliation")
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "reversal_released")
	return seeOther(c, "/admin/reconciliation")
}

// onChargeSucceeded remembers which charge paid a payment intent, so a
// payout funded by exactly one top-up can name it as source_transaction.
func (h *Handlers) onChargeSucceeded(ctx context.Context, ev *stripe.Event) (string, error) {
	var ch stripe.Charge
	if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
		return "", fmt.Errorf("charge.succeeded: decode charge: %w", err)
	}
	if ch.PaymentIntent == nil || ch.PaymentIntent.ID == "" || ch.ID == "" {
		return "ignored_no_payment_intent", nil
	}
	if err := h.store.RecordStripeCharge(ctx, ch.PaymentIntent.ID, ch.ID); err != nil {
		return "", err
	}
	return "charge_recorded", nil
}

func (h *Handlers) datevPage(c *fiber.Ctx, status int, form map[string]string, err error) error {
	return h.render(c, status, "settle_datev", h.withForm(h.page(c, "settleextra.datev_title"), form, err))
}

// AdminDatev shows the DATEV export form (platform admins).
func (h *Handlers) AdminDatev(c *fiber.Ctx) error {
	now := h.store.Now()
	return h.datevPage(c, fiber.StatusOK, map[string]string{
		"from": time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), "to": now.Format("2006-01-02")}, nil)
}

// AdminDatevExport downloads the ledger of a date range as a DATEV EXTF
// Buchungsstapel; bad numbers or ranges re-render the form with 422.
func (h *Handlers) AdminDatevExport(c *fiber.Ctx) error {
	form := formValues(c, "consultant", "client", "from", "to")
	parse := func(s string) time.Time {
		t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
		if err != nil {
			return time.Time{}
		}
		return t
	}
	d := models.DatevExport{Consultant: strings.TrimSpace(form["consultant"]), Client: strings.TrimSpace(form["client"]),
		From: parse(form["from"]), To: parse(form["to"]), Created: h.store.Now()}
	var buf bytes.Buffer
	err := h.store.WriteDatev(c.UserContext(), d, &buf)
	var ve models.ValidationErrors
	if errors.As(err, &ve) {
		return h.datevPage(c, fiber.StatusUnprocessableEntity, form, ve)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=windows-1252")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="EXTF_Buchungsstapel_`+d.From.Format("20060102")+`_`+d.To.Format("20060102")+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}
