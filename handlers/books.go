package handlers

import (
	"bytes"
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
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="trostpflaster-ledger.csv"`)
	return c.Send(buf.Bytes())
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
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="trostpflaster-gifts.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}
