package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"trostpflaster/app"
	"trostpflaster/models"
)

// bulkRows is the mass send: a utility apologising to 20,000 customers.
const bulkRows = 20_000

// benchBulk measures the bulk send of issue 7: one 20,000-row CSV through
// POST /api/v1/gifts/bulk, accepted (validated, stored, total reserved:
// 202) in under 10 s; then the time until the job queue has written every
// gift, ledger transaction and queued mail (status "sent"); then, while the
// child's worker mails the batch, the claim page of the batch's gifts is
// loaded like the claim scenario (p99 ≤ 5 ms), which shows the web server
// is not blocked by the mass mailing.
func benchBulk(ctx context.Context, env []string, srv *child, fx *Fixtures, o Options, results map[string]*Result) ([]*Result, error) {
	base := results["baseline"]
	if base == nil || base.Throughput == 0 {
		return nil, fmt.Errorf("the baseline has not run")
	}
	key, err := bulkSetup(ctx, env)
	if err != nil {
		return nil, err
	}
	b := &bulkRun{env: env, srv: srv, key: key, client: &http.Client{Timeout: 60 * time.Second}}
	accept, err := b.accept(ctx, bulkCSV(fx))
	if err != nil {
		return nil, err
	}
	out := []*Result{accept}
	if accept.Errors > 0 {
		return out, nil
	}
	gifts, err := b.waitUntilSent(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, gifts)
	if gifts.Errors > 0 {
		return out, nil
	}
	paths, err := b.claimPaths(ctx)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no claim links in the batch")
	}
	mailing, err := b.loadWhileMailing(ctx, fx, o, base, paths)
	if err != nil {
		return nil, err
	}
	out = append(out, mailing...)
	if !o.BulkMails {
		return out, nil
	}
	mails, err := b.waitUntilMailed(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, mails), nil
}

// bulkRun is one bulk send under measurement: the company's API key, the
// batch, when its upload started (t0) and how long the upload took until
// 202 (took). The later stages are timed from the 202: since t0 minus took.
type bulkRun struct {
	env    []string
	srv    *child
	key    string
	client *http.Client
	batch  string
	t0     time.Time
	took   time.Duration
}

// get is an authenticated API request to the child.
func (b *bulkRun) get(ctx context.Context, u string) (*http.Response, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.client.Do(r)
}

// accept uploads the CSV and times it until 202 (bulk_accept).
func (b *bulkRun) accept(ctx context.Context, body []byte) (*Result, error) {
	fmt.Printf("running %-18s one request, %d rows (%.1f MB) …\n", "bulk_accept", bulkRows, float64(len(body))/1e6)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.appURL+"/api/v1/gifts/bulk", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+b.key)
	req.Header.Set("Idempotency-Key", "bench-bulk-"+time.Now().Format(time.RFC3339Nano))
	b.t0 = time.Now()
	res, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	b.took = time.Since(b.t0)
	ms := float64(b.took.Microseconds()) / 1000
	accept := &Result{Name: "bulk_accept", Description: fmt.Sprintf("POST /api/v1/gifts/bulk, %d-row CSV, until 202 (req/s = rows/s)", bulkRows),
		Conns: 1, Requests: 1, Throughput: bulkRows / b.took.Seconds(), P50Ms: ms, P99Ms: ms, MaxMs: ms}
	var batch struct {
		ID   string `json:"id"`
		Sent int    `json:"sent"`
	}
	if res.StatusCode != http.StatusAccepted || json.Unmarshal(answer, &batch) != nil || batch.ID == "" {
		accept.Errors, accept.FirstError = 1, fmt.Sprintf("status %d: %.300s", res.StatusCode, answer)
	}
	b.batch = batch.ID
	accept.PeakRSSMB = b.srv.peakRSSMB()
	accept.judge(Target{MaxP99Ms: 10_000})
	return accept, nil
}

// waitUntilSent polls the batch's progress until the job queue has written
// every gift (bulk_gifts).
func (b *bulkRun) waitUntilSent(ctx context.Context) (*Result, error) {
	fmt.Printf("running %-18s until the batch is sent …\n", "bulk_gifts")
	gifts := &Result{Name: "bulk_gifts", Description: fmt.Sprintf("202 until all %d gifts, ledger transactions and mails are written (job queue; req/s = gifts/s)", bulkRows), Conns: 1, Requests: 1}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		res, err := b.get(ctx, b.srv.appURL+"/api/v1/gifts/bulk/"+b.batch)
		if err != nil {
			return nil, err
		}
		var p struct {
			Status string `json:"status"`
			Sent   int    `json:"sent"`
		}
		err = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		if p.Status == "sent" {
			if p.Sent != bulkRows {
				gifts.Errors, gifts.FirstError = 1, fmt.Sprintf("sent %d of %d", p.Sent, bulkRows)
			}
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			gifts.Errors, gifts.FirstError = 1, fmt.Sprintf("still %s after 5 min (%d sent)", p.Status, p.Sent)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	all := time.Since(b.t0) - b.took
	gms := float64(all.Microseconds()) / 1000
	gifts.P50Ms, gifts.P99Ms, gifts.MaxMs, gifts.Throughput = gms, gms, gms, bulkRows/all.Seconds()
	gifts.PeakRSSMB = b.srv.peakRSSMB()
	return gifts, nil
}

// claimPaths reads up to about 1,000 claim links of the batch back through
// the API, as /c/{token} paths.
func (b *bulkRun) claimPaths(ctx context.Context) ([]string, error) {
	var paths []string
	next := ""
	for len(paths) < 1000 {
		u := b.srv.appURL + "/api/v1/gifts/bulk/" + b.batch + "/gifts?limit=100"
		if next != "" {
			u += "&cursor=" + url.QueryEscape(next)
		}
		res, err := b.get(ctx, u)
		if err != nil {
			return nil, err
		}
		var page struct {
			Data []struct {
				ClaimURL string `json:"claim_url"`
			} `json:"data"`
			NextCursor string `json:"next_cursor"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, g := range page.Data {
			if i := strings.Index(g.ClaimURL, "/c/"); i >= 0 {
				paths = append(paths, g.ClaimURL[i:])
			}
		}
		if next = page.NextCursor; next == "" {
			break
		}
	}
	return paths, nil
}

// loadWhileMailing runs, while the worker mails the batch, the claim page of
// the claim scenario at its open-loop rate (judged: p99 ≤ 5 ms), then the
// batch's own links, not yet claimed (reported).
func (b *bulkRun) loadWhileMailing(ctx context.Context, fx *Fixtures, o Options, base *Result, paths []string) ([]*Result, error) {
	claim := claimPageAtRate(fx)
	claim.Name, claim.Description = "bulk_claim_mailing", "GET /c/{token} (claimed voucher) open loop while the worker mails the batch"
	links := Scenario{
		Name:        "bulk_links_mailing",
		Description: "GET /c/{token} of the batch (not yet claimed) open loop while the worker mails it",
		RateOf:      catalogRateOf,
		Request: func(base string, rng *rand.Rand) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, base+paths[rng.IntN(len(paths))], nil)
		},
	}
	var out []*Result
	for _, sc := range []Scenario{claim, links} {
		before, _, err := bulkMailCounts(ctx, b.env)
		if err != nil {
			return nil, err
		}
		rate := sc.RateOf * base.Throughput
		fmt.Printf("running %-20s open loop at %.0f req/s, up to %d conns, %s …\n", sc.Name, rate, o.Conns, o.Duration)
		r, err := load(ctx, b.srv.appURL, sc, o.Conns, rate, o.Warmup, o.Duration)
		if err != nil {
			return nil, err
		}
		sent, queued, err := bulkMailCounts(ctx, b.env)
		if err != nil {
			return nil, err
		}
		r.Description += fmt.Sprintf(" (%d mails sent meanwhile, %d still queued)", sent-before, queued)
		fmt.Printf("  mails sent meanwhile: %d, still queued: %d\n", sent-before, queued)
		if sent == before {
			r.Errors++
			r.FirstError = "no mail went out during the scenario: it did not run beside the mailing"
		}
		r.PeakRSSMB = b.srv.peakRSSMB()
		r.judge(sc.Target)
		out = append(out, r)
	}
	return out, nil
}

// waitUntilMailed waits, with no other load, for the rest of the mailing:
// until every mail of the batch is out (bulk_mails).
func (b *bulkRun) waitUntilMailed(ctx context.Context) (*Result, error) {
	fmt.Printf("running %-20s until every mail is out …\n", "bulk_mails")
	mails := &Result{Name: "bulk_mails", Description: fmt.Sprintf("202 until all %d recipient mails are sent by the worker (dev mailer; req/s = mails/s)", bulkRows), Conns: 1, Requests: 1}
	for {
		sent, queued, err := bulkMailCounts(ctx, b.env)
		if err != nil {
			return nil, err
		}
		if queued == 0 {
			if sent < bulkRows {
				mails.Errors, mails.FirstError = 1, fmt.Sprintf("%d mails sent, fewer than the %d gifts", sent, bulkRows)
			}
			break
		}
		if time.Since(b.t0) > 10*time.Minute || ctx.Err() != nil {
			mails.Errors, mails.FirstError = 1, fmt.Sprintf("%d mails still queued after 10 min", queued)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	all := time.Since(b.t0) - b.took
	mms := float64(all.Microseconds()) / 1000
	mails.P50Ms, mails.P99Ms, mails.MaxMs, mails.Throughput = mms, mms, mms, bulkRows/all.Seconds()
	mails.PeakRSSMB = b.srv.peakRSSMB()
	return mails, nil
}

// bulkSetup gives the demo company a key and enough credit, through the
// app's own store on the benchmark database (the child keeps running).
func bulkSetup(ctx context.Context, env []string) (string, error) {
	cfg, err := app.LoadConfig(getenvFrom(env), false)
	if err != nil {
		return "", err
	}
	a, err := app.New(cfg, discardLogger())
	if err != nil {
		return "", err
	}
	defer a.Close()
	c, err := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	if err != nil {
		return "", err
	}
	key, _, err := a.Store.CreateAPIKey(ctx, &c.ID, nil, "bench bulk", models.ActorCLI)
	if err != nil {
		return "", err
	}
	if _, err := a.Store.GrantCredit(ctx, c.ID, bulkRows*50_00, "", "bench bulk", models.ActorCLI); err != nil {
		return "", err
	}
	return key, nil
}

func bulkMailCounts(ctx context.Context, env []string) (sent, queued int64, err error) {
	// A plain read-only connection: opening the app here (migrations and
	// all) would take SQLite's write lock from the server under test.
	path, ok := strings.CutPrefix(getenvFrom(env)("DATABASE_URL"), "sqlite:")
	if !ok {
		return 0, 0, fmt.Errorf("the benchmark runs on SQLite")
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FILTER (WHERE status = ?), COUNT(*) FILTER (WHERE status = ?) FROM mails",
		models.MailSent, models.MailQueued).Scan(&sent, &queued)
	return sent, queued, err
}

// bulkCSV is a realistic upload: ";"-separated with a BOM, euro amounts
// with a comma, mostly one partner, every fifth a choice of two, every
// tenth "near" one of a few postcodes.
func bulkCSV(fx *Fixtures) []byte {
	rng := rand.New(rand.NewPCG(20, 20))
	var b bytes.Buffer
	b.WriteString("\ufeffrecipient_email;recipient_name;amount;merchant;near;message;reference\r\n")
	for i := range bulkRows {
		merchant, near := "cafe-rheinblick", ""
		switch {
		case i%10 == 0:
			merchant, near = "", fx.Postcodes[rng.IntN(min(20, len(fx.Postcodes)))]
		case i%5 == 0:
			merchant = "cafe-rheinblick|baeckerei-sonnenkorn"
		}
		fmt.Fprintf(&b, "kunde%05d@example.com;Kundin %d;%d,%02d;%s;%s;Es tut uns leid wegen des Stromausfalls am Montag.;STOERUNG-%05d\r\n",
			i, i, 5+rng.IntN(20), 50*rng.IntN(2), merchant, near, i)
	}
	return b.Bytes()
}
