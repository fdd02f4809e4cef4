package models

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
)

// LedgerEntryRow is one entry with its transaction, for the explorer and the
// accountant's export.
type LedgerEntryRow struct {
	TransactionID uint
	Kind          string
	Memo          string
	CreatedAt     time.Time
	Account       string
	Amount        int64
	Currency      string
}

// LedgerAccounts lists every account with its balance (the explorer).
func (s *Store) LedgerAccounts(ctx context.Context) ([]LedgerAccount, error) {
	var as []LedgerAccount
	err := s.db.WithContext(ctx).Order("code").Find(&as).Error
	return as, err
}

// LedgerEntries lists entries, newest transactions first, optionally for one
// account (code) only.
func (s *Store) LedgerEntries(ctx context.Context, account string, limit int) ([]LedgerEntryRow, error) {
	q := s.db.WithContext(ctx).Table("ledger_entries e").
		Select("t.id AS transaction_id, t.kind, t.memo, t.created_at, a.code AS account, e.amount, e.currency").
		Joins("JOIN ledger_transactions t ON t.id = e.transaction_id").
		Joins("JOIN ledger_accounts a ON a.id = e.account_id").
		Order("t.id DESC, e.id")
	if account != "" {
		q = q.Where("a.code = ?", account)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []LedgerEntryRow
	err := q.Scan(&rows).Error
	return rows, err
}

// WriteLedgerCSV writes every entry for the accountant: one line per entry,
// amounts in cents and as decimal euros, text cells protected against
// spreadsheet formula injection.
func (s *Store) WriteLedgerCSV(ctx context.Context, w io.Writer) error {
	rows, err := s.LedgerEntries(ctx, "", 0)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma = ';' // German spreadsheets
	if err := cw.Write([]string{"transaction", "date", "kind", "account", "amount_cents", "amount", "currency", "memo"}); err != nil {
		return err
	}
	for i := len(rows) - 1; i >= 0; i-- { // oldest first
		r := rows[i]
		sign := ""
		a := r.Amount
		if a < 0 {
			sign, a = "-", -a
		}
		if err := cw.Write([]string{fmt.Sprint(r.TransactionID), r.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), SafeCell(r.Kind), SafeCell(r.Account),
			fmt.Sprint(r.Amount), fmt.Sprintf("%s%d,%02d", sign, a/100, a%100), r.Currency, SafeCell(r.Memo)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// SafeCell neutralises spreadsheet formula injection: a cell starting with
// = + - @ tab or CR gets a leading apostrophe.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteGiftsCSV exports a company's gifts for its own reporting: no
// recipient names or addresses (they are erased after the retention period
// and are not needed for reports), text cells protected against formula
// injection, oldest first.
func (s *Store) WriteGiftsCSV(ctx context.Context, companyID uint, w io.Writer) error {
	var gs []Gift
	if err := s.db.WithContext(ctx).Preload("Merchant").Preload("SenderUser").Where("company_id = ?", companyID).
		Order("id").Find(&gs).Error; err != nil {
		return err
	}
	// Reason names come from the company's own list (German label; the
	// code is the stable column for spreadsheets).
	labels, err := s.GiftReasonLabels(ctx, companyID, "de")
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	if err := cw.Write([]string{"gift", "created", "status", "amount", "balance", "currency", "partner", "reference", "reason", "sent_by", "feedback", "reason_name", "send_at"}); err != nil {
		return err
	}
	euros := func(c int64) string { return fmt.Sprintf("%d,%02d", c/100, c%100) }
	for _, g := range gs {
		partner, sender := "", ""
		if g.Merchant != nil {
			partner = g.Merchant.Name
		}
		if g.SenderUser != nil {
			sender = g.SenderUser.Name
		}
		sendAt := ""
		if g.SendAt != nil {
			sendAt = g.SendAt.UTC().Format(time.RFC3339)
		}
		if err := cw.Write([]string{g.PublicID, g.CreatedAt.UTC().Format("2006-01-02"), g.Status, euros(g.AmountCents), euros(g.BalanceCents),
			g.Currency, SafeCell(partner), SafeCell(g.Reference), SafeCell(g.ReasonCode), SafeCell(sender), g.Feedback,
			SafeCell(labels[g.ReasonCode]), sendAt}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// CompanyCredit is one company with its available credit (admin overview).
type CompanyCredit struct {
	Company
	CreditCents int64
}

// CompaniesWithCredit lists every company with its available credit.
func (s *Store) CompaniesWithCredit(ctx context.Context) ([]CompanyCredit, error) {
	var cs []Company
	if err := s.db.WithContext(ctx).Order("name").Find(&cs).Error; err != nil {
		return nil, err
	}
	out := make([]CompanyCredit, 0, len(cs))
	for _, c := range cs {
		bal, err := s.AccountBalance(ctx, AccountCompanyCredit(c.ID))
		if err != nil {
			return nil, err
		}
		out = append(out, CompanyCredit{Company: c, CreditCents: bal})
	}
	return out, nil
}
