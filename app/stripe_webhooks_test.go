package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/app/stripe"
	"trostpflaster/models"
)

// settlementEnv is a seeded app talking to stripe-mock, on one database dialect.
type settlementEnv struct {
	a   *app.App
	env apptest.Env
	co  *models.Company
}

func newSettlementEnv(t *testing.T, dialect string) *settlementEnv {
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
	return &settlementEnv{a: a, env: env, co: co}
}

func (e *settlementEnv) credit(t *testing.T) int64 {
	t.Helper()
	b, err := e.a.Store.AccountBalance(t.Context(), models.AccountCompanyCredit(e.co.ID))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// paidTopup creates a top-up and credits it through a signed checkout event.
func (e *settlementEnv) paidTopup(t *testing.T, cents int64) *models.Topup {
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
			e := newSettlementEnv(t, d)
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
	e := newSettlementEnv(t, "sqlite")
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

type accountEvent struct {
	id, account, apiVersion string
	created                 time.Time
	charges, payouts, ready bool
	due                     []string
}

func (e accountEvent) json() []byte {
	if e.apiVersion == "" {
		e.apiVersion = stripe.APIVersion
	}
	if e.due == nil {
		e.due = []string{}
	}
	b, _ := json.Marshal(map[string]any{
		"id": e.id, "object": "event", "api_version": e.apiVersion, "created": e.created.Unix(),
		"type": "account.updated", "account": e.account, "livemode": false,
		"data": map[string]any{"object": map[string]any{
			"id": e.account, "object": "account", "charges_enabled": e.charges, "payouts_enabled": e.payouts,
			"details_submitted": e.ready, "requirements": map[string]any{"currently_due": e.due},
		}},
	})
	return b
}

func postWebhook(t *testing.T, a *app.App, body []byte, secret string, ts time.Time) *apptest.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", stripe.SignTestPayload(body, secret, ts))
	return apptest.NewClient(t, a.HTTP).Do(req)
}

// webhookApp is a seeded app (no Stripe API needed) whose demo owner's
// merchant is connected to acct_web.
func webhookApp(t *testing.T) (*app.App, *models.Merchant) {
	t.Helper()
	env := apptest.BaseEnv(t, "sqlite")
	env["STRIPE_WEBHOOK_SECRET"] = testWebhookSecret
	a := seeded(t, env)
	m, err := a.Store.MerchantBySlug(t.Context(), ownerSlug)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.SetStripeAccountID(t.Context(), m.ID, "acct_web", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	return a, m
}

func merchantNow(t *testing.T, a *app.App, id uint) *models.Merchant {
	t.Helper()
	m, err := a.Store.MerchantStripeStatus(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStripeWebhookAccountUpdated(t *testing.T) {
	t.Parallel()
	a, m := webhookApp(t)
	now := time.Now()
	ev := accountEvent{id: "evt_ok", account: "acct_web", created: now, charges: true, payouts: true, ready: true}
	res := postWebhook(t, a, ev.json(), testWebhookSecret, now)
	if res.Status != 200 || !strings.Contains(res.Body, models.StripeResultApplied) {
		t.Fatalf("valid event: %d %s", res.Status, res.Body)
	}
	got := merchantNow(t, a, m.ID)
	if !got.ChargesEnabled || !got.PayoutsEnabled || !got.DetailsSubmitted || !got.StripeReady() {
		t.Fatalf("flags not applied: %+v", got.MerchantStripe)
	}

	// The same event again: 200, not applied a second time.
	res = postWebhook(t, a, ev.json(), testWebhookSecret, now)
	if res.Status != 200 || !strings.Contains(res.Body, `"duplicate":true`) {
		t.Fatalf("duplicate: %d %s", res.Status, res.Body)
	}
	if n := auditCount(t, a, "merchant.stripe_state"); n != 1 {
		t.Fatalf("applied %d times", n)
	}
	stored, err := a.Store.StripeEventByID(t.Context(), "evt_ok")
	if err != nil || stored.Attempts != 1 || stored.ProcessedAt == nil || stored.Type != "account.updated" || !strings.Contains(stored.Payload, "acct_web") {
		t.Fatalf("stored event: %+v %v", stored, err)
	}

	// Out of order: an older event arriving after a newer one changes nothing.
	old := accountEvent{id: "evt_old", account: "acct_web", created: now.Add(-time.Hour), due: []string{"external_account"}}
	res = postWebhook(t, a, old.json(), testWebhookSecret, now)
	if res.Status != 200 || !strings.Contains(res.Body, models.StripeResultStale) {
		t.Fatalf("older event: %d %s", res.Status, res.Body)
	}
	if got := merchantNow(t, a, m.ID); !got.PayoutsEnabled || len(got.CurrentlyDue()) != 0 {
		t.Fatalf("older event overwrote newer state: %+v", got.MerchantStripe)
	}
	// A genuinely newer one does apply.
	newer := accountEvent{id: "evt_new", account: "acct_web", created: now.Add(time.Minute), charges: true, due: []string{"external_account"}}
	if res = postWebhook(t, a, newer.json(), testWebhookSecret, now); res.Status != 200 {
		t.Fatalf("newer: %d %s", res.Status, res.Body)
	}
	if got := merchantNow(t, a, m.ID); got.PayoutsEnabled || len(got.CurrentlyDue()) != 1 {
		t.Fatalf("newer event not applied: %+v", got.MerchantStripe)
	}
}

func TestStripeWebhookRejectsAndIgnores(t *testing.T) {
	t.Parallel()
	a, m := webhookApp(t)
	now := time.Now()
	good := accountEvent{id: "evt_x", account: "acct_web", created: now, payouts: true}

	for _, tc := range []struct {
		name   string
		body   []byte
		secret string
		ts     time.Time
		status int
		code   string
	}{
		{"wrong signature", good.json(), "whsec_someone_else", now, 400, "invalid_signature"},
		{"stale timestamp", good.json(), testWebhookSecret, now.Add(-10 * time.Minute), 400, "stale_timestamp"},
		{"malformed JSON", []byte(`{"id": "evt_bad", "type": `), testWebhookSecret, now, 400, "invalid_payload"},
		{"not an event", []byte(`{"hello": "world"}`), testWebhookSecret, now, 400, "invalid_payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := postWebhook(t, a, tc.body, tc.secret, tc.ts)
			if res.Status != tc.status || !strings.Contains(res.Header.Get("Content-Type"), "application/problem+json") || !strings.Contains(res.Body, `"code":"`+tc.code+`"`) {
				t.Fatalf("%d %s %s", res.Status, res.Header.Get("Content-Type"), res.Body)
			}
		})
	}
	// No signature header at all.
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(string(good.json())))
	if res := apptest.NewClient(t, a.HTTP).Do(req); res.Status != 400 {
		t.Fatalf("unsigned: %d %s", res.Status, res.Body)
	}
	if got := merchantNow(t, a, m.ID); got.PayoutsEnabled {
		t.Fatal("a rejected event changed the merchant")
	}
	var n int64
	a.DB.Model(&models.StripeEvent{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d rejected events stored", n)
	}

	// Unknown account: 200, stored, ignored.
	unknown := accountEvent{id: "evt_unknown", account: "acct_nobody", created: now, payouts: true}
	res := postWebhook(t, a, unknown.json(), testWebhookSecret, now)
	if res.Status != 200 || !strings.Contains(res.Body, models.StripeResultUnknownAccount) {
		t.Fatalf("unknown account: %d %s", res.Status, res.Body)
	}

	// Unknown event type: 200, stored.
	other, _ := json.Marshal(map[string]any{"id": "evt_other", "object": "event", "api_version": stripe.APIVersion,
		"created": now.Unix(), "type": "customer.created", "data": map[string]any{"object": map[string]any{"id": "cus_1", "object": "customer"}}})
	if res = postWebhook(t, a, other, testWebhookSecret, now); res.Status != 200 || !strings.Contains(res.Body, models.StripeResultUnhandledType) {
		t.Fatalf("unknown type: %d %s", res.Status, res.Body)
	}
	if ev, err := a.Store.StripeEventByID(t.Context(), "evt_other"); err != nil || ev.ProcessedAt == nil {
		t.Fatalf("unknown type not stored: %+v %v", ev, err)
	}

	// Another API version: stored and flagged, answered non-2xx so Stripe
	// keeps retrying, and never applied.
	mismatch := accountEvent{id: "evt_version", account: "acct_web", created: now, payouts: true, apiVersion: "2019-02-19"}
	for i := 0; i < 2; i++ {
		res = postWebhook(t, a, mismatch.json(), testWebhookSecret, now)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "api_version_mismatch") {
			t.Fatalf("mismatch #%d: %d %s", i, res.Status, res.Body)
		}
	}
	ev, err := a.Store.StripeEventByID(t.Context(), "evt_version")
	if err != nil || !ev.Flagged || ev.ProcessedAt != nil || ev.APIVersion != "2019-02-19" || ev.Attempts != 2 || ev.Error == "" {
		t.Fatalf("mismatched event: %+v %v", ev, err)
	}
	if got := merchantNow(t, a, m.ID); got.PayoutsEnabled {
		t.Fatal("mismatched event applied")
	}
}

func TestStripeWebhookProcessingFailureIsKept(t *testing.T) {
	t.Parallel()
	a, m := webhookApp(t)
	now := time.Now()
	// Signed and well-formed as an event, but its account object cannot be
	// read: processing fails, the event stays stored and unprocessed, and
	// Stripe is told to redeliver (non-2xx).
	body, _ := json.Marshal(map[string]any{"id": "evt_broken", "object": "event", "api_version": stripe.APIVersion,
		"created": now.Unix(), "type": "account.updated", "account": "acct_web",
		"data": map[string]any{"object": map[string]any{"id": "acct_web", "object": "account", "payouts_enabled": "yes"}}})
	for i := 1; i <= 2; i++ {
		res := postWebhook(t, a, body, testWebhookSecret, now)
		if res.Status != http.StatusInternalServerError || !strings.Contains(res.Body, "processing_failed") {
			t.Fatalf("delivery %d: %d %s", i, res.Status, res.Body)
		}
		ev, err := a.Store.StripeEventByID(t.Context(), "evt_broken")
		if err != nil || ev.ProcessedAt != nil || ev.Error == "" || ev.Attempts != i || ev.LockedUntil != nil {
			t.Fatalf("delivery %d stored as %+v (%v)", i, ev, err)
		}
	}
	if got := merchantNow(t, a, m.ID); got.PayoutsEnabled {
		t.Fatal("broken event applied")
	}
}
