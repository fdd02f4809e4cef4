package app_test

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// A company admin asks for unused credit back (422 on bad input, the
// amount reserved at once); the platform admin refunds through Stripe
// (stripe-mock), split over two top-ups, settles one by credit note and
// declines one (released). Stripe's charge.refunded echo of our own refund
// books nothing again.
func TestCreditRefunds(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newSettlementEnv(t, d)
			a, ctx := e.a, t.Context()
			old := e.paidTopup(t, 100_00)
			recent := e.paidTopup(t, 40_00)
			start := e.credit(t)

			chefin := apptest.NewClient(t, a.HTTP)
			chefin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
			if res := chefin.Get("/dashboard"); !strings.Contains(res.Body, `href="/company/refunds"`) {
				t.Fatal("dashboard lacks the refunds link")
			}
			for _, bad := range []url.Values{{"amount": {"viel"}}, {"amount": {"0"}}, {"amount": {models.Euros(start + 1)}}, {"amount": {"10"}, "reason": {strings.Repeat("x", 501)}}} {
				if res := chefin.PostForm("/company/refunds", bad); res.Status != 422 || !strings.Contains(res.Body, "field-error") {
					t.Errorf("%v: %d", bad, res.Status)
				}
			}
			if e.credit(t) != start {
				t.Fatal("a refused request moved credit")
			}
			if res := chefin.PostForm("/company/refunds", url.Values{"amount": {"120,00"}, "reason": {"Vertrag beendet"}}); res.Status != 303 {
				t.Fatalf("request: %d %s", res.Status, res.Body)
			}
			if e.credit(t) != start-120_00 {
				t.Fatal("amount not reserved")
			}
			// A merchant owner cannot reach it.
			other := apptest.NewClient(t, a.HTTP)
			other.Login(ownerEmail, ownerPassword)
			if res := other.Get("/company/refunds"); res.Status != 404 {
				t.Fatalf("merchant sees company refunds: %d", res.Status)
			}
			var rf models.CreditRefund
			a.DB.Where("company_id = ?", e.co.ID).Order("id DESC").First(&rf)

			admin := apptest.NewClient(t, a.HTTP)
			admin.Login("admin@trostpflaster.example", "demo-admin-2026")
			if res := admin.Get("/admin/refunds"); res.Status != 200 || !strings.Contains(res.Body, "Vertrag beendet") {
				t.Fatalf("admin list: %d", res.Status)
			}
			if res := chefin.Get("/admin/refunds"); res.Status != 404 {
				t.Fatalf("company admin sees the platform list: %d", res.Status)
			}
			if res := admin.PostForm("/admin/refunds/"+rf.PublicID+"/stripe", nil); res.Status != 303 {
				t.Fatalf("stripe refund: %d %s", res.Status, res.Body)
			}
			parts, _ := a.Store.RefundParts(ctx, rf.ID)
			if len(parts) != 2 || parts[0].TopupID != recent.ID || parts[0].AmountCents != 40_00 || parts[1].TopupID != old.ID || parts[1].AmountCents != 80_00 {
				t.Fatalf("split %+v", parts)
			}
			for _, p := range parts {
				if p.Status != models.RefundPartSucceeded || !strings.HasPrefix(p.StripeRefundID, "re_") || p.Key == "" {
					t.Fatalf("part %+v", p)
				}
			}
			got, _ := a.Store.CreditRefundByPublicID(ctx, rf.PublicID)
			if got.Status != models.CreditRefundRefunded || got.RefundedCents != 120_00 {
				t.Fatalf("request %+v", got)
			}
			// Stripe's echo of our refund of the old top-up books nothing.
			if r := postWebhook(t, a, chargeRefundedEvent("evt_echo", old.PaymentIntentID, "ch_old", 80_00, "re_ours"), testWebhookSecret, time.Now()); r.Status != 200 || !strings.Contains(r.Body, "already_booked") {
				t.Fatalf("echo: %d %s", r.Status, r.Body)
			}
			if e.credit(t) != start-120_00 {
				t.Fatal("echo moved credit")
			}
			// Deciding again is refused.
			if res := admin.PostForm("/admin/refunds/"+rf.PublicID+"/decline", nil); res.Status != 422 {
				t.Fatalf("decide twice: %d", res.Status)
			}
			// More than the top-ups can still cover: Stripe is refused, the
			// credit note needs its number, then settles it.
			if _, err := a.Store.GrantCredit(ctx, e.co.ID, 50_00, "inv-9", "invoice 9", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			rf2, err := a.Store.RequestCreditRefund(ctx, e.co.ID, 30_00, "", models.ActorCLI)
			if err != nil {
				t.Fatal(err)
			}
			if res := admin.PostForm("/admin/refunds/"+rf2.PublicID+"/stripe", nil); res.Status != 422 || !strings.Contains(res.Body, `id="refund-error"`) {
				t.Fatalf("uncovered stripe refund: %d", res.Status)
			}
			if res := admin.PostForm("/admin/refunds/"+rf2.PublicID+"/credit-note", url.Values{"note": {""}}); res.Status != 422 || !strings.Contains(res.Body, "field-error") {
				t.Fatalf("credit note without number: %d", res.Status)
			}
			if res := admin.PostForm("/admin/refunds/"+rf2.PublicID+"/credit-note", url.Values{"note": {"GS-2026-7"}}); res.Status != 303 {
				t.Fatalf("credit note: %d", res.Status)
			}
			// A declined request releases its amount.
			before := e.credit(t)
			rf3, _ := a.Store.RequestCreditRefund(ctx, e.co.ID, 5_00, "", models.ActorCLI)
			if res := admin.PostForm("/admin/refunds/"+rf3.PublicID+"/decline", url.Values{"note": {"bitte per Rechnung"}}); res.Status != 303 || e.credit(t) != before {
				t.Fatalf("decline: %d credit %d want %d", res.Status, e.credit(t), before)
			}
			if res := chefin.Get("/company/refunds"); res.Status != 200 || !strings.Contains(res.Body, "per Gutschrift erstattet") || !strings.Contains(res.Body, "abgelehnt") {
				t.Fatalf("company list: %d", res.Status)
			}
			if b, _ := a.Store.AccountBalance(ctx, models.AccountRefundReserve(e.co.ID)); b != 0 {
				t.Fatalf("reserve left %d", b)
			}
			if res := admin.Get("/admin/reconciliation"); res.Status != 200 || !strings.Contains(res.Body, old.PublicID) {
				t.Fatalf("reconciliation: %d", res.Status)
			}
			verifyLedger(t, a.Store)
		})
	}
}

// formRecorder forwards to stripe-mock and keeps every transfer request's form.
type formRecorder struct {
	mu    sync.Mutex
	forms []url.Values
}
