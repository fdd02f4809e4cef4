package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/app/stripe"
	"trostpflaster/models"
)

// recordingTransfers wraps the real (stripe-mock) transfers, recording every
// idempotency key, and can pretend the process died right after Stripe
// answered.
type recordingTransfers struct {
	inner models.Transfers
	mu    sync.Mutex
	keys  []string
	crash bool
	fail  error
}

func (r *recordingTransfers) CreateTransfer(ctx context.Context, in models.TransferInput) (string, error) {
	r.mu.Lock()
	r.keys = append(r.keys, in.IdempotencyKey)
	crash, fail := r.crash, r.fail
	r.mu.Unlock()
	if fail != nil {
		return "", fail
	}
	id, err := r.inner.CreateTransfer(ctx, in)
	if err == nil && crash {
		return "", errors.New("simulated crash after Stripe answered")
	}
	return id, err
}

func settleFixture(t *testing.T) (*app.App, *models.Merchant, string) {
	t.Helper()
	a := seeded(t, stripeEnv(t))
	ctx := t.Context()
	co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	cafe, _ := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	a.DB.Model(&models.Merchant{}).Where("id = ?", cafe.ID).Updates(map[string]any{"stripe_account_id": "acct_1Cafe", "payouts_enabled": true})
	g, _, err := a.Store.SendGift(ctx, nil, models.GiftSender{CompanyID: co.ID, UserID: &chefin.ID},
		models.GiftInput{RecipientEmail: "k@example.com", AmountCents: 40_00, MerchantIDs: []uint{cafe.ID}, Notify: models.NotifyNone})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Store.ClaimGift(ctx, a.Store.GiftClaimToken(g), cafe.ID); err != nil {
		t.Fatal(err)
	}
	g, _ = a.Store.GiftByClaimToken(ctx, a.Store.GiftClaimToken(g))
	if _, _, _, err := a.Store.Redeem(ctx, cafe.ID, a.Store.VoucherCode(g), models.RedeemInput{AmountCents: 40_00}); err != nil {
		t.Fatal(err)
	}
	key, _, _ := a.Store.CreateAPIKey(ctx, nil, &cafe.ID, "shop", models.ActorCLI)
	return a, cafe, key
}

// The settlement run is killed between Stripe's answer and the booking, then
// run again: one payout, one idempotency key for both calls, books verified.
func TestSettlementSurvivesACrash(t *testing.T) {
	t.Parallel()
	a, cafe, key := settleFixture(t)
	ctx := t.Context()
	rec := &recordingTransfers{inner: a.Transfers, crash: true}
	a.Transfers = rec
	if r, err := a.Settle(ctx); err != nil || r.Paid != 0 {
		t.Fatalf("crashed run: %+v %v", r, err)
	}
	payable, _ := a.Store.AccountBalance(ctx, models.AccountMerchantPayable(cafe.ID))
	transit, _ := a.Store.AccountBalance(ctx, models.AccountMerchantTransit(cafe.ID))
	if payable != 0 || transit != 38_00 {
		t.Fatalf("after crash: payable %d transit %d", payable, transit)
	}
	verifyLedger(t, a.Store)

	rec.crash = false
	r, err := a.Settle(ctx)
	if err != nil || r.Paid != 1 || r.PaidCents != 38_00 {
		t.Fatalf("re-run: %+v %v", r, err)
	}
	if r, _ := a.Settle(ctx); r.Paid != 0 {
		t.Fatal("third run paid again")
	}
	if len(rec.keys) != 2 || rec.keys[0] != rec.keys[1] {
		t.Fatalf("idempotency keys %v", rec.keys)
	}
	var payouts []models.Payout
	a.DB.Find(&payouts)
	if len(payouts) != 1 || payouts[0].Status != models.PayoutPaid || !strings.HasPrefix(payouts[0].StripeTransferID, "tr_") {
		t.Fatalf("payouts %+v", payouts)
	}
	out, _ := a.Store.AccountBalance(ctx, models.AccountPayoutStripe)
	if out != 38_00 { // money that left the platform to the merchant
		t.Fatalf("payout:stripe %d", out)
	}
	verifyLedger(t, a.Store)

	res := (&voucherEnv{a: a}).call(t, key, "GET", "/api/v1/merchant/payouts", "", "")
	if res.Status != 200 || !strings.Contains(res.Body, `"status":"paid"`) || !strings.Contains(res.Body, `"amount_cents":3800`) {
		t.Fatalf("payouts API: %d %s", res.Status, res.Body)
	}
}

// Stripe refusing a transfer leaves the amount payable and visible; small
// payables wait for the minimum.
func TestSettlementRefusedAndMinimum(t *testing.T) {
	t.Parallel()
	a, cafe, _ := settleFixture(t)
	ctx := t.Context()
	a.Transfers = &recordingTransfers{inner: a.Transfers, fail: fmt.Errorf("stripe: transfer: account not ready: %w", models.ErrPaymentRefused)}
	if r, err := a.Settle(ctx); err != nil || r.Failed != 1 {
		t.Fatalf("refused: %+v %v", r, err)
	}
	payable, _ := a.Store.AccountBalance(ctx, models.AccountMerchantPayable(cafe.ID))
	var p models.Payout
	a.DB.First(&p)
	if payable != 38_00 || p.Status != models.PayoutFailed || !strings.Contains(p.Error, "account not ready") {
		t.Fatalf("after refusal: payable %d payout %+v", payable, p)
	}
	verifyLedger(t, a.Store)
	a.Cfg.SettlementMinCents = 50_00
	a.Transfers = &recordingTransfers{inner: a.Transfers}
	if r, _ := a.Settle(ctx); r.Paid != 0 {
		t.Fatal("paid below the minimum")
	}
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
	e := &settlementEnv{a: a, env: env, co: co}
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
		g, _, err := a.Store.SendGift(ctx, nil, sender, models.GiftInput{RecipientEmail: "k@example.com", AmountCents: cents, MerchantIDs: []uint{cafe.ID}, Notify: models.NotifyNone})
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
