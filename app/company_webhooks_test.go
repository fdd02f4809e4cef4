package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// hookReceiver is a help desk: it records signed requests and answers with
// the status it is told to.
type hookReceiver struct {
	mu     sync.Mutex
	status int
	got    []receivedHook
	srv    *httptest.Server
}

type receivedHook struct {
	Signature string
	Body      []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{status: 200}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, receivedHook{Signature: req.Header.Get("Trostpflaster-Signature"), Body: b})
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) events(t *testing.T, secret string) []map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, h := range r.got {
		// Verify exactly as the docs page tells receivers to.
		var ts int64
		var sig string
		for _, part := range strings.Split(h.Signature, ",") {
			k, v, _ := strings.Cut(part, "=")
			switch k {
			case "t":
				ts, _ = strconv.ParseInt(v, 10, 64)
			case "v1":
				sig = v
			}
		}
		if sig == "" || sig != models.SignHook(secret, ts, h.Body) || time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Fatalf("bad signature %q on %s", h.Signature, h.Body)
		}
		var ev map[string]any
		if err := json.Unmarshal(h.Body, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func TestCompanyWebhooks(t *testing.T) {
	t.Parallel()
	env := apptest.BaseEnv(t, "sqlite")
	env["WEBHOOKS_ALLOW_PRIVATE"] = "1"
	a := apptest.NewApp(t, env)
	if _, err := app.SeedDemo(t.Context(), a.Store, a.Places); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	key, _, err := a.Store.CreateAPIKey(ctx, &co.ID, nil, "desk", models.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	cafe, _ := a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	recv := newHookReceiver(t)

	admin := apptest.NewClient(t, a.HTTP)
	admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	for _, bad := range []string{"", "ftp://desk.example/x", "not a url", "https://user:pw@desk.example/", "https://" + strings.Repeat("a", 600) + ".example"} {
		if res := admin.PostForm("/company/webhooks", url.Values{"url": {bad}}); res.Status != 422 {
			t.Fatalf("endpoint %q: %d", bad, res.Status)
		}
	}
	if res := admin.PostForm("/company/webhooks", url.Values{"url": {recv.srv.URL + "/hooks"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("add endpoint: %d %s", res.Status, res.Body)
	}
	eps, _ := a.Store.WebhookEndpoints(ctx, co.ID)
	if len(eps) != 1 {
		t.Fatalf("%d endpoints", len(eps))
	}
	secret := a.Store.HookSecret(&eps[0])
	page := admin.Get("/company/webhooks")
	if page.Status != 200 || !strings.Contains(page.Body, secret) || page.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("webhooks page: %d", page.Status)
	}

	// Agents and other companies cannot reach or change the endpoints.
	agent := apptest.NewClient(t, a.HTTP)
	agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
	if res := agent.Get("/company/webhooks"); res.Status != 404 {
		t.Fatalf("agent sees webhooks: %d", res.Status)
	}
	other := apptest.NewClient(t, a.HTTP)
	other.PostForm("/signup/company", signupForm("company", map[string]string{"email": "boss@other.example", "org_name": "Andere GmbH"}))
	if res := other.PostForm("/company/webhooks/"+eps[0].PublicID+"/delete", nil); res.Status != 404 {
		t.Fatalf("other company deleted an endpoint: %d", res.Status)
	}
	if res := other.PostForm("/company/webhooks/"+eps[0].PublicID+"/test", nil); res.Status != 404 {
		t.Fatalf("other company pinged an endpoint: %d", res.Status)
	}

	// A gift sent and cancelled through the API reaches the help desk,
	// signed, with the ticket reference and without the recipient's address.
	e := &giftEnv{a: a}
	res := e.api(t, key, "POST", "/api/v1/gifts", "hook-1", `{"recipient_email":"kundin@example.com","amount_cents":1500,"merchant_ids":[`+strconv.Itoa(int(cafe.ID))+`],"reference":"TICKET-42","notify":"none"}`)
	if res.Status != 201 {
		t.Fatalf("send: %d %s", res.Status, res.Body)
	}
	g := decode[giftJSON](t, res)
	if res := e.api(t, key, "POST", "/api/v1/gifts/"+g.ID+"/cancel", "", ""); res.Status != 200 {
		t.Fatalf("cancel: %d %s", res.Status, res.Body)
	}
	if n := a.DeliverHooks(ctx); n != 2 {
		t.Fatalf("delivered %d", n)
	}
	evs := recv.events(t, secret)
	if len(evs) != 2 || evs[0]["type"] != "gift.sent" || evs[1]["type"] != "gift.cancelled" {
		t.Fatalf("events %v", evs)
	}
	data := evs[0]["data"].(map[string]any)
	if data["reference"] != "TICKET-42" || data["gift_id"] != g.ID || data["amount_cents"].(float64) != 1500 {
		t.Fatalf("gift.sent data %v", data)
	}
	for _, h := range recv.got {
		if strings.Contains(string(h.Body), "kundin@example.com") {
			t.Fatal("recipient address sent to the webhook")
		}
	}

	// A failing help desk is retried later, with backoff, then succeeds.
	recv.mu.Lock()
	recv.status = 503
	recv.mu.Unlock()
	if res := admin.PostForm("/company/webhooks/"+eps[0].PublicID+"/test", nil); res.Status != http.StatusSeeOther {
		t.Fatalf("test event: %d", res.Status)
	}
	if n := a.DeliverHooks(ctx); n != 0 {
		t.Fatalf("delivered %d to a failing endpoint", n)
	}
	var d models.WebhookDelivery
	a.DB.Where("event_type = ?", models.HookTestPing).First(&d)
	if d.Status != models.HookDeliveryQueued || d.Attempts != 1 || d.LastStatus != 503 || !d.NextAttempt.After(time.Now().Add(20*time.Second)) {
		t.Fatalf("after failure: %+v", d)
	}
	if n := a.DeliverHooks(ctx); n != 0 {
		t.Fatal("retried before the backoff")
	}
	recv.mu.Lock()
	recv.status = 204
	recv.mu.Unlock()
	a.DB.Model(&d).Update("next_attempt", time.Now().Add(-time.Second))
	if n := a.DeliverHooks(ctx); n != 1 {
		t.Fatalf("retry delivered %d", n)
	}
	if evs := recv.events(t, secret); evs[len(evs)-1]["type"] != "test.ping" {
		t.Fatalf("last event %v", evs[len(evs)-1])
	}
	a.DB.First(&d, d.ID)
	if d.Status != models.HookDeliveryDone || d.Attempts != 2 || d.LastStatus != 204 {
		t.Fatalf("after retry: %+v", d)
	}
	if page := admin.Get("/company/webhooks"); !strings.Contains(page.Body, "HTTP 204") || !strings.Contains(page.Body, "test.ping") || !strings.Contains(page.Body, "zugestellt") {
		t.Fatal("delivery log does not show the delivery")
	}
	if res := admin.PostForm("/company/webhooks/"+eps[0].PublicID+"/delete", nil); res.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.Status)
	}
}

// Without WEBHOOKS_ALLOW_PRIVATE, endpoints must be https and deliveries to
// loopback or private addresses are refused at connect time (no SSRF).
func TestCompanyWebhooksRefusePrivateTargets(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	ctx := t.Context()
	co, _ := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	if _, err := a.Store.AddWebhookEndpoint(ctx, co.ID, chefin.ID, "http://desk.example/hook", false); err == nil {
		t.Fatal("plain http accepted")
	}
	ep, err := a.Store.AddWebhookEndpoint(ctx, co.ID, chefin.ID, "https://127.0.0.1:9/hook", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.SendTestHook(ctx, co.ID, ep.PublicID); err != nil {
		t.Fatal(err)
	}
	a.DeliverHooks(ctx)
	var d models.WebhookDelivery
	a.DB.Where("endpoint_id = ?", ep.ID).First(&d)
	if d.Status != models.HookDeliveryQueued || !strings.Contains(d.LastError, "not a public address") {
		t.Fatalf("delivery to loopback: %+v", d)
	}
}
