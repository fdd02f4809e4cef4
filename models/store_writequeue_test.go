package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// TestWriteQueueFailuresStayInTheirSavepoint queues many write transactions
// behind one that holds the queue, so on SQLite they run as one batch in one
// database transaction: spends the wallet cannot cover, repeated
// idempotency keys, a panic, a caller that gives up before its turn and one
// that gives up during it. Each failure leaves nothing behind (not even the
// marker row it wrote first), each success is stored exactly once, and the
// books balance.
func TestWriteQueueFailuresStayInTheirSavepoint(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			_, c := storetest.MustCompany(t, s, "Batch KG")
			if _, err := s.GrantCredit(ctx, c.ID, 10_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			credit := models.AccountCompanyCredit(c.ID)
			mark := func(tx *gorm.DB, name string) error {
				return tx.Create(&models.KV{Key: "mark:" + name, Value: []byte("x")}).Error
			}

			// The blocker holds the queue until everything else waits in it.
			holding, release := make(chan struct{}), make(chan struct{})
			blocked := make(chan error, 1)
			go func() {
				blocked <- s.TestTx(ctx, func(tx *gorm.DB) error {
					close(holding)
					<-release
					return mark(tx, "blocker")
				})
			}()
			<-holding

			var wg sync.WaitGroup
			var mu sync.Mutex
			results := map[string]error{}
			queued := 0
			run := func(name string, ctx context.Context, fn func(tx *gorm.DB) error) {
				queued++
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.TestTx(ctx, fn)
					mu.Lock()
					results[name] = err
					mu.Unlock()
				}()
			}
			// 20 spends of 1 € from a 10 € wallet: 10 succeed.
			for i := 0; i < 20; i++ {
				name := fmt.Sprintf("spend-%d", i)
				run(name, ctx, func(tx *gorm.DB) error {
					if err := mark(tx, name); err != nil {
						return err
					}
					return s.TestBook(tx, "", credit, "test:sink", 1_00)
				})
			}
			// 8 bookings with one idempotency key: one is booked.
			for i := 0; i < 8; i++ {
				name := fmt.Sprintf("dup-%d", i)
				run(name, ctx, func(tx *gorm.DB) error {
					if err := mark(tx, name); err != nil {
						return err
					}
					return s.TestBook(tx, "batch:dup", models.AccountCashInvoice, "test:dup", 3_00)
				})
			}
			// A panic reaches its caller; its marker is rolled back.
			panicked := make(chan any, 1)
			queued++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { panicked <- recover() }()
				s.TestTx(ctx, func(tx *gorm.DB) error {
					if err := mark(tx, "panic"); err != nil {
						return err
					}
					panic("boom")
				})
			}()
			sqlite := d == "sqlite"
			var ranAbandoned bool
			if sqlite {
				// Gives up before its turn: its function never runs.
				early, cancelEarly := context.WithCancel(ctx)
				run("abandoned", early, func(tx *gorm.DB) error {
					ranAbandoned = true
					return mark(tx, "abandoned")
				})
				// Gives up during its turn: its statements are not
				// interrupted (that would roll back the whole batch), and
				// it hears the committed outcome.
				late, cancelLate := context.WithCancel(ctx)
				run("impatient", late, func(tx *gorm.DB) error {
					cancelLate()
					return mark(tx, "impatient")
				})
				deadline := time.Now().Add(10 * time.Second)
				for s.TestQueuedWrites() < queued && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				if n := s.TestQueuedWrites(); n != queued {
					t.Fatalf("%d of %d writes queued", n, queued)
				}
				cancelEarly()
				for {
					mu.Lock()
					_, done := results["abandoned"]
					mu.Unlock()
					if done {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			close(release)
			wg.Wait()
			if err := <-blocked; err != nil {
				t.Fatalf("blocker: %v", err)
			}
			if v := <-panicked; v != "boom" {
				t.Fatalf("panic seen by its caller: %v", v)
			}

			want := map[string]bool{"mark:blocker": true} // markers that must exist
			spent, short := 0, 0
			dups := 0
			for name, err := range results {
				switch {
				case err == nil:
					want["mark:"+name] = true
					if name[:4] == "spen" {
						spent++
					}
					if name[:4] == "dup-" {
						dups++
					}
				case errors.Is(err, models.ErrInsufficientBalance) && name[:4] == "spen":
					short++
				case name[:4] == "dup-":
					// already booked, or (PostgreSQL, concurrently) the unique index
				case name == "abandoned" && errors.Is(err, context.Canceled):
				default:
					t.Errorf("%s: %v", name, err)
				}
			}
			if spent != 10 || short != 10 || dups != 1 {
				t.Errorf("spent %d short %d booked dups %d", spent, short, dups)
			}
			if sqlite && (ranAbandoned || results["impatient"] != nil) {
				t.Errorf("abandoned ran: %v; impatient: %v", ranAbandoned, results["impatient"])
			}
			var keys []string
			if err := s.DB().Model(&models.KV{}).Where("key LIKE ?", "mark:%").Pluck("key", &keys).Error; err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, k := range keys {
				got[k] = true
			}
			if len(got) != len(want) {
				t.Errorf("markers %v, want %v", keys, want)
			}
			for k := range want {
				if !got[k] {
					t.Errorf("marker %s missing", k)
				}
			}
			if bal, _ := s.AccountBalance(ctx, credit); bal != 0 {
				t.Errorf("credit left %d", bal)
			}
			if bal, _ := s.AccountBalance(ctx, "test:dup"); bal != 3_00 {
				t.Errorf("dup booked %d", bal)
			}
			if problems, err := s.VerifyLedger(ctx); err != nil || len(problems) != 0 {
				t.Fatalf("verify: %v %v", err, problems)
			}
		})
	}
}
