package app_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/app/stripe"
	"trostpflaster/models"
)

func checkoutEvent(id, typ, topup, payment string, amount int64) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(), "type": typ, "livemode": false,
		"data": map[string]any{"object": map[string]any{
			"id": "cs_test_" + topup, "object": "checkout.session", "client_reference_id": topup,
			"payment_status": payment, "amount_total": amount, "currency": "eur", "payment_intent": "pi_" + topup,
		}},
	})
	return b
}

// A top-up through Stripe Checkout is credited exactly once, whatever
// events arrive and in which order.
func TestTopupByCheckout(t *testing.T) {
	t.Parallel()
	a := seeded(t, stripeEnv(t))
	ctx := t.Context()
	e := &voucherEnv{a: a}
	co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	key, _, _ := a.Store.CreateAPIKey(ctx, &co.ID, nil, "desk", models.ActorCLI)
	before, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID))

	for _, bad := range []struct {
		body   string
		status int
	}{{`{"amount_cents":500}`, 422}, {`{"amount_cents":"viel"}`, 422}, {`{`, 400}} {
		if res := e.call(t, key, "POST", "/api/v1/company/topups", "", bad.body); res.Status != bad.status {
			t.Errorf("%s: %d %s", bad.body, res.Status, res.Body)
		}
	}
	res := e.call(t, key, "POST", "/api/v1/company/topups", "", `{"amount_cents":25000}`)
	if res.Status != 201 {
		t.Fatalf("top-up: %d %s", res.Status, res.Body)
	}
	var tu struct {
		ID          string `json:"id"`
		CheckoutURL string `json:"checkout_url"`
	}
	json.Unmarshal([]byte(res.Body), &tu)
	if !strings.HasPrefix(tu.CheckoutURL, "https://") || !strings.HasPrefix(tu.ID, "tu_") {
		t.Fatalf("checkout %+v", tu)
	}
	credit := func() int64 { b, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID)); return b }

	// SEPA: completed but unpaid books nothing; the async success credits.
	if r := postWebhook(t, a, checkoutEvent("evt_1", "checkout.session.completed", tu.ID, "unpaid", 25000), testWebhookSecret, time.Now()); r.Status != 200 || credit() != before {
		t.Fatalf("unpaid completion: %d credit %d", r.Status, credit())
	}
	if r := postWebhook(t, a, checkoutEvent("evt_2", "checkout.session.async_payment_succeeded", tu.ID, "paid", 25000), testWebhookSecret, time.Now()); r.Status != 200 || credit() != before+25000 {
		t.Fatalf("async success: %d credit %d", r.Status, credit())
	}
	// Duplicates, a second completion and a late failure change nothing.
	postWebhook(t, a, checkoutEvent("evt_2", "checkout.session.async_payment_succeeded", tu.ID, "paid", 25000), testWebhookSecret, time.Now())
	postWebhook(t, a, checkoutEvent("evt_3", "checkout.session.completed", tu.ID, "paid", 25000), testWebhookSecret, time.Now())
	postWebhook(t, a, checkoutEvent("evt_4", "checkout.session.async_payment_failed", tu.ID, "unpaid", 25000), testWebhookSecret, time.Now())
	if credit() != before+25000 {
		t.Fatalf("credited more than once: %d", credit())
	}
	// Someone else's session: 200, ignored.
	if r := postWebhook(t, a, checkoutEvent("evt_5", "checkout.session.completed", "other-shop-42", "paid", 100), testWebhookSecret, time.Now()); r.Status != 200 {
		t.Fatalf("foreign session: %d", r.Status)
	}
	// A wrong amount is not credited and the event is kept for a retry.
	res = e.call(t, key, "POST", "/api/v1/company/topups", "", `{"amount_cents":10000}`)
	json.Unmarshal([]byte(res.Body), &tu)
	if r := postWebhook(t, a, checkoutEvent("evt_6", "checkout.session.completed", tu.ID, "paid", 1), testWebhookSecret, time.Now()); r.Status < 500 {
		t.Fatalf("amount mismatch answered %d", r.Status)
	}
	if credit() != before+25000 {
		t.Fatal("mismatched amount credited")
	}
	// A failed SEPA debit marks the top-up failed, nothing booked.
	postWebhook(t, a, checkoutEvent("evt_7", "checkout.session.async_payment_failed", tu.ID, "unpaid", 10000), testWebhookSecret, time.Now())
	var row models.Topup
	a.DB.Where("public_id = ?", tu.ID).First(&row)
	if row.Status != models.TopupFailed {
		t.Fatalf("failed top-up: %s", row.Status)
	}
	verifyLedger(t, a.Store)
}

// A company admin tops up credit on the web: by Stripe Checkout when Stripe
// is configured (credited only by the webhook), else the page explains the
// invoice way. Bad amounts re-render with the field error; agents get 404.
func TestCompanyCreditPage(t *testing.T) {
	t.Parallel()
	t.Run("stripe", func(t *testing.T) {
		t.Parallel()
		a := seeded(t, stripeEnv(t))
		ctx := t.Context()
		co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
		before, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID))
		c := apptest.NewClient(t, a.HTTP)
		c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
		if res := c.Get("/dashboard"); !strings.Contains(res.Body, `href="/company/credit"`) {
			t.Fatal("dashboard does not link the credit page")
		}
		page := c.Get("/company/credit")
		if page.Status != 200 || !strings.Contains(page.Body, `id="topup-form"`) {
			t.Fatalf("credit page: %d", page.Status)
		}
		for _, bad := range []string{"", "5", "abc", "99999999999999999999", "-20", "60000"} {
			res := c.PostForm("/company/credit", url.Values{"amount": {bad}})
			if res.Status != 422 || !strings.Contains(res.Body, "zwischen 10 € und 50.000 €") {
				t.Errorf("amount %q: %d", bad, res.Status)
			}
		}
		res := c.PostForm("/company/credit", url.Values{"amount": {"250,00"}})
		if res.Status != 303 || !strings.HasPrefix(res.Header.Get("Location"), "https://") {
			t.Fatalf("top-up: %d %q", res.Status, res.Header.Get("Location"))
		}
		var tu models.Topup
		if err := a.Store.DB().Where("company_id = ?", co.ID).Order("id desc").First(&tu).Error; err != nil || tu.AmountCents != 250_00 || tu.Status != models.TopupPending {
			t.Fatalf("top-up row %+v %v", tu, err)
		}
		if now, _ := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(co.ID)); now != before {
			t.Fatal("credit booked before Stripe confirmed the payment")
		}
		if r := postWebhook(t, a, checkoutEvent("evt_credit_page", "checkout.session.completed", tu.PublicID, "paid", 250_00), testWebhookSecret, time.Now()); r.Status != 200 {
			t.Fatalf("webhook: %d", r.Status)
		}
		if back := c.Get("/company/credit?topup=" + tu.PublicID); !strings.Contains(back.Body, `id="topup-started"`) || !strings.Contains(back.Body, "750,00 €") {
			t.Fatalf("after payment: %d", back.Status)
		}
	})
	t.Run("no stripe", func(t *testing.T) {
		t.Parallel()
		a := apptest.NewSeededApp(t, "sqlite")
		c := apptest.NewClient(t, a.HTTP)
		c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
		page := c.Get("/company/credit")
		if page.Status != 200 || strings.Contains(page.Body, `id="topup-form"`) || !strings.Contains(page.Body, `id="topup-offline"`) {
			t.Fatalf("credit page without Stripe: %d", page.Status)
		}
		if res := c.PostForm("/company/credit", url.Values{"amount": {"100"}}); res.Status != 503 {
			t.Fatalf("top-up without Stripe: %d", res.Status)
		}
		agent := apptest.NewClient(t, a.HTTP)
		agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
		if res := agent.Get("/company/credit"); res.Status != 404 {
			t.Fatalf("agent: %d", res.Status)
		}
	})
}
