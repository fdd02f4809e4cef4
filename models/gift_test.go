package models_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

func TestGiftExpiry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ issued, want string }{
		{"2026-05-10T12:00:00Z", "2029-12-31T22:59:59Z"},
		// 31 Dec 23:30 UTC is already 1 Jan in Berlin: the next year counts.
		{"2026-12-31T23:30:00Z", "2030-12-31T22:59:59Z"},
		{"2026-01-01T00:00:00Z", "2029-12-31T22:59:59Z"},
	} {
		issued, _ := time.Parse(time.RFC3339, tc.issued)
		if got := models.GiftExpiry(issued).Format(time.RFC3339); got != tc.want {
			t.Errorf("issued %s: expires %s, want %s", tc.issued, got, tc.want)
		}
	}
}

// TestGiftModelRules covers the store's rules directly: reservation,
// limits for agents but not admins, foreign members, cancel and decline.
func TestGiftModelRules(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			admin, c := storetest.MustCompany(t, s, "Modell AG")
			_, m := storetest.MustMerchant(t, s, "Laden Eins", "Köln")
			s.DB().Model(&models.Merchant{}).Where("id = ?", m.ID).Update("status", models.MerchantApproved)
			if _, err := s.GrantCredit(ctx, c.ID, 100_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			agent, err := s.CreateUser(ctx, models.NewUser{Email: "agent@modell.example", Name: "Agent", Password: "correct horse battery"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AddMember(ctx, agent.ID, &c.ID, nil, models.RoleCompanyAgent); err != nil {
				t.Fatal(err)
			}
			stranger, _ := storetest.MustCompany(t, s, "Fremd GmbH")
			in := func(amount int64, key string) models.GiftInput {
				return models.GiftInput{RecipientEmail: "k@example.com", AmountCents: amount, MerchantIDs: []uint{m.ID}, IdempotencyKey: key}
			}
			asAgent := models.GiftSender{CompanyID: c.ID, UserID: &agent.ID}
			asAdmin := models.GiftSender{CompanyID: c.ID, UserID: &admin.ID}

			if _, _, err := s.SendGift(ctx, nil, models.GiftSender{CompanyID: c.ID, UserID: &stranger.ID}, in(5_00, "")); !errors.Is(err, models.ErrForbidden) {
				t.Fatalf("stranger sends: %v", err)
			}
			// Agent limits: set by the admin only.
			ten, twenty := int64(10_00), int64(20_00)
			if err := s.SetAgentLimit(ctx, c.ID, agent.ID, agent.ID, &ten, &twenty); !errors.Is(err, models.ErrForbidden) {
				t.Fatalf("agent sets own limits: %v", err)
			}
			if err := s.SetAgentLimit(ctx, c.ID, admin.ID, agent.ID, &ten, &twenty); err != nil {
				t.Fatal(err)
			}
			g1, created, err := s.SendGift(ctx, nil, asAgent, in(10_00, "a"))
			if err != nil || !created || g1.Status != models.GiftSent {
				t.Fatalf("within: %v %v", err, g1)
			}
			g2, _, err := s.SendGift(ctx, nil, asAgent, in(11_00, "b"))
			if err != nil || g2.Status != models.GiftPendingApproval {
				t.Fatalf("over per-gift: %v %v", err, g2)
			}
			g3, _, _ := s.SendGift(ctx, nil, asAgent, in(10_00, "c"))
			g4, _, _ := s.SendGift(ctx, nil, asAgent, in(5_00, "d"))
			if g3.Status != models.GiftSent || g4.Status != models.GiftPendingApproval {
				t.Fatalf("monthly budget: %s %s", g3.Status, g4.Status)
			}
			// Admins have no limits; the pending ones still hold their money.
			g5, _, err := s.SendGift(ctx, nil, asAdmin, in(50_00, "e"))
			if err != nil || g5.Status != models.GiftSent {
				t.Fatalf("admin: %v %v", err, g5)
			}
			bal, _ := s.CompanyBalance(ctx, c.ID)
			if bal.AvailableCents != 100_00-86_00 || bal.ReservedCents != 86_00 {
				t.Fatalf("balance %+v", bal)
			}
			if _, _, err := s.SendGift(ctx, nil, asAdmin, in(15_00, "f")); !errors.Is(err, models.ErrInsufficientBalance) {
				t.Fatalf("overspend: %v", err)
			}
			// Only admins decide; a decided gift cannot be decided again.
			if _, err := s.ApproveGift(ctx, c.ID, agent.ID, g2.PublicID, ""); !errors.Is(err, models.ErrForbidden) {
				t.Fatalf("agent approves: %v", err)
			}
			if _, err := s.DeclineGift(ctx, c.ID, admin.ID, g2.PublicID, "zu viel"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ApproveGift(ctx, c.ID, admin.ID, g2.PublicID, ""); !errors.Is(err, models.ErrConflict) {
				t.Fatalf("approve declined: %v", err)
			}
			if g, _ := s.ApproveGift(ctx, c.ID, admin.ID, g4.PublicID, "ok"); g.Status != models.GiftSent {
				t.Fatalf("approve: %v", g.Status)
			}
			if _, err := s.CancelGift(ctx, models.GiftCanceller{CompanyID: c.ID, UserID: &agent.ID}, g5.PublicID); !errors.Is(err, models.ErrForbidden) {
				t.Fatalf("agent cancels admin's gift: %v", err)
			}
			if _, err := s.CancelGift(ctx, models.GiftCanceller{CompanyID: c.ID, UserID: &agent.ID}, g1.PublicID); err != nil {
				t.Fatal(err)
			}
			bal, _ = s.CompanyBalance(ctx, c.ID)
			if bal.AvailableCents != 100_00-65_00 || bal.ReservedCents != 65_00 {
				t.Fatalf("balance after decline and cancel %+v", bal)
			}
			if problems, err := s.VerifyLedger(ctx); err != nil || len(problems) > 0 {
				t.Fatalf("ledger: %v %v", err, problems)
			}
		})
	}
}

// A partner's monthly cap and holiday pause stop new gifts to it; gifts
// already issued stay valid, and cancelled gifts free their place.
func TestGiftRespectsMerchantCapacity(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			admin, c := storetest.MustCompany(t, s, "Kapazität AG")
			_, m := storetest.MustMerchant(t, s, "Voller Laden", "Bonn")
			s.DB().Model(&models.Merchant{}).Where("id = ?", m.ID).Updates(map[string]any{"status": models.MerchantApproved, "monthly_gift_cap": 2})
			if _, err := s.GrantCredit(ctx, c.ID, 100_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			sender := models.GiftSender{CompanyID: c.ID, UserID: &admin.ID}
			send := func(key string) (*models.Gift, error) {
				g, _, err := s.SendGift(ctx, nil, sender, models.GiftInput{RecipientEmail: key + "@example.com", AmountCents: 5_00, MerchantIDs: []uint{m.ID}, IdempotencyKey: key})
				return g, err
			}
			g1, err := send("a")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := send("b"); err != nil {
				t.Fatal(err)
			}
			var v models.ValidationErrors
			if _, err := send("c"); !errors.As(err, &v) || v["merchant_ids"] == "" {
				t.Fatalf("third gift over a cap of 2: %v", err)
			}
			if _, err := s.CancelGift(ctx, models.GiftCanceller{CompanyID: c.ID, UserID: &admin.ID}, g1.PublicID); err != nil {
				t.Fatal(err)
			}
			if _, err := send("d"); err != nil {
				t.Fatalf("cancelled gift did not free its place: %v", err)
			}
			s.DB().Model(&models.Merchant{}).Where("id = ?", m.ID).Updates(map[string]any{"monthly_gift_cap": 0, "gifts_paused": true})
			if _, err := send("e"); !errors.As(err, &v) {
				t.Fatalf("gift to a paused partner: %v", err)
			}
			if credit, _ := s.AccountBalance(ctx, models.AccountCompanyCredit(c.ID)); credit != 90_00 {
				t.Fatalf("credit %d: refused gifts must not reserve money", credit)
			}
		})
	}
}

func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	const want = "7K3M0Q9XD2HBT1WPARC5"
	for _, in := range []string{"7K3M-0Q9X-D2HB-T1WP-ARC5", "7k3m 0q9x d2hb t1wp arc5", "7K3MOQ9XD2HBTLWPARC5", "7K3M-oQ9X-D2HB-TIWP-ARC5"} {
		if got, ok := models.NormalizeCode(in); !ok || got != want {
			t.Errorf("NormalizeCode(%q) = %q, %v", in, got, ok)
		}
	}
	if got, ok := models.NormalizeCode("7K3M-0Q9X-D2HB-TVWP-ARC5"); !ok || got != "7K3M0Q9XD2HBTVWPARC5" {
		t.Errorf("V kept: %q", got)
	}
	if got, _ := models.NormalizeCode("7K3M-0Q9X-D2HB-TUWP-ARC5"); got != "7K3M0Q9XD2HBTVWPARC5" {
		t.Errorf("U read as V: %q", got)
	}
	for _, bad := range []string{"", "7K3M", "7K3M-0Q9X-D2HB-T1WP-ARC5-XXXX", "7K3M-0Q9X-D2HB-T1WP-ARC!", strings.Repeat("A", 100)} {
		if _, ok := models.NormalizeCode(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]string{"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2": "'-2", "@SUM": "'@SUM", "\tx": "'\tx", "Bäckerei": "Bäckerei", "": ""} {
		if got := models.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q", in, got)
		}
	}
	if models.Commission(12_50, 500) != 63 || models.Commission(10_00, 500) != 50 || models.Commission(1, 500) != 0 {
		t.Error("commission rounding")
	}
}
