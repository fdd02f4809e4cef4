package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Ledger account codes. Wallet accounts never go below zero; boundary
// accounts (cash:* for money coming in, negative; payout:* for money paid
// out) mirror money crossing the platform's edge and may take any sign.
const (
	AccountCashStripe         = "cash:stripe"
	AccountCashInvoice        = "cash:invoice"
	AccountPayoutStripe       = "payout:stripe"
	AccountPlatformCommission = "platform:commission"
)

// AccountCompanyCredit is a company's available prepaid credit.
func AccountCompanyCredit(companyID uint) string { return fmt.Sprintf("company:%d:credit", companyID) }

// AccountVoucher holds a gift's or voucher's remaining value.
func AccountVoucher(voucherID uint) string { return fmt.Sprintf("voucher:%d", voucherID) }

// AccountMerchantPayable is what the platform owes a merchant for redemptions.
func AccountMerchantPayable(merchantID uint) string {
	return fmt.Sprintf("merchant:%d:payable", merchantID)
}

func allowsNegative(code string) bool {
	return strings.HasPrefix(code, "cash:") || strings.HasPrefix(code, "payout:") || strings.HasPrefix(code, "shortfall:")
}

// LedgerAccount is one account of the double-entry ledger. Balance is a cache
// of the sum of its entries, updated in the same transaction; `ledger verify`
// recomputes it. Accounts with AllowNegative=false (wallets: company credit,
// vouchers, merchant payables, commission) can never go below zero; boundary
// accounts (cash:*, payout:*) mirror money entering and leaving the platform
// and run negative by design.
type LedgerAccount struct {
	ID            uint   `gorm:"primaryKey"`
	Code          string `gorm:"size:80;not null;uniqueIndex"`
	Currency      string `gorm:"size:3;not null"`
	AllowNegative bool   `gorm:"not null;default:false"`
	Balance       int64  `gorm:"not null;default:0"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// LedgerTransaction groups entries that sum to zero. Kind names the business
// event; IdempotencyKey (unique when set) makes re-booking the same event a
// no-op.
type LedgerTransaction struct {
	ID             uint          `gorm:"primaryKey"`
	Kind           string        `gorm:"size:40;not null;index"`
	IdempotencyKey *string       `gorm:"size:120;uniqueIndex"`
	Memo           string        `gorm:"size:300;not null;default:''"`
	Entries        []LedgerEntry `gorm:"foreignKey:TransactionID"`
	CreatedAt      time.Time     `gorm:"index"`
}

// LedgerEntry moves Amount cents into (positive) or out of (negative) an
// account.
type LedgerEntry struct {
	ID            uint          `gorm:"primaryKey"`
	TransactionID uint          `gorm:"not null;index"`
	AccountID     uint          `gorm:"not null;index"`
	Account       LedgerAccount `gorm:"constraint:OnDelete:RESTRICT"`
	Amount        int64         `gorm:"not null"`
	Currency      string        `gorm:"size:3;not null"`
}

// Posting moves Amount cents into (positive) or out of (negative) Account.
type Posting struct {
	Account string
	Amount  int64
}

// Move is the common two-legged posting: amount from one account to another.
func Move(from, to string, amount int64) []Posting {
	return []Posting{{Account: from, Amount: -amount}, {Account: to, Amount: amount}}
}

// Booking is one balanced ledger transaction to write.
type Booking struct {
	Kind           string
	IdempotencyKey string // optional; a second booking with the same key is a no-op
	// NewKey tells that IdempotencyKey was just made up (it holds a new
	// random id), so no earlier booking can have it and the look-up is
	// skipped; the unique index still refuses a duplicate.
	NewKey   bool
	Memo     string
	Currency string
	Postings []Posting
}

// ErrAlreadyBooked is returned by book when the idempotency key was used
// before; the earlier transaction stands.
var ErrAlreadyBooked = errors.New("already booked")

// book writes a balanced transaction inside tx. Each account's balance moves
// by a conditional UPDATE so a wallet cannot go below zero even under
// concurrent bookings (ErrInsufficientBalance, and the caller's transaction
// rolls back). It must run inside the same DB transaction as the state change
// it records.
func (s *Store) book(tx *gorm.DB, b Booking) (*LedgerTransaction, error) {
	if b.Currency == "" {
		b.Currency = DefaultCurrency
	}
	if len(b.Postings) < 2 {
		return nil, fmt.Errorf("ledger: %s needs at least two postings", b.Kind)
	}
	var sum int64
	for _, p := range b.Postings {
		if p.Amount == 0 {
			return nil, fmt.Errorf("ledger: %s has a zero posting to %s", b.Kind, p.Account)
		}
		sum += p.Amount
	}
	if sum != 0 {
		return nil, fmt.Errorf("ledger: %s does not balance (sum %d)", b.Kind, sum)
	}
	lt := LedgerTransaction{Kind: b.Kind, Memo: b.Memo}
	if b.IdempotencyKey != "" {
		if !b.NewKey {
			var prev LedgerTransaction
			err := tx.Where("idempotency_key = ?", b.IdempotencyKey).First(&prev).Error
			if err == nil {
				return &prev, ErrAlreadyBooked
			}
			if !errors.Is(err, gorm.ErrRecordNotFound) {
				return nil, err
			}
		}
		lt.IdempotencyKey = &b.IdempotencyKey
	}
	// Fixed SQL rather than Create: every redemption books here, inside
	// SQLite's write lock (see store_rawsql.go).
	lt.CreatedAt = tx.NowFunc()
	var err error
	if lt.ID, err = insertID(tx, "INSERT INTO ledger_transactions (kind, idempotency_key, memo, created_at) VALUES (?, ?, ?, ?) RETURNING id",
		lt.Kind, lt.IdempotencyKey, lt.Memo, lt.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	now := s.Now()
	var q strings.Builder
	q.WriteString("INSERT INTO ledger_entries (transaction_id, account_id, amount, currency) VALUES ")
	args := make([]any, 0, 4*len(b.Postings))
	for i, p := range b.Postings {
		id, err := s.post(tx, p, b.Currency, now)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?)")
		args = append(args, lt.ID, id, p.Amount, b.Currency)
	}
	if err := rawExec(tx, q.String(), args...); err != nil { // one INSERT for all entries
		return nil, err
	}
	return &lt, nil
}

// post moves one posting's amount on its account's balance and returns the
// account id. The usual case is one statement: the conditional UPDATE finds
// the account by code and currency and returns its id. Only when it changes
// nothing (a new account, another currency or too little balance) does it
// take the long way to tell which.
func (s *Store) post(tx *gorm.DB, p Posting, currency string, now time.Time) (uint, error) {
	var id uint
	rows, err := rawQuery(tx, "UPDATE ledger_accounts SET balance = balance + ?, updated_at = ? "+
		"WHERE code = ? AND currency = ? AND (allow_negative OR balance + ? >= 0) RETURNING id",
		p.Amount, now, p.Account, currency, p.Amount)
	if err != nil {
		return 0, err
	}
	found := rows.Next()
	if found {
		err = rows.Scan(&id)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil || found {
		return id, err
	}
	acc, err := ensureAccount(tx, p.Account, currency)
	if err != nil {
		return 0, err
	}
	if acc.Currency != currency {
		return 0, fmt.Errorf("ledger: account %s is in %s, not %s", acc.Code, acc.Currency, currency)
	}
	res := tx.Model(&LedgerAccount{}).
		Where("id = ? AND (allow_negative OR balance + ? >= 0)", acc.ID, p.Amount).
		Updates(map[string]any{"balance": gorm.Expr("balance + ?", p.Amount), "updated_at": now})
	if res.Error != nil {
		return 0, res.Error
	}
	if res.RowsAffected != 1 {
		return 0, ErrInsufficientBalance
	}
	return acc.ID, nil
}

// ensureAccount returns the account with code, creating it on first use
// (race-free: insert-or-ignore, then read).
func ensureAccount(tx *gorm.DB, code, currency string) (*LedgerAccount, error) {
	acc := LedgerAccount{Code: code, Currency: currency, AllowNegative: allowsNegative(code)}
	if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "code"}}, DoNothing: true}).Create(&acc).Error; err != nil {
		return nil, err
	}
	if acc.ID == 0 {
		if err := tx.Where("code = ?", code).First(&acc).Error; err != nil {
			return nil, err
		}
	}
	return &acc, nil
}

// balanceTx reads an account's balance inside a transaction.
func balanceTx(tx *gorm.DB, code string) (int64, error) {
	var acc LedgerAccount
	err := tx.Where("code = ?", code).First(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	return acc.Balance, err
}

// AccountBalance returns an account's balance (0 for an account never used).
func (s *Store) AccountBalance(ctx context.Context, code string) (int64, error) {
	var acc LedgerAccount
	err := s.db.WithContext(ctx).Where("code = ?", code).First(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	return acc.Balance, err
}

// GrantCredit books an invoice payment: cash:invoice → company credit. The
// optional idempotency key makes repeating the same grant harmless.
func (s *Store) GrantCredit(ctx context.Context, companyID uint, amountCents int64, idemKey, memo string, a Actor) (*LedgerTransaction, error) {
	if amountCents <= 0 || amountCents > 100_000_000_00 {
		return nil, ValidationErrors{"amount_cents": MsgInvalid}
	}
	var lt *LedgerTransaction
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var c Company
		if err := tx.Preload("Region").First(&c, companyID).Error; err != nil {
			return notFound(err)
		}
		var err error
		lt, err = s.book(tx, Booking{Kind: "credit.invoice", IdempotencyKey: idemKey, Memo: memo,
			Currency: c.Region.Currency, Postings: Move(AccountCashInvoice, AccountCompanyCredit(c.ID), amountCents)})
		if err != nil {
			return err
		}
		return audit(tx, a, "credit.granted", "company", &c.ID, map[string]any{"amount_cents": amountCents, "ledger_tx": lt.ID})
	})
	if errors.Is(err, ErrAlreadyBooked) {
		return lt, nil
	}
	return lt, err
}

// LedgerProblem is one broken invariant found by VerifyLedger.
type LedgerProblem struct {
	Check  string
	Detail string
}

func (p LedgerProblem) String() string { return p.Check + ": " + p.Detail }

// VerifyLedger checks every invariant of the books and returns what is
// broken (an empty slice means all hold):
//   - every transaction has at least two entries and sums to zero;
//   - every entry has its account's currency;
//   - every account's cached balance equals the sum of its entries;
//   - no wallet account (company credit, voucher, merchant payable,
//     commission) is below zero;
//   - all balances together sum to zero per currency;
//   - refunds never exceed the top-ups paid, refund reserves equal the
//     open requests, shortfalls are all recorded (verifyRefunds);
//   - reversed transfers never exceed their payouts and are held or
//     released exactly once (verifyReversals);
//   - each payout's statement items cover it (verifyPayoutItems).
//
// Domain tables that mirror an account (vouchers) add their checks here as
// they are introduced.
func (s *Store) VerifyLedger(ctx context.Context) ([]LedgerProblem, error) {
	db := s.db.WithContext(ctx)
	var out []LedgerProblem
	type txSum struct {
		TransactionID uint
		N             int64
		Total         int64
	}
	var bad []txSum
	if err := db.Model(&LedgerEntry{}).Select("transaction_id, COUNT(*) AS n, SUM(amount) AS total").
		Group("transaction_id").Having("SUM(amount) <> 0 OR COUNT(*) < 2").Scan(&bad).Error; err != nil {
		return nil, err
	}
	for _, b := range bad {
		out = append(out, LedgerProblem{"transaction_balanced", fmt.Sprintf("transaction %d has %d entries summing to %d", b.TransactionID, b.N, b.Total)})
	}
	var empty []uint
	if err := db.Model(&LedgerTransaction{}).Where("NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = ledger_transactions.id)").
		Pluck("id", &empty).Error; err != nil {
		return nil, err
	}
	for _, id := range empty {
		out = append(out, LedgerProblem{"transaction_balanced", fmt.Sprintf("transaction %d has no entries", id)})
	}
	var mixed int64
	if err := db.Table("ledger_entries e").Joins("JOIN ledger_accounts a ON a.id = e.account_id").
		Where("e.currency <> a.currency").Count(&mixed).Error; err != nil {
		return nil, err
	}
	if mixed > 0 {
		out = append(out, LedgerProblem{"currency", fmt.Sprintf("%d entries differ from their account's currency", mixed)})
	}
	type accSum struct {
		Code          string
		Balance       int64
		Sum           int64
		AllowNegative bool
	}
	var accs []accSum
	if err := db.Table("ledger_accounts a").
		Select("a.code, a.balance, a.allow_negative, COALESCE((SELECT SUM(e.amount) FROM ledger_entries e WHERE e.account_id = a.id), 0) AS sum").
		Order("a.code").Scan(&accs).Error; err != nil {
		return nil, err
	}
	for _, a := range accs {
		if a.Balance != a.Sum {
			out = append(out, LedgerProblem{"account_balance", fmt.Sprintf("%s: cached balance %d, entries sum to %d", a.Code, a.Balance, a.Sum)})
		}
		if !a.AllowNegative && a.Sum < 0 {
			out = append(out, LedgerProblem{"non_negative", fmt.Sprintf("%s is below zero: %d", a.Code, a.Sum)})
		}
		if a.AllowNegative != allowsNegative(a.Code) {
			out = append(out, LedgerProblem{"account_kind", fmt.Sprintf("%s has the wrong negative-balance flag", a.Code)})
		}
	}
	type curSum struct {
		Currency string
		Total    int64
	}
	var cs []curSum
	if err := db.Model(&LedgerAccount{}).Select("currency, SUM(balance) AS total").Group("currency").Scan(&cs).Error; err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Total != 0 {
			out = append(out, LedgerProblem{"books_balanced", fmt.Sprintf("%s balances sum to %d", c.Currency, c.Total)})
		}
	}
	gp, err := s.verifyGifts(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, gp...)
	pp, err := s.verifyPayouts(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, pp...)
	for _, check := range []func(context.Context) ([]LedgerProblem, error){s.verifyRefunds, s.verifyReversals, s.verifyPayoutItems} {
		ps, err := check(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}
