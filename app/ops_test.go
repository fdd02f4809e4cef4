package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

type failingMailer struct{}

func (failingMailer) Send(context.Context, models.Mail) error { return errors.New("smtp down") }

func httpGet(t *testing.T, url string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	env := apptest.BaseEnv(t, "sqlite")
	env["METRICS_TOKEN"] = "scrape-secret-0123456789"
	a := apptest.NewApp(t, env)
	base := apptest.Serve(t, a)

	const token = "Zk3secretClaimToken9"
	for _, p := range []string{"/", "/healthz", "/reset/" + token, "/no/such/" + token, "/api/v1/merchants?q=x"} {
		httpGet(t, base+p, nil)
	}
	ctx := t.Context()
	for i := 0; i < 3; i++ {
		if err := a.Store.EnqueueMail(ctx, models.Mail{To: "kunde@example.com", Subject: "Hallo", Text: "Hallo"}); err != nil {
			t.Fatal(err)
		}
	}
	a.Mailer = failingMailer{}
	if sent := a.DeliverMails(ctx); sent != 0 {
		t.Fatalf("sent %d with a failing mailer", sent)
	}

	status, body := httpGet(t, base+"/metrics", nil)
	if status != 200 {
		t.Fatalf("loopback scrape: %d %s", status, body)
	}
	for _, want := range []string{
		`trostpflaster_http_request_duration_seconds_count{method="GET",route="/",status="2xx"} 1`,
		`trostpflaster_http_request_duration_seconds_count{method="GET",route="/reset/:token",status="`,
		`trostpflaster_http_request_duration_seconds_count{method="GET",route="(other)",status="4xx"} 1`,
		`trostpflaster_http_request_duration_seconds_count{method="GET",route="/api/v1/merchants",status="2xx"} 1`,
		`trostpflaster_mail_queue{state="queued"} 3`,
		`trostpflaster_mail_queue{state="failed"} 0`,
		`trostpflaster_mail_delivery_failures_total 3`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, token) {
		t.Error("a token from a request path leaked into the metrics")
	}
	if n := len(regexp.MustCompile(`route="[^"]*"`).FindAllString(body, -1)); n == 0 {
		t.Error("no route labels")
	}

	// A proxied request is never "local", and a wrong token is refused.
	for name, h := range map[string]map[string]string{
		"forwarded":   {"X-Forwarded-For": "203.0.113.9"},
		"wrong token": {"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer nope"},
	} {
		if status, _ := httpGet(t, base+"/metrics", h); status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, status)
		}
	}
	status, body = httpGet(t, base+"/metrics", map[string]string{"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer " + env["METRICS_TOKEN"]})
	if status != 200 || !strings.Contains(body, "trostpflaster_mail_queue") {
		t.Errorf("token scrape: %d", status)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	c := apptest.NewClient(t, a.HTTP)
	if res := c.Get("/readyz"); res.Status != 200 || !strings.Contains(res.Body, `"ok"`) {
		t.Fatalf("fresh app: %d %s", res.Status, res.Body)
	}
	if res := c.Get("/readyz"); res.Cookie["tp_csrf"] != nil || res.Cookie["tp_session"] != nil {
		t.Error("probe got cookies")
	}
	// A database migrated by an older binary is not ready.
	if err := a.DB.Exec("DELETE FROM migrations WHERE id = (SELECT MAX(id) FROM migrations)").Error; err != nil {
		t.Fatal(err)
	}
	if res := c.Get("/readyz"); res.Status != 503 || !strings.Contains(res.Body, "migrations pending") {
		t.Fatalf("pending migration: %d %s", res.Status, res.Body)
	}
	if res := c.Get("/healthz"); res.Status != 200 {
		t.Errorf("healthz only checks the database: %d", res.Status)
	}
	sqlDB, err := a.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	if res := c.Get("/readyz"); res.Status != 503 || !strings.Contains(res.Body, "database") {
		t.Fatalf("closed database: %d %s", res.Status, res.Body)
	}
}

func TestHealthAndLimits(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	c := apptest.NewClient(t, a.HTTP)
	if res := c.Get("/healthz"); res.Status != 200 || !strings.Contains(res.Body, "ok") {
		t.Fatalf("healthz: %d %s", res.Status, res.Body)
	}
	// Bodies over the limit are refused with 413 before any handler runs.
	base := apptest.Serve(t, a)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nemail=", 13<<20)
	hres, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	hres.Body.Close()
	if hres.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: %d", hres.StatusCode)
	}
	// Forms without a CSRF token are refused and change nothing.
	res := c.PostRaw("/signup/company", url.Values{"org_name": {"Evil"}, "name": {"Eve"}, "email": {"eve@example.com"}, "password": {"correct horse battery"}, "confirm": {"correct horse battery"}})
	if res.Status != http.StatusForbidden {
		t.Fatalf("no csrf: %d", res.Status)
	}
	if _, err := a.Store.UserByEmail(t.Context(), "eve@example.com"); err != models.ErrNotFound {
		t.Fatalf("user created without CSRF token: %v", err)
	}
	// A token from another browser does not count.
	other := apptest.NewClient(t, a.HTTP)
	res = c.PostRaw("/signup/company", url.Values{"_csrf": {other.CSRF()}, "org_name": {"Evil"}})
	if res.Status != http.StatusForbidden {
		t.Fatalf("foreign csrf token: %d", res.Status)
	}
	// After healthz, the database going away is reported, not hidden.
	a.Close()
	if res := c.Get("/healthz"); res.Status != http.StatusServiceUnavailable {
		t.Fatalf("healthz with closed db: %d", res.Status)
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
