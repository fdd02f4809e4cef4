package models_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// Two stores (two instances' pools) claim one mail queue from eight
// goroutines at once: every mail is leased exactly once, leases hold
// until released or expired, and a release only frees the holder's rows.
func TestClaimJobsAcrossStores(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			url := storetest.DatabaseURL(t, d)
			a, b := storetest.NewStoreAt(t, url), storetest.NewStoreAt(t, url)
			ctx := t.Context()
			const n = 120
			for i := range n {
				if err := a.EnqueueMail(ctx, models.Mail{To: fmt.Sprintf("k%d@example.com", i), Subject: "s", Text: "t"}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			claimed := map[uint]int{}
			// Each store holds a few leases for certain before the race
			// (on SQLite one process's write queue may otherwise win every
			// claim), so the release check below sees rows of both.
			for _, s := range []*models.Store{a, b} {
				ms, err := s.ClaimMails(ctx, 5, time.Minute)
				if err != nil || len(ms) != 5 {
					t.Fatalf("pre-claim: %d %v", len(ms), err)
				}
				for _, m := range ms {
					claimed[m.ID]++
				}
			}
			var wg sync.WaitGroup
			for g := range 8 {
				s := []*models.Store{a, b}[g%2]
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						ms, err := s.ClaimMails(ctx, 7, time.Minute)
						if err != nil {
							t.Error(err)
							return
						}
						if len(ms) == 0 {
							return
						}
						mu.Lock()
						for _, m := range ms {
							claimed[m.ID]++
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(claimed) != n {
				t.Fatalf("claimed %d of %d mails", len(claimed), n)
			}
			for id, c := range claimed {
				if c != 1 {
					t.Fatalf("mail %d claimed %d times", id, c)
				}
			}
			// Everything is leased: nothing more to claim.
			if ms, _ := b.ClaimMails(ctx, 10, time.Minute); len(ms) != 0 {
				t.Fatalf("claimed %d leased mails", len(ms))
			}
			// a releases all ids: only its own rows come back.
			ids := make([]uint, 0, n)
			for id := range claimed {
				ids = append(ids, id)
			}
			if err := a.ReleaseMails(ctx, ids); err != nil {
				t.Fatal(err)
			}
			var free, heldByB int64
			a.DB().Model(&models.Mail{}).Where("locked_until IS NULL AND locked_by = ''").Count(&free)
			a.DB().Model(&models.Mail{}).Where("locked_by = ?", b.Owner()).Count(&heldByB)
			if free+heldByB != n || heldByB == 0 || free == 0 {
				t.Fatalf("after a's release: %d free, %d still b's", free, heldByB)
			}
			ms, err := b.ClaimMails(ctx, n, time.Minute)
			if err != nil || int64(len(ms)) != free {
				t.Fatalf("re-claimed %d of %d released: %v", len(ms), free, err)
			}
		})
	}
}

// Of many concurrent runs asking for the same lease, exactly one gets it;
// it can extend it, and after release (or expiry) another run gets it.
func TestJobLease(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			url := storetest.DatabaseURL(t, d)
			stores := []*models.Store{storetest.NewStoreAt(t, url), storetest.NewStoreAt(t, url)}
			ctx := t.Context()
			holders := make([]string, 10)
			got := make([]bool, 10)
			var wg sync.WaitGroup
			for i := range holders {
				holders[i] = models.NewLeaseHolder()
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := stores[i%2].AcquireLease(ctx, "settlement", holders[i], time.Minute)
					if err != nil {
						t.Error(err)
					}
					got[i] = ok
				}()
			}
			wg.Wait()
			winner := -1
			for i, ok := range got {
				if ok {
					if winner >= 0 {
						t.Fatalf("runs %d and %d both hold the lease", winner, i)
					}
					winner = i
				}
			}
			if winner < 0 {
				t.Fatal("nobody got the lease")
			}
			other := (winner + 1) % len(holders)
			if ok, _ := stores[0].AcquireLease(ctx, "settlement", holders[winner], time.Minute); !ok {
				t.Fatal("the holder could not extend its lease")
			}
			if ok, _ := stores[1].AcquireLease(ctx, "lifecycle", holders[other], time.Minute); !ok {
				t.Fatal("another lease name is independent")
			}
			// Releasing someone else's lease does nothing.
			if err := stores[1].ReleaseLease(ctx, "settlement", holders[other]); err != nil {
				t.Fatal(err)
			}
			if ok, _ := stores[1].AcquireLease(ctx, "settlement", holders[other], time.Minute); ok {
				t.Fatal("got a lease that is held")
			}
			if err := stores[0].ReleaseLease(ctx, "settlement", holders[winner]); err != nil {
				t.Fatal(err)
			}
			if ok, _ := stores[1].AcquireLease(ctx, "settlement", holders[other], 50*time.Millisecond); !ok {
				t.Fatal("released lease not available")
			}
			time.Sleep(100 * time.Millisecond)
			if ok, _ := stores[0].AcquireLease(ctx, "settlement", holders[winner], time.Minute); !ok {
				t.Fatal("expired lease not available")
			}
		})
	}
}
