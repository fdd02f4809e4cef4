package handlers

import (
	"bytes"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type booksPage struct {
	Page
	Accounts []models.LedgerAccount
	Entries  []models.LedgerEntryRow
	Account  string
	Problems []models.LedgerProblem
}

// AdminLedger is the platform admin's ledger explorer: every account with
// its balance, the invariant check, and the latest entries (of one account
// with ?account=).
func (h *Handlers) AdminLedger(c *fiber.Ctx) error {
	p := booksPage{Page: h.page(c, "books.title"), Account: strings.Clone(c.Query("account"))}
	var err error
	if p.Accounts, err = h.store.LedgerAccounts(c.UserContext()); err != nil {
		return err
	}
	if p.Entries, err = h.store.LedgerEntries(c.UserContext(), p.Account, 200); err != nil {
		return err
	}
	if p.Problems, err = h.store.VerifyLedger(c.UserContext()); err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "books", p)
}

// AdminLedgerCSV exports every ledger entry for the accountant.
func (h *Handlers) AdminLedgerCSV(c *fiber.Ctx) error {
	var buf bytes.Buffer
	if err := h.store.WriteLedgerCSV(c.UserContext(), &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="trostpflaster-ledger.csv"`)
	return sendCSV(c, buf.Bytes())
}

// sendCSV answers a UTF-8 CSV download with a byte-order mark first: without
// it Excel (German Windows above all) opens the file as Windows-1252 and shows
// "BÃ¤ckerei" for "Bäckerei". LibreOffice and CSV parsers read it either way.
func sendCSV(c *fiber.Ctx, data []byte) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	return c.Send(append([]byte("\ufeff"), data...))
}

type merchantPayoutsPage struct {
	Page
	Merchant *models.Merchant
	Payouts  []models.Payout
	Payable  int64
}

// MerchantPayoutsPage shows a merchant what it is owed and what was paid.
func (h *Handlers) MerchantPayoutsPage(c *fiber.Ctx) error {
	ms := onbMember(c)
	ps, err := h.store.MerchantPayouts(c.UserContext(), ms.Merchant.ID)
	if err != nil {
		return err
	}
	payable, err := h.store.AccountBalance(c.UserContext(), models.AccountMerchantPayable(ms.Merchant.ID))
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "payouts", merchantPayoutsPage{Page: h.page(c, "payouts.title"), Merchant: ms.Merchant, Payouts: ps, Payable: payable})
}

// GiftsCSV exports the company's gifts (company admins).
func (h *Handlers) GiftsCSV(c *fiber.Ctx) error {
	var buf bytes.Buffer
	if err := h.store.WriteGiftsCSV(c.UserContext(), *memberOf(c).CompanyID, &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="trostpflaster-gifts.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return sendCSV(c, buf.Bytes())
}

type adminCreditPage struct {
	Page
	Companies []models.CompanyCredit
}

func (h *Handlers) adminCreditPage(c *fiber.Ctx, status int, form map[string]string, err error) error {
	cs, lerr := h.store.CompaniesWithCredit(c.UserContext())
	if lerr != nil {
		return lerr
	}
	return h.render(c, status, "admin_credit", adminCreditPage{Page: h.withForm(h.page(c, "credit.title"), form, err), Companies: cs})
}

// AdminCredit lists companies' credit and books paid invoices.
func (h *Handlers) AdminCredit(c *fiber.Ctx) error {
	return h.adminCreditPage(c, fiber.StatusOK, nil, nil)
}

// AdminCreditGrant books an invoice the company has paid: cash:invoice →
// company credit. The invoice number makes booking the same invoice twice
// harmless.
func (h *Handlers) AdminCreditGrant(c *fiber.Ctx) error {
	form := formValues(c, "company", "amount", "invoice")
	v := models.ValidationErrors{}
	co, err := h.store.CompanyBySlug(c.UserContext(), form["company"])
	if err != nil {
		v.Add("company", models.MsgInvalid)
	}
	cents, ok := parseCents(form["amount"])
	if !ok || cents <= 0 {
		v.Add("amount", models.MsgInvalid)
	}
	invoice := strings.TrimSpace(form["invoice"])
	if invoice == "" || len(invoice) > 60 {
		v.Add("invoice", models.MsgRequired)
	}
	if len(v) > 0 {
		return h.adminCreditPage(c, fiber.StatusUnprocessableEntity, form, v)
	}
	_, err = h.store.GrantCredit(c.UserContext(), co.ID, cents, "invoice:"+co.Slug+":"+invoice, "invoice "+invoice, models.UserActor(currentUser(c).ID))
	var ve models.ValidationErrors
	if errors.As(err, &ve) {
		return h.adminCreditPage(c, fiber.StatusUnprocessableEntity, form, ve)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "credit_booked")
	return seeOther(c, "/admin/credit")
}
