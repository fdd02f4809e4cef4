package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
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
