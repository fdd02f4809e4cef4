package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/app/mail"
	"trostpflaster/models"
)

// Two app instances on one PostgreSQL database (as behind a load balancer)
// take concurrent redemptions of one voucher: together they never take more
// than its balance, and idempotency keys hold across instances.
func TestTwoInstancesShareOneVoucher(t *testing.T) {
	t.Parallel()
	apptest.Require(t, "TEST_POSTGRES_URL")
	env := apptest.BaseEnv(t, "postgres")
	first := apptest.NewApp(t, env)
	second := apptest.NewApp(t, env)
	e := &voucherEnv{a: first}
	ctx := t.Context()
	if _, err := app.SeedDemo(ctx, first.Store, first.Places); err != nil {
		t.Fatal(err)
	}
	e.company, _ = first.Store.CompanyBySlug(ctx, "beispiel-verlag")
	e.cafe, _ = first.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	e.cafeKey, _, _ = first.Store.CreateAPIKey(ctx, nil, &e.cafe.ID, "shop", models.ActorCLI)
	chefin, _ := first.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	e.sender = models.GiftSender{CompanyID: e.company.ID, UserID: &chefin.ID}
	g, token := e.gift(t, 50_00, e.cafe)
	code := e.claim(t, token, e.cafe)

	instances := []*voucherEnv{e, {a: second}}
	counts := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 120; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			inst := instances[i%2]
			// Every key is sent twice, once to each instance.
			res := inst.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", fmt.Sprintf("k-%d", i/2), redeemBody(1_00))
			mu.Lock()
			counts[res.Status]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	var n int64
	first.DB.Model(&models.Redemption{}).Where("gift_id = ?", g.ID).Count(&n)
	var after models.Gift
	second.DB.First(&after, g.ID)
	if n != 50 || after.BalanceCents != 0 || counts[500] > 0 || counts[201] < 50 || counts[201]+counts[409] != 120 {
		t.Fatalf("redemptions %d, balance %d, statuses %v", n, after.BalanceCents, counts)
	}
	verifyLedger(t, second.Store)
}

// slowTransfers records every transfer's idempotency key and holds each call
// for a moment, so settlement runs of two instances overlap.
type slowTransfers struct {
	inner models.Transfers
	mu    sync.Mutex
	keys  map[string]int
}

func (s *slowTransfers) CreateTransfer(ctx context.Context, in models.TransferInput) (string, error) {
	s.mu.Lock()
	s.keys[in.IdempotencyKey]++
	s.mu.Unlock()
	time.Sleep(150 * time.Millisecond)
	return s.inner.CreateTransfer(ctx, in)
}

// countingWrap counts the mails an instance hands to its (real) mailer.
type countingWrap struct {
	inner mail.Sender
	n     atomic.Int64
}

func (c *countingWrap) Send(ctx context.Context, m models.Mail) error {
	c.n.Add(1)
	return c.inner.Send(ctx, m)
}

// TestTwoInstancesRunJobsOnce runs two complete app instances (each with its
// own database pool, router and background worker) on one PostgreSQL
// database, as behind a load balancer. Gifts are sent, claimed and redeemed
// through both at once while both workers drain the mail and webhook queues;
// then both settle at the same time. Every mail arrives exactly once at a
// real SMTP server, every webhook exactly once at the help desk, and each
// merchant gets exactly one payout with one Stripe call.
func TestTwoInstancesRunJobsOnce(t *testing.T) {
	t.Parallel()
	apptest.Require(t, "TEST_POSTGRES_URL")
	mock := apptest.Require(t, "STRIPE_MOCK_URL")
	sink, smtpURL := startSMTP(t)

	var hookMu sync.Mutex
	hookSeen := map[string]int{}
	desk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ ID string }
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev); err != nil || ev.ID == "" {
			w.WriteHeader(400)
			return
		}
		hookMu.Lock()
		hookSeen[ev.ID]++
		hookMu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(desk.Close)

	env := apptest.BaseEnv(t, "postgres")
	env["SMTP_URL"] = smtpURL
	env["WEBHOOKS_ALLOW_PRIVATE"] = "1"
	env["STRIPE_SECRET_KEY"] = "sk_test_123"
	env["STRIPE_API_BASE"] = mock
	first := apptest.NewApp(t, env)
	ctx := t.Context()
	if _, err := app.SeedDemo(ctx, first.Store, first.Places); err != nil {
		t.Fatal(err)
	}
	second := apptest.NewApp(t, env)
	instances := []*app.App{first, second}

	co, _ := first.Store.CompanyBySlug(ctx, "beispiel-verlag")
	chefin, _ := first.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	if _, err := first.Store.GrantCredit(ctx, co.ID, 5_000_00, "", "", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Store.AddWebhookEndpoint(ctx, co.ID, chefin.ID, desk.URL+"/hooks", true); err != nil {
		t.Fatal(err)
	}
	companyKey, _, _ := first.Store.CreateAPIKey(ctx, &co.ID, nil, "desk", models.ActorCLI)
	var merchants []*models.Merchant
	var merchantKeys []string
	for i, slug := range []string{"cafe-rheinblick", "baeckerei-sonnenkorn"} {
		m, _ := first.Store.MerchantBySlug(ctx, slug)
		first.DB.Model(&models.Merchant{}).Where("id = ?", m.ID).
			Updates(map[string]any{"stripe_account_id": fmt.Sprintf("acct_1Scale%d", i), "payouts_enabled": true})
		k, _, _ := first.Store.CreateAPIKey(ctx, nil, &m.ID, "till", models.ActorCLI)
		merchants, merchantKeys = append(merchants, m), append(merchantKeys, k)
	}
	// Mails not tied to a gift, queued before the workers start.
	const extraMails = 150
	for i := range extraMails {
		if err := first.Store.EnqueueMail(ctx, models.Mail{To: fmt.Sprintf("info-%d@example.com", i), Subject: "Hallo", Text: "Hallo"}); err != nil {
			t.Fatal(err)
		}
	}

	sent := []*countingWrap{{inner: first.Mailer}, {inner: second.Mailer}}
	first.Mailer, second.Mailer = sent[0], sent[1]
	wctx, stopWorkers := context.WithCancel(ctx)
	var workers sync.WaitGroup
	for _, a := range instances {
		workers.Add(1)
		go func() { defer workers.Done(); a.RunWorker(wctx) }()
	}
	t.Cleanup(func() { stopWorkers(); workers.Wait() })

	// 30 gifts by e-mail, sent, claimed and redeemed through both instances.
	const gifts = 30
	var wg sync.WaitGroup
	statuses := make(chan int, gifts*8)
	for i := range gifts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := &giftEnv{a: instances[i%2]}
			out := &giftEnv{a: instances[(i+1)%2]}
			m := merchants[i%2]
			res := in.api(t, companyKey, "POST", "/api/v1/gifts", fmt.Sprintf("g-%d", i), fmt.Sprintf(
				`{"recipient_email":"kunde-%d@example.com","recipient_name":"Kim","amount_cents":2000,"merchant_ids":[%d],"message":"Entschuldigung!","notify":"email"}`, i, m.ID))
			statuses <- res.Status
			if res.Status != 201 {
				return
			}
			g, err := first.Store.GiftByPublicID(ctx, co.ID, decode[giftJSON](t, res).ID)
			if err != nil {
				t.Error(err)
				return
			}
			token := first.Store.GiftClaimToken(g)
			res = out.api(t, "", "POST", "/api/v1/claims/"+token, "", fmt.Sprintf(`{"merchant_id":%d}`, m.ID))
			statuses <- res.Status
			var claim struct{ Voucher struct{ Code string } }
			_ = json.Unmarshal([]byte(res.Body), &claim)
			// Three 5-€ redemptions, each key sent to both instances.
			var rw sync.WaitGroup
			for j := range 6 {
				rw.Add(1)
				go func() {
					defer rw.Done()
					e := &giftEnv{a: instances[j%2]}
					res := e.api(t, merchantKeys[i%2], "POST", "/api/v1/vouchers/"+claim.Voucher.Code+"/redemptions",
						fmt.Sprintf("r-%d-%d", i, j/2), redeemBody(5_00))
					statuses <- res.Status
				}()
			}
			rw.Wait()
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	// 30 sends, 30 claims and 90 redemptions answer 201; the 90 replays
	// answer like the first (or 409 while the first is still being written).
	if count[201] < gifts*5 || count[201]+count[200]+count[409] != gifts*8 {
		t.Fatalf("statuses %v", count)
	}
	var redemptions int64
	first.DB.Model(&models.Redemption{}).Count(&redemptions)
	if redemptions != gifts*3 {
		t.Fatalf("%d redemptions, want %d", redemptions, gifts*3)
	}

	// Both instances settle at once, three times each.
	rec := &slowTransfers{inner: first.Transfers, keys: map[string]int{}}
	first.Transfers, second.Transfers = rec, rec
	var sw sync.WaitGroup
	var settleMu sync.Mutex
	paid, busy := 0, 0
	for i := range 6 {
		sw.Add(1)
		go func() {
			defer sw.Done()
			r, err := instances[i%2].Settle(ctx)
			settleMu.Lock()
			defer settleMu.Unlock()
			switch {
			case errors.Is(err, app.ErrSettlementRunning):
				busy++
			case err != nil:
				t.Errorf("settle: %v", err)
			default:
				paid += r.Paid
			}
		}()
	}
	sw.Wait()
	if busy == 0 {
		t.Error("the settlement runs did not overlap; the lease was not exercised")
	}
	var payouts []models.Payout
	first.DB.Order("merchant_id").Find(&payouts)
	if len(payouts) != 2 || paid != 2 {
		t.Fatalf("payouts %+v, paid %d", payouts, paid)
	}
	seen := map[uint]bool{}
	for _, p := range payouts {
		// One per merchant: 15 gifts × 15 € redeemed, minus 5 % commission.
		if seen[p.MerchantID] || (p.MerchantID != merchants[0].ID && p.MerchantID != merchants[1].ID) {
			t.Errorf("payout for merchant %d", p.MerchantID)
		}
		seen[p.MerchantID] = true
		if p.Status != models.PayoutPaid || p.AmountCents != 15*15_00*95/100 || rec.keys[p.IdempotencyKey] != 1 {
			t.Errorf("payout %+v, Stripe calls with its key %d", p, rec.keys[p.IdempotencyKey])
		}
	}
	if len(rec.keys) != 2 {
		t.Errorf("Stripe transfer keys %v", rec.keys)
	}

	// The workers drain both queues.
	var mails, deliveries int64
	first.DB.Model(&models.Mail{}).Count(&mails)
	first.DB.Model(&models.WebhookDelivery{}).Count(&deliveries)
	if mails < gifts+extraMails || deliveries < gifts*5 { // sent, claimed, 3 × redeemed
		t.Fatalf("%d mails, %d deliveries queued", mails, deliveries)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mq, mf, _ := first.Store.MailQueueDepth(ctx)
		hq, hf, _ := first.Store.HookQueueDepth(ctx)
		if mf+hf > 0 {
			t.Fatalf("failed jobs: %d mails, %d webhooks", mf, hf)
		}
		if mq == 0 && hq == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues not drained: %d mails, %d webhooks", mq, hq)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopWorkers()
	workers.Wait()

	sink.mu.Lock()
	perRecipient := map[string]int{}
	for _, m := range sink.msgs {
		for _, to := range m.To {
			perRecipient[to]++
		}
	}
	got := len(sink.msgs)
	sink.mu.Unlock()
	if int64(got) != mails || len(perRecipient) != int(mails) {
		t.Fatalf("SMTP server got %d mails for %d recipients, %d queued", got, len(perRecipient), mails)
	}
	for to, n := range perRecipient {
		if n != 1 {
			t.Errorf("%s got %d mails", to, n)
		}
	}
	hookMu.Lock()
	defer hookMu.Unlock()
	if int64(len(hookSeen)) != deliveries {
		t.Fatalf("help desk got %d distinct events, %d deliveries", len(hookSeen), deliveries)
	}
	for id, n := range hookSeen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	t.Logf("mails sent by instance: %d and %d", sent[0].n.Load(), sent[1].n.Load())
	verifyLedger(t, second.Store)
}
