package handlers

import (
	"bytes"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type ledgerPage struct {
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
	p := ledgerPage{Page: h.page(c, "ledger.title"), Account: strings.Clone(c.Query("account"))}
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
	return h.render(c, fiber.StatusOK, "admin_ledger", p)
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
