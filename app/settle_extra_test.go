package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// extraEnv is a seeded app talking to stripe-mock, on one database dialect.
type extraEnv struct {
	a   *app.App
	env apptest.Env
	co  *models.Company
}

func newExtraEnv(t *testing.T, dialect string) *extraEnv {
	t.Helper()
	mock := apptest.Require(t, "STRIPE_MOCK_URL")
	env := apptest.BaseEnv(t, dialect)
	env["STRIPE_SECRET_KEY"] = "sk_test_123"
	env["STRIPE_API_BASE"] = mock
	env["STRIPE_WEBHOOK_SECRET"] = testWebhookSecret
	a := seeded(t, env)
	co, err := a.Store.CompanyBySlug(t.Context(), "beispiel-verlag")
	if err != nil {
		t.Fatal(err)
	}
	return &extraEnv{a: a, env: env, co: co}
}

func (e *extraEnv) credit(t *testing.T) int64 {
	t.Helper()
	b, err := e.a.Store.AccountBalance(t.Context(), models.AccountCompanyCredit(e.co.ID))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// paidTopup creates a top-up and credits it through a signed checkout event.
func (e *extraEnv) paidTopup(t *testing.T, cents int64) *models.Topup {
	t.Helper()
	tu, err := e.a.Store.CreateTopup(t.Context(), e.co.ID, cents, models.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	if r := postWebhook(t, e.a, checkoutEvent("evt_co_"+tu.PublicID, "checkout.session.completed", tu.PublicID, "paid", cents), testWebhookSecret, time.Now()); r.Status != 200 {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	var row models.Topup
	e.a.DB.Where("public_id = ?", tu.PublicID).First(&row)
	return &row
}

func chargeRefundedEvent(id, pi, charge string, refunded int64, refundID string) []byte {
	obj := map[string]any{"id": charge, "object": "charge", "amount": 0, "amount_refunded": refunded, "currency": "eur",
		"payment_intent": pi, "refunded": true}
	if refundID != "" {
		obj["refunds"] = map[string]any{"object": "list", "data": []any{map[string]any{"id": refundID, "object": "refund", "amount": 1}}}
	}
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"type": "charge.refunded", "livemode": false, "data": map[string]any{"object": obj}})
	return b
}

func transferReversedEvent(id, transfer, group string, reversed int64, reversalID string) []byte {
	obj := map[string]any{"id": transfer, "object": "transfer", "amount_reversed": reversed, "currency": "eur", "transfer_group": group, "reversed": true}
	if reversalID != "" {
		obj["reversals"] = map[string]any{"object": "list", "data": []any{map[string]any{"id": reversalID, "object": "transfer_reversal"}}}
	}
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"type": "transfer.reversed", "livemode": false, "data": map[string]any{"object": obj}})
	return b
}

func storedEvent(t *testing.T, a *app.App, id string) *models.StripeEvent {
	t.Helper()
	ev, err := a.Store.StripeEventByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// makeDue moves a failed event's backoff into the past (time passing).
func makeDue(t *testing.T, a *app.App, id string) {
	t.Helper()
	if err := a.DB.Model(&models.StripeEvent{}).Where("event_id = ?", id).Update("next_attempt_at", time.Now().Add(-time.Second)).Error; err != nil {
		t.Fatal(err)
	}
}

// charge.refunded books a refund of a top-up's payment once, by Stripe's
// running total: duplicates, replays and late older events book nothing;
// a refund beyond the available credit books a flagged shortfall and never
// makes credit negative; a refund arriving before its top-up's checkout
// event fails, stays stored and is applied exactly once by the retry job.
func TestChargeRefundedWebhook(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newExtraEnv(t, d)
			a, ctx := e.a, t.Context()
			tu := e.paidTopup(t, 200_00)
			start := e.credit(t)

			post := func(body []byte) *apptest.Response {
				t.Helper()
				return postWebhook(t, a, body, testWebhookSecret, time.Now())
			}
			// A partial refund of 50 €.
			if r := post(chargeRefundedEvent("evt_rf1", tu.PaymentIntentID, "ch_1", 50_00, "re_1")); r.Status != 200 || !strings.Contains(r.Body, "refund_booked") {
				t.Fatalf("refund: %d %s", r.Status, r.Body)
			}
			if got := e.credit(t); got != start-50_00 {
				t.Fatalf("credit after refund %d, want %d", got, start-50_00)
			}
			// The same event again, and a second event with the same total.
			if r := post(chargeRefundedEvent("evt_rf1", tu.PaymentIntentID, "ch_1", 50_00, "re_1")); r.Status != 200 || !strings.Contains(r.Body, "duplicate") {
				t.Fatalf("duplicate: %d %s", r.Status, r.Body)
			}
			if r := post(chargeRefundedEvent("evt_rf1b", tu.PaymentIntentID, "ch_1", 50_00, "re_1")); r.Status != 200 || !strings.Contains(r.Body, "already_booked") {
				t.Fatalf("replay: %d %s", r.Status, r.Body)
			}
			// Out of order: the second refund's event (total 80 €) arrives,
			// then an older event without refund list (total 50 €).
			post(chargeRefundedEvent("evt_rf3", tu.PaymentIntentID, "ch_1", 80_00, "re_2"))
			if r := post(chargeRefundedEvent("evt_rf2", tu.PaymentIntentID, "ch_1", 50_00, "")); r.Status != 200 {
				t.Fatalf("late event: %d", r.Status)
			}
			if got := e.credit(t); got != start-80_00 {
				t.Fatalf("credit %d, want %d", got, start-80_00)
			}
			verifyLedger(t, a.Store)

			// The company spends all but 20 € (a reserved refund request takes
			// it out of reach), then Stripe refunds the remaining 120 € of the
			// top-up: 20 € come off the credit, 100 € are a flagged shortfall.
			if _, err := a.Store.RequestCreditRefund(ctx, e.co.ID, e.credit(t)-20_00, "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			r := post(chargeRefundedEvent("evt_rf4", tu.PaymentIntentID, "ch_1", 200_00, "re_3"))
			if r.Status != 200 || !strings.Contains(r.Body, "flagged_refund_shortfall") {
				t.Fatalf("shortfall: %d %s", r.Status, r.Body)
			}
			if got := e.credit(t); got != 0 {
				t.Fatalf("credit after shortfall %d", got)
			}
			if !storedEvent(t, a, "evt_rf4").Flagged {
				t.Fatal("shortfall event not flagged")
			}
			if sh, _ := a.Store.AccountBalance(ctx, models.AccountShortfall); sh != -100_00 {
				t.Fatalf("shortfall account %d", sh)
			}
			// Refunding more than was paid books nothing more.
			post(chargeRefundedEvent("evt_rf5", tu.PaymentIntentID, "ch_1", 999_00, "re_4"))
			verifyLedger(t, a.Store)

			// A refund before its top-up's checkout event: stored, failed, 500.
			tu2, err := a.Store.CreateTopup(ctx, e.co.ID, 30_00, models.ActorCLI)
			if err != nil {
				t.Fatal(err)
			}
			early := chargeRefundedEvent("evt_early", "pi_"+tu2.PublicID, "ch_2", 10_00, "re_e")
			if r := post(early); r.Status != 500 {
				t.Fatalf("early refund: %d %s", r.Status, r.Body)
			}
			ev := storedEvent(t, a, "evt_early")
			if ev.ProcessedAt != nil || ev.NextAttemptAt == nil || !strings.Contains(ev.Error, "no top-up") {
				t.Fatalf("stored failure %+v", ev)
			}
			// Not due yet: the retry job leaves it alone.
			if ok, _, _ := a.RetryStripeEvents(ctx, false); ok != 0 {
				t.Fatal("retried before the backoff")
			}
			before := e.credit(t)
			postWebhook(t, a, checkoutEvent("evt_co2", "checkout.session.completed", tu2.PublicID, "paid", 30_00), testWebhookSecret, time.Now())
			makeDue(t, a, "evt_early")
			if ok, failed, err := a.RetryStripeEvents(ctx, false); err != nil || ok != 1 || failed != 0 {
				t.Fatalf("retry: %d %d %v", ok, failed, err)
			}
			// Exactly once: again via the job, Stripe's redelivery and the CLI.
			makeDue(t, a, "evt_early")
			if ok, failed, _ := a.RetryStripeEvents(ctx, false); ok+failed != 0 {
				t.Fatal("processed twice")
			}
			if r := post(early); r.Status != 200 || !strings.Contains(r.Body, "duplicate") {
				t.Fatalf("redelivery: %d %s", r.Status, r.Body)
			}
			if got := e.credit(t); got != before+30_00-10_00 {
				t.Fatalf("credit %d, want %d", got, before+20_00)
			}
			if ev := storedEvent(t, a, "evt_early"); ev.ProcessedAt == nil || ev.Result != "refund_booked" || ev.Attempts != 2 {
				t.Fatalf("after retry %+v", ev)
			}
			verifyLedger(t, a.Store)
		})
	}
}

// Failing events are retried with backoff and flagged after the maximum;
// the CLI processes one by hand (here after its cause was fixed).
func TestStripeEventRetryGivesUpAndCLI(t *testing.T) {
	t.Parallel()
	e := newExtraEnv(t, "sqlite")
	a, ctx := e.a, t.Context()
	body := chargeRefundedEvent("evt_lost", "pi_unknown", "ch_x", 5_00, "re_x")
	if r := postWebhook(t, a, body, testWebhookSecret, time.Now()); r.Status != 500 {
		t.Fatalf("unknown payment: %d", r.Status)
	}
	for i := 0; i < models.StripeEventMaxAttempts+2; i++ {
		makeDue(t, a, "evt_lost")
		a.RetryStripeEvents(ctx, false)
	}
	ev := storedEvent(t, a, "evt_lost")
	if !ev.Flagged || ev.ProcessedAt != nil || ev.Attempts != models.StripeEventMaxAttempts {
		t.Fatalf("after giving up: %+v", ev)
	}
	if models.StripeEventBackoff(1) != 30*time.Second || models.StripeEventBackoff(3) != 2*time.Minute || models.StripeEventBackoff(40) != 6*time.Hour {
		t.Fatal("backoff")
	}
	// The reconciliation view shows it.
	admin := apptest.NewClient(t, a.HTTP)
	admin.Login("admin@trostpflaster.example", "demo-admin-2026")
	if res := admin.Get("/admin/reconciliation"); res.Status != 200 || !strings.Contains(res.Body, "evt_lost") || !strings.Contains(res.Body, "markiert") {
		t.Fatalf("reconciliation: %d", res.Status)
	}
	// The operator fixes the cause (the payment intent was recorded wrongly)
	// and retries by hand.
	tu := e.paidTopup(t, 20_00)
	a.DB.Model(&models.Topup{}).Where("id = ?", tu.ID).Update("payment_intent_id", "pi_unknown")
	before := e.credit(t)
	if code, out, errs := runCLI(t, e.env, "stripe-events", "retry", "--event", "evt_lost"); code != 0 || !strings.Contains(out, "refund_booked") {
		t.Fatalf("cli: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCLI(t, e.env, "stripe-events", "retry", "--event", "evt_lost"); code != 0 || !strings.Contains(out, "already processed") {
		t.Fatalf("cli again: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, e.env, "stripe-events", "retry"); code != 0 || !strings.Contains(out, "0 applied") {
		t.Fatalf("cli due: %d %s", code, out)
	}
	if got := e.credit(t); got != before-5_00 {
		t.Fatalf("credit %d want %d", got, before-5_00)
	}
	verifyLedger(t, a.Store)
}

// paidPayout redeems at the café and settles against stripe-mock.
func paidPayout(t *testing.T, e *extraEnv, refs ...string) (*models.Merchant, *models.Payout) {
	t.Helper()
	a, ctx := e.a, t.Context()
	chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	cafe, _ := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	a.DB.Model(&models.Merchant{}).Where("id = ?", cafe.ID).Updates(map[string]any{"stripe_account_id": "acct_1Cafe", "payouts_enabled": true})
	if _, err := a.Store.GrantCredit(ctx, e.co.ID, 500_00, "", "", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	g, _, err := a.Store.SendGift(ctx, nil, models.GiftSender{CompanyID: e.co.ID, UserID: &chefin.ID},
		models.GiftInput{RecipientEmail: "k@example.com", RecipientName: "Kira Kundin", AmountCents: 100_00, MerchantIDs: []uint{cafe.ID}, Notify: models.NotifyNone}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Store.ClaimGift(ctx, a.Store.GiftClaimToken(g), cafe.ID); err != nil {
		t.Fatal(err)
	}
	g, _ = a.Store.GiftByClaimToken(ctx, a.Store.GiftClaimToken(g))
	var last *models.Redemption
	for i, ref := range refs {
		r, _, _, err := a.Store.Redeem(ctx, cafe.ID, a.Store.VoucherCode(g), models.RedeemInput{AmountCents: int64(12_50 * (i + 1)), Reference: ref})
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	if len(refs) > 1 { // the last one is reversed before settlement
		if _, _, err := a.Store.ReverseRedemption(ctx, cafe.ID, last.PublicID, models.ActorCLI); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := a.Settle(ctx); err != nil || r.Paid != 1 {
		t.Fatalf("settle: %+v %v", r, err)
	}
	var p models.Payout
	a.DB.Where("merchant_id = ?", cafe.ID).Order("id DESC").First(&p)
	return cafe, &p
}

// transfer.reversed books money back from a paid payout into a held
// account, once per reversal (running total), and the operator releases it
// to the merchant's payable from the reconciliation page.
func TestTransferReversedWebhook(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newExtraEnv(t, d)
			a, ctx := e.a, t.Context()
			cafe, p := paidPayout(t, e, "Bon 1")
			held := func() int64 { b, _ := a.Store.AccountBalance(ctx, models.AccountMerchantHeld(cafe.ID)); return b }
			post := func(body []byte) *apptest.Response {
				t.Helper()
				return postWebhook(t, a, body, testWebhookSecret, time.Now())
			}
			// A reversal of a payout the settlement run has not confirmed
			// (unknown transfer): stored and failed for a retry.
			if r := post(transferReversedEvent("evt_tr0", "tr_unknown", "", 1_00, "trr_0")); r.Status != 500 {
				t.Fatalf("unknown transfer: %d", r.Status)
			}
			r := post(transferReversedEvent("evt_tr1", p.StripeTransferID, "settlement-"+p.PublicID, 5_00, "trr_1"))
			if r.Status != 200 || !strings.Contains(r.Body, "flagged_transfer_reversed") || held() != 5_00 {
				t.Fatalf("reversal: %d %s held %d", r.Status, r.Body, held())
			}
			post(transferReversedEvent("evt_tr1", p.StripeTransferID, "settlement-"+p.PublicID, 5_00, "trr_1"))  // duplicate
			post(transferReversedEvent("evt_tr2", p.StripeTransferID, "settlement-"+p.PublicID, 8_00, "trr_2"))  // second reversal
			post(transferReversedEvent("evt_tr1b", p.StripeTransferID, "settlement-"+p.PublicID, 5_00, "trr_1")) // late, older
			// More than the payout is capped at the payout.
			post(transferReversedEvent("evt_tr3", p.StripeTransferID, "settlement-"+p.PublicID, p.AmountCents+50_00, "trr_3"))
			if held() != p.AmountCents {
				t.Fatalf("held %d, payout %d", held(), p.AmountCents)
			}
			if out, _ := a.Store.AccountBalance(ctx, models.AccountPayoutStripe); out != 0 {
				t.Fatalf("payout:stripe %d after full reversal", out)
			}
			verifyLedger(t, a.Store)

			admin := apptest.NewClient(t, a.HTTP)
			admin.Login("admin@trostpflaster.example", "demo-admin-2026")
			page := admin.Get("/admin/reconciliation")
			if page.Status != 200 || !strings.Contains(page.Body, `id="recon-held"`) || !strings.Contains(page.Body, "trr_2") {
				t.Fatalf("reconciliation: %d", page.Status)
			}
			var rvs []models.TransferReversal
			a.DB.Order("id").Find(&rvs)
			if len(rvs) != 3 {
				t.Fatalf("reversals %d", len(rvs))
			}
			for i := 0; i < 2; i++ { // a double click releases once
				admin.PostForm(fmt.Sprintf("/admin/reconciliation/reversals/%d/release", rvs[0].ID), nil)
			}
			payable, _ := a.Store.AccountBalance(ctx, models.AccountMerchantPayable(cafe.ID))
			if payable != 5_00 || held() != p.AmountCents-5_00 {
				t.Fatalf("after release: payable %d held %d", payable, held())
			}
			verifyLedger(t, a.Store)
		})
	}
}

// The statement of a payout lists the redemptions it pays (and a reversal),
// with rate, rounding rule and totals, as CSV (formula-safe) and PDF; only
// the payout's own merchant gets it.
func TestPayoutStatement(t *testing.T) {
	t.Parallel()
	e := newExtraEnv(t, "sqlite")
	a := e.a
	_, p := paidPayout(t, e, `=HYPERLINK("http://evil","x")`, "Bon 2", "Bon 3")
	// 12,50 + 25,00 redeemed (37,50 gross, 5 %: 0,63 + 1,25 commission),
	// 37,50 redeemed and reversed.
	if p.AmountCents != 37_50-63-1_25 {
		t.Fatalf("payout %d", p.AmountCents)
	}
	staff := mustStaff(t, a, p.MerchantID, "kasse@rheinblick.example")
	page := staff.Get("/merchant/payouts")
	if page.Status != 200 || !strings.Contains(page.Body, "/merchant/payouts/"+p.PublicID+"/statement.pdf") {
		t.Fatalf("payouts page: %d\n%s", page.Status, page.Body)
	}
	csv := staff.Get("/merchant/payouts/" + p.PublicID + "/statement.csv")
	if csv.Status != 200 || !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d", csv.Status)
	}
	for _, want := range []string{`'=HYPERLINK`, ";einloesung;12,50;0,63;11,87;EUR", ";einloesung;25,00;1,25;23,75;EUR", ";storno;-37,50;-1,88;-35,62;EUR",
		";summe;37,50;1,88;35,62;EUR", ";auszahlung;;;35,62;EUR", "Provisionssatz;5,00 %", "kaufmännisch"} {
		if !strings.Contains(csv.Body, want) {
			t.Errorf("csv lacks %q:\n%s", want, csv.Body)
		}
	}
	if strings.Contains(csv.Body, "Kira") || strings.Contains(csv.Body, "k@example.com") {
		t.Fatal("customer data on the statement")
	}
	pdf := staff.Get("/merchant/payouts/" + p.PublicID + "/statement.pdf")
	if pdf.Status != 200 || pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Body, "%PDF-") || len(pdf.Body) < 1000 {
		t.Fatalf("pdf: %d %q", pdf.Status, pdf.Header.Get("Content-Type"))
	}
	// Another merchant's owner, and an unknown payout: 404.
	owner := apptest.NewClient(t, a.HTTP)
	owner.Login(ownerEmail, ownerPassword)
	for _, path := range []string{"/merchant/payouts/" + p.PublicID + "/statement.csv", "/merchant/payouts/" + p.PublicID + "/statement.pdf", "/merchant/payouts/po_nope/statement.csv"} {
		if res := owner.Get(path); res.Status != 404 {
			t.Errorf("%s: %d", path, res.Status)
		}
	}
	verifyLedger(t, a.Store)
}

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
			e := newExtraEnv(t, d)
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

// A payout funded by exactly one known charge (one company, whose only
// money in is one Stripe top-up) sends it as source_transaction; a payout
// of pooled money does not.
func TestTransferSourceTransaction(t *testing.T) {
	t.Parallel()
	mock := apptest.Require(t, "STRIPE_MOCK_URL")
	target, _ := url.Parse(mock)
	rec := &formRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/transfers" {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			rec.mu.Lock()
			rec.forms = append(rec.forms, form)
			rec.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	env := apptest.BaseEnv(t, "sqlite")
	env["STRIPE_SECRET_KEY"] = "sk_test_123"
	env["STRIPE_API_BASE"] = srv.URL
	env["STRIPE_WEBHOOK_SECRET"] = testWebhookSecret
	a := seeded(t, env)
	ctx := t.Context()
	admin, co := apptest.MustCompany(t, a.Store, "Einzelquelle GmbH")
	e := &extraEnv{a: a, env: env, co: co}
	tu := e.paidTopup(t, 80_00)
	charge := map[string]any{"id": "ch_3Source", "object": "charge", "amount": 80_00, "currency": "eur", "payment_intent": tu.PaymentIntentID}
	body, _ := json.Marshal(map[string]any{"id": "evt_ch_ok", "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"type": "charge.succeeded", "data": map[string]any{"object": charge}})
	if r := postWebhook(t, a, body, testWebhookSecret, time.Now()); r.Status != 200 || !strings.Contains(r.Body, "charge_recorded") {
		t.Fatalf("charge.succeeded: %d %s", r.Status, r.Body)
	}
	cafe, _ := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	a.DB.Model(&models.Merchant{}).Where("id = ?", cafe.ID).Updates(map[string]any{"stripe_account_id": "acct_1Cafe", "payouts_enabled": true})
	redeem := func(sender models.GiftSender, cents int64) {
		t.Helper()
		g, _, err := a.Store.SendGift(ctx, nil, sender, models.GiftInput{RecipientEmail: "k@example.com", AmountCents: cents, MerchantIDs: []uint{cafe.ID}, Notify: models.NotifyNone}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.Store.ClaimGift(ctx, a.Store.GiftClaimToken(g), cafe.ID); err != nil {
			t.Fatal(err)
		}
		g, _ = a.Store.GiftByClaimToken(ctx, a.Store.GiftClaimToken(g))
		if _, _, _, err := a.Store.Redeem(ctx, cafe.ID, a.Store.VoucherCode(g), models.RedeemInput{AmountCents: cents}); err != nil {
			t.Fatal(err)
		}
	}
	redeem(models.GiftSender{CompanyID: co.ID, UserID: &admin.ID}, 50_00)
	if r, err := a.Settle(ctx); err != nil || r.Paid != 1 {
		t.Fatalf("settle: %+v %v", r, err)
	}
	// Pooled money: the demo company's gift.
	demo, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	if _, err := a.Store.GrantCredit(ctx, demo.ID, 100_00, "", "", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	redeem(models.GiftSender{CompanyID: demo.ID, UserID: &chefin.ID}, 20_00)
	if r, err := a.Settle(ctx); err != nil || r.Paid != 1 {
		t.Fatalf("second settle: %+v %v", r, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.forms) != 2 {
		t.Fatalf("%d transfer calls", len(rec.forms))
	}
	if got := rec.forms[0].Get("source_transaction"); got != "ch_3Source" {
		t.Fatalf("first transfer source_transaction %q (%v)", got, rec.forms[0])
	}
	if rec.forms[1].Has("source_transaction") {
		t.Fatalf("pooled transfer names a source: %v", rec.forms[1])
	}
	var ps []models.Payout
	a.DB.Order("id").Find(&ps)
	if len(ps) != 2 || ps[0].SourceTransaction != "ch_3Source" || ps[0].Status != models.PayoutPaid || ps[1].SourceTransaction != "" {
		t.Fatalf("payouts %+v", ps)
	}
	verifyLedger(t, a.Store)
}

// The DATEV export writes an EXTF Buchungsstapel of the ledger: header
// version 700/21/13 with the accountant's numbers, Windows-1252, amounts
// with comma, S with debit in Konto, SKR03 accounts, DDMM dates, internal
// moves (a gift reserving credit) left out; bad input re-renders with 422.
func TestDatevExport(t *testing.T) {
	t.Parallel()
	e := newExtraEnv(t, "sqlite")
	a := e.a
	tu := e.paidTopup(t, 123_45)
	_, p := paidPayout(t, e, "Bon 1", "Bon 2")
	admin := apptest.NewClient(t, a.HTTP)
	admin.Login("admin@trostpflaster.example", "demo-admin-2026")
	if res := admin.Get("/admin/datev"); res.Status != 200 || !strings.Contains(res.Body, `id="datev-form"`) {
		t.Fatalf("form: %d", res.Status)
	}
	year := time.Now().In(time.FixedZone("CET", 3600)).Year()
	for _, bad := range []url.Values{
		{"consultant": {"12"}, "client": {"1"}, "from": {fmt.Sprintf("%d-01-01", year)}, "to": {fmt.Sprintf("%d-12-31", year)}},
		{"consultant": {"29098"}, "client": {"x"}, "from": {fmt.Sprintf("%d-01-01", year)}, "to": {fmt.Sprintf("%d-12-31", year)}},
		{"consultant": {"29098"}, "client": {"55003"}, "from": {fmt.Sprintf("%d-12-01", year-1)}, "to": {fmt.Sprintf("%d-01-31", year)}},
		{"consultant": {"29098"}, "client": {"55003"}, "from": {"gestern"}, "to": {fmt.Sprintf("%d-01-31", year)}},
	} {
		if res := admin.PostForm("/admin/datev", bad); res.Status != 422 || !strings.Contains(res.Body, "field-error") {
			t.Errorf("%v: %d", bad, res.Status)
		}
	}
	res := admin.PostForm("/admin/datev", url.Values{"consultant": {"29098"}, "client": {"55003"},
		"from": {fmt.Sprintf("%d-01-01", year)}, "to": {fmt.Sprintf("%d-12-31", year)}})
	if res.Status != 200 || !strings.Contains(res.Header.Get("Content-Type"), "windows-1252") {
		t.Fatalf("export: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSuffix(res.Body, "\r\n"), "\r\n")
	head := strings.Split(lines[0], ";")
	if len(head) != 31 || head[0] != `"EXTF"` || head[1] != "700" || head[2] != "21" || head[3] != `"Buchungsstapel"` || head[4] != "13" ||
		head[10] != "29098" || head[11] != "55003" || head[12] != fmt.Sprintf("%d0101", year) || head[13] != "4" ||
		head[14] != fmt.Sprintf("%d0101", year) || head[15] != fmt.Sprintf("%d1231", year) || head[21] != `"EUR"` || head[26] != `"03"` {
		t.Fatalf("header %d fields: %v", len(head), head)
	}
	if !strings.HasPrefix(lines[1], "Umsatz (ohne Soll/Haben-Kz);Soll/Haben-Kennzeichen;") || !strings.Contains(lines[1], "Gesch\xe4ftspartnerbank") {
		t.Fatalf("columns (Windows-1252): %q", lines[1])
	}
	body := strings.Join(lines[2:], "\n")
	for _, want := range []string{
		`123,45;"S";"EUR";;;;1360;1710;`,                                       // Stripe top-up: Geldtransit an erhaltene Anzahlungen
		`11,87;"S";"EUR";;;;1710;1600;`,                                        // redemption 12,50: net to the partner …
		`0,63;"S";"EUR";;;;1710;8200;`,                                         // … and the commission
		fmt.Sprintf(`%s;"S";"EUR";;;;1600;1360;`, models.Euros(p.AmountCents)), // the payout
		`"TP-`, `"credit.stripe top-up ` + tu.PublicID + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("export lacks %q:\n%s", want, body)
		}
	}
	for _, l := range lines[2:] {
		f := strings.Split(l, ";")
		if len(f) != 20 || f[6] == f[7] || len(f[9]) != 4 || strings.Contains(f[0], ".") || strings.Contains(l, "gift.sent") {
			t.Errorf("bad line %q", l)
		}
	}
	// Non-admins get nothing.
	chefin := apptest.NewClient(t, a.HTTP)
	chefin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	if res := chefin.Get("/admin/datev"); res.Status != 404 {
		t.Fatalf("company admin: %d", res.Status)
	}
}
