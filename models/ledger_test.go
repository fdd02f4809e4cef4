package models_test

import (
	"errors"
	"sync"
	"testing"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

func TestLedgerGrantAndVerify(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			_, c := storetest.MustCompany(t, s, "Ledger AG")

			lt, err := s.GrantCredit(ctx, c.ID, 250_00, "invoice:2026-1", "first", models.ActorCLI)
			if err != nil {
				t.Fatal(err)
			}
			again, err := s.GrantCredit(ctx, c.ID, 250_00, "invoice:2026-1", "first", models.ActorCLI)
			if err != nil || again.ID != lt.ID {
				t.Fatalf("repeated grant booked again: %v %d vs %d", err, again.ID, lt.ID)
			}
			if _, err := s.GrantCredit(ctx, c.ID, 50_00, "", "second", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			bal, _ := s.AccountBalance(ctx, models.AccountCompanyCredit(c.ID))
			cash, _ := s.AccountBalance(ctx, models.AccountCashInvoice)
			if bal != 300_00 || cash != -300_00 {
				t.Fatalf("credit %d cash %d", bal, cash)
			}
			for _, bad := range []int64{0, -5, 1 << 60} {
				if _, err := s.GrantCredit(ctx, c.ID, bad, "", "", models.ActorCLI); !isValidation(err) {
					t.Errorf("amount %d: %v", bad, err)
				}
			}
			if _, err := s.GrantCredit(ctx, 999999, 100, "", "", models.ActorCLI); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("unknown company: %v", err)
			}
			problems, err := s.VerifyLedger(ctx)
			if err != nil || len(problems) != 0 {
				t.Fatalf("verify: %v %v", err, problems)
			}
			var audits int64
			s.DB().Model(&models.AuditLog{}).Where("action = ?", "credit.granted").Count(&audits)
			if audits != 2 {
				t.Fatalf("audit entries: %d", audits)
			}

			// Tampering is found: a cached balance that disagrees with its
			// entries, an unbalanced transaction, a wallet below zero.
			db := s.DB()
			db.Exec("UPDATE ledger_accounts SET balance = balance + 1 WHERE code = ?", models.AccountCompanyCredit(c.ID))
			db.Exec("UPDATE ledger_entries SET amount = amount - 7 WHERE id = (SELECT MIN(id) FROM ledger_entries)")
			problems, err = s.VerifyLedger(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checks := map[string]bool{}
			for _, p := range problems {
				checks[p.Check] = true
			}
			for _, want := range []string{"account_balance", "transaction_balanced", "books_balanced"} {
				if !checks[want] {
					t.Errorf("tampering not reported as %s: %v", want, problems)
				}
			}
		})
	}
}

func isValidation(err error) bool {
	var v models.ValidationErrors
	return errors.As(err, &v)
}

// TestLedgerWalletNeverNegativeUnderConcurrency spends one wallet from many
// goroutines at once through the conditional UPDATE in book: exactly as
// many spends succeed as the balance covers.
func TestLedgerWalletNeverNegativeUnderConcurrency(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			_, c := storetest.MustCompany(t, s, "Race GmbH")
			if _, err := s.GrantCredit(ctx, c.ID, 40_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok, short, other := 0, 0, []error{}
			for i := 0; i < 100; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.TestSpend(ctx, models.AccountCompanyCredit(c.ID), "test:sink", 1_00)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case errors.Is(err, models.ErrInsufficientBalance):
						short++
					default:
						other = append(other, err)
					}
				}()
			}
			wg.Wait()
			if ok != 40 || short != 60 || len(other) > 0 {
				t.Fatalf("ok=%d short=%d other=%v", ok, short, other)
			}
			bal, _ := s.AccountBalance(ctx, models.AccountCompanyCredit(c.ID))
			if bal != 0 {
				t.Fatalf("balance %d", bal)
			}
			if problems, err := s.VerifyLedger(ctx); err != nil || len(problems) != 0 {
				t.Fatalf("verify: %v %v", err, problems)
			}
		})
	}
}
