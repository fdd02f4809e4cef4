package app_test

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// blockingMailer holds the first mail until released.
type blockingMailer struct {
	started chan struct{}
	release chan struct{}
	sent    chan string
}

func (m *blockingMailer) Send(ctx context.Context, mail models.Mail) error {
	select {
	case m.started <- struct{}{}:
		<-m.release
	default:
	}
	m.sent <- mail.To
	return ctx.Err()
}

// A server told to stop while its worker is sending a mail finishes that
// mail and records it as sent (not sent twice later), and hands the rest of
// its claimed batch back at once, so another instance sends them without
// waiting for the lease to run out.
func TestShutdownReleasesClaimedJobs(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := apptest.BaseEnv(t, "sqlite")
	env["ADDR"] = addr
	a := apptest.NewApp(t, env)
	m := &blockingMailer{started: make(chan struct{}), release: make(chan struct{}), sent: make(chan string, 10)}
	a.Mailer = m
	ctx := t.Context()
	for _, to := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
		if err := a.Store.EnqueueMail(ctx, models.Mail{To: to, Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.Serve(sctx) }()
	select {
	case <-m.started:
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not start sending")
	}
	stop()
	select {
	case err := <-served:
		t.Fatalf("Serve returned while a mail was being sent: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(m.release)
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if len(m.sent) != 1 {
		t.Fatalf("%d mails sent during shutdown, want the one under way", len(m.sent))
	}
	var mails []models.Mail
	a.DB.Order("id").Find(&mails)
	if mails[0].Status != models.MailSent {
		t.Fatalf("the mail under way was not recorded: %+v", mails[0])
	}
	for _, ml := range mails[1:] {
		if ml.Status != models.MailQueued || ml.LockedUntil != nil || ml.LockedBy != "" {
			t.Fatalf("claimed mail not released: %+v", ml)
		}
	}
	b := apptest.NewApp(t, env)
	if got, err := b.Store.ClaimMails(ctx, 10, time.Minute); err != nil || len(got) != 3 {
		t.Fatalf("another instance claimed %d: %v", len(got), err)
	}
}

// Every response carries the security headers; HSTS only when the request
// came over TLS as told by a trusted proxy, never because any client
// claims it.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	plain := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	proxied := apptest.BaseEnv(t, "sqlite")
	proxied["TRUSTED_PROXIES"] = "0.0.0.0" // the address fiber's app.Test connects from
	proxied["BASE_URL"] = "https://gutschein.example"
	behind := apptest.NewApp(t, proxied)
	for _, tc := range []struct {
		name  string
		c     *apptest.Client
		proto string
		hsts  bool
	}{
		{"no proxy configured, forged header", apptest.NewClient(t, plain.HTTP), "https", false},
		{"no proxy configured, plain", apptest.NewClient(t, plain.HTTP), "", false},
		{"trusted proxy, https", apptest.NewClient(t, behind.HTTP), "https", true},
		{"trusted proxy, http", apptest.NewClient(t, behind.HTTP), "http", false},
	} {
		if tc.proto != "" {
			tc.c.Head["X-Forwarded-Proto"] = tc.proto
		}
		for _, path := range []string{"/", "/login", "/partners", "/api/v1/merchants", "/no/such/page", "/healthz"} {
			res := tc.c.Get(path)
			h := res.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s %s: CSP %q lacks %q", tc.name, path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
				t.Errorf("%s %s: headers %v", tc.name, path, h)
			}
			if got := h.Get("Strict-Transport-Security"); (got != "") != tc.hsts || (tc.hsts && !strings.Contains(got, "max-age=31536000")) {
				t.Errorf("%s %s: HSTS %q", tc.name, path, got)
			}
			// No inline script or event handler attributes in any page.
			for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(res.Body, -1) {
				if !strings.Contains(tag, "src=") {
					t.Errorf("%s: inline script %s", path, tag)
				}
			}
			if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(res.Body) {
				t.Errorf("%s: inline event handler", path)
			}
		}
	}
	if res := apptest.NewClient(t, behind.HTTP).Get("/login"); res.Cookie["__Host-tp_csrf"] == nil || !res.Cookie["__Host-tp_csrf"].Secure {
		t.Error("an https BASE_URL must make cookies Secure")
	}
}

// /metrics reports redemptions by channel and result, the webhook queue and
// its failures, settlement results and failed job runs.
func TestMetricsJobsRedemptionsSettlement(t *testing.T) {
	t.Parallel()
	a, cafe, key := settleFixture(t)
	ctx := t.Context()
	base := apptest.Serve(t, a)
	e := &voucherEnv{a: a}
	co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	e.sender = models.GiftSender{CompanyID: co.ID, UserID: &chefin.ID}
	// The help desk is down: every delivery fails.
	if _, err := a.Store.AddWebhookEndpoint(ctx, co.ID, chefin.ID, "http://127.0.0.1:1/down", true); err != nil {
		t.Fatal(err)
	}
	_, token := e.gift(t, 10_00, cafe)
	code := e.claim(t, token, cafe)
	for i, want := range []int{201, 201, 409} {
		if res := e.call(t, key, "POST", "/api/v1/vouchers/"+code+"/redemptions", string(rune('a'+i)), redeemBody(5_00)); res.Status != want {
			t.Fatalf("redemption %d: %d %s", i, res.Status, res.Body)
		}
	}
	if res := e.call(t, key, "POST", "/api/v1/vouchers/"+code+"/redemptions", "a", redeemBody(5_00)); res.Status != 201 {
		t.Fatalf("replay: %d", res.Status)
	}
	if n := a.DeliverHooks(ctx); n != 0 {
		t.Fatalf("delivered %d to a closed port", n)
	}
	if r, err := a.Settle(ctx); err != nil || r.Paid != 1 {
		t.Fatalf("settle: %+v %v", r, err)
	}

	_, body := httpGet(t, base+"/metrics", nil)
	for _, want := range []string{
		`trostpflaster_redemptions_total{channel="api",result="created"} 3`, // two new, one replay answered 201
		`trostpflaster_redemptions_total{channel="api",result="insufficient_balance"} 1`,
		`trostpflaster_webhook_queue{state="queued"} 4`, // gift.sent, gift.claimed, 2 × voucher.redeemed
		`trostpflaster_webhook_queue{state="failed"} 0`,
		`trostpflaster_webhook_delivery_failures_total 4`,
		`trostpflaster_settlement_payouts_total{result="paid"} 1`,
		`trostpflaster_settlement_payouts_total{result="failed"} 0`,
		`trostpflaster_settlement_paid_cents_total 4750`, // 40 € + 10 € redeemed, minus 5 %
		`trostpflaster_settlement_runs_total{result="ok"} 1`,
		`trostpflaster_settlement_last_success_timestamp_seconds 1`,
		`trostpflaster_job_run_failures_total{job="settlement"} 0`,
		`trostpflaster_mail_queue{state="queued"}`,
		`trostpflaster_http_request_duration_seconds_bucket{method="POST",route="/api/v1/vouchers/:code/redemptions",status="2xx",le="0.005"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
	if strings.Contains(body, code) {
		t.Error("a voucher code leaked into the metrics")
	}
}
