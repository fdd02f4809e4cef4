package models_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

func TestStripeAccountIDSetOnce(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			_, m := storetest.MustMerchant(t, s, "Kiosk Eins", "Köln")
			_, other := storetest.MustMerchant(t, s, "Kiosk Zwei", "Köln")

			// Concurrent "double clicks": exactly one id is kept and every
			// caller gets that one back.
			var wg sync.WaitGroup
			got := make([]string, 4)
			errs := make([]error, 4)
			for i := range got {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i], errs[i] = s.SetStripeAccountID(ctx, m.ID, "acct_try"+string(rune('A'+i)), models.ActorSystem)
				}()
			}
			wg.Wait()
			for i := range got {
				if errs[i] != nil || got[i] != got[0] {
					t.Fatalf("caller %d: %q %v, first %q", i, got[i], errs[i], got[0])
				}
			}
			fresh, err := s.MerchantStripeStatus(ctx, m.ID)
			if err != nil || fresh.StripeAccount() != got[0] {
				t.Fatalf("stored %q, want %q (%v)", fresh.StripeAccount(), got[0], err)
			}
			if fresh.CityKey != "koeln" || fresh.Name != "Kiosk Eins" {
				t.Fatalf("other columns changed: %+v", fresh)
			}
			// Another merchant cannot take the same account.
			if _, err := s.SetStripeAccountID(ctx, other.ID, got[0], models.ActorSystem); !errors.Is(err, models.ErrConflict) {
				t.Fatalf("shared account: %v", err)
			}
			if _, err := s.SetStripeAccountID(ctx, 99999, "acct_nobody", models.ActorSystem); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("unknown merchant: %v", err)
			}
		})
	}
}

func TestStripeAccountStateOrder(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			_, m := storetest.MustMerchant(t, s, "Laden Ordnung", "Bonn")
			if _, err := s.SetStripeAccountID(ctx, m.ID, "acct_order", models.ActorSystem); err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			newer := models.StripeAccountState{AccountID: "acct_order", ChargesEnabled: true, PayoutsEnabled: true, DetailsSubmitted: true, AsOf: t0.Add(time.Minute)}
			older := models.StripeAccountState{AccountID: "acct_order", CurrentlyDue: []string{"external_account"}, AsOf: t0}
			got, err := s.SetStripeAccountState(ctx, newer)
			if err != nil || !got.PayoutsEnabled || len(got.CurrentlyDue()) != 0 {
				t.Fatalf("newer: %+v %v", got, err)
			}
			if _, err := s.SetStripeAccountState(ctx, older); !errors.Is(err, models.ErrStaleState) {
				t.Fatalf("older state applied: %v", err)
			}
			// The same moment again (a redelivery) is harmless.
			if _, err := s.SetStripeAccountState(ctx, newer); err != nil {
				t.Fatal(err)
			}
			fresh, _ := s.MerchantStripeStatus(ctx, m.ID)
			if !fresh.PayoutsEnabled || !fresh.StripeReady() || fresh.StripeUpdatedAt == nil || !fresh.StripeUpdatedAt.Equal(newer.AsOf) {
				t.Fatalf("state after stale event: %+v", fresh.MerchantStripe)
			}
			later := models.StripeAccountState{AccountID: "acct_order", CurrentlyDue: []string{"external_account", "tos_acceptance.date"}, AsOf: t0.Add(time.Hour)}
			if got, err := s.SetStripeAccountState(ctx, later); err != nil || got.PayoutsEnabled || len(got.CurrentlyDue()) != 2 {
				t.Fatalf("later: %+v %v", got, err)
			}
			if _, err := s.SetStripeAccountState(ctx, models.StripeAccountState{AccountID: "acct_unknown", AsOf: t0}); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("unknown account: %v", err)
			}
		})
	}
}

func TestStripeEventClaim(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			in := models.StripeEvent{EventID: "evt_1", Type: "account.updated", APIVersion: "x", Payload: "{}"}
			ev, done, err := s.ClaimStripeEvent(ctx, in)
			if err != nil || done || ev.Attempts != 1 {
				t.Fatalf("first claim: %+v %v %v", ev, done, err)
			}
			// A second delivery while the first is still working waits.
			if _, _, err := s.ClaimStripeEvent(ctx, in); !errors.Is(err, models.ErrEventBusy) {
				t.Fatalf("concurrent claim: %v", err)
			}
			// A failure leaves it unprocessed; the next delivery retries.
			if err := s.FinishStripeEvent(ctx, ev.ID, "failed", errors.New("boom"), false); err != nil {
				t.Fatal(err)
			}
			ev2, done, err := s.ClaimStripeEvent(ctx, in)
			if err != nil || done || ev2.ID != ev.ID || ev2.Attempts != 2 {
				t.Fatalf("retry claim: %+v %v %v", ev2, done, err)
			}
			if err := s.FinishStripeEvent(ctx, ev.ID, models.StripeResultApplied, nil, false); err != nil {
				t.Fatal(err)
			}
			if _, done, err := s.ClaimStripeEvent(ctx, in); err != nil || !done {
				t.Fatalf("duplicate after success: %v %v", done, err)
			}
			stored, err := s.StripeEventByID(ctx, "evt_1")
			if err != nil || stored.ProcessedAt == nil || stored.Error != "" || stored.Result != models.StripeResultApplied || stored.Attempts != 2 {
				t.Fatalf("stored: %+v %v", stored, err)
			}
			if _, _, err := s.ClaimStripeEvent(ctx, models.StripeEvent{}); err == nil {
				t.Fatal("event without id stored")
			}
		})
	}
}

func TestMerchantAPIKeysIsolated(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t, "sqlite")
	ctx := t.Context()
	_, a := storetest.MustMerchant(t, s, "Laden A", "Köln")
	_, b := storetest.MustMerchant(t, s, "Laden B", "Köln")
	_, ka, err := s.CreateAPIKey(ctx, nil, &a.ID, "shop", models.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	secretB, kb, err := s.CreateAPIKey(ctx, nil, &b.ID, "shop", models.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeMerchantAPIKey(ctx, a.ID, kb.ID, models.ActorCLI); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("A revoked B's key: %v", err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, secretB); err != nil {
		t.Fatalf("B's key no longer works: %v", err)
	}
	if ks, err := s.MerchantAPIKeys(ctx, a.ID); err != nil || len(ks) != 1 || ks[0].ID != ka.ID {
		t.Fatalf("A's keys: %+v %v", ks, err)
	}
	for i := 0; i < 2; i++ {
		if err := s.RevokeMerchantAPIKey(ctx, b.ID, kb.ID, models.ActorCLI); err != nil {
			t.Fatalf("revoke #%d: %v", i, err)
		}
	}
	if _, err := s.AuthenticateAPIKey(ctx, secretB); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("revoked key works: %v", err)
	}
}
