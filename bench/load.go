package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Scenario is one measured workload.
type Scenario struct {
	Name        string
	Description string
	// Server is "baseline" for the bare Fiber server; default: the app.
	Server string
	// Baseline names an earlier scenario whose throughput this one is
	// divided by ("" for none).
	Baseline string
	// Conns caps the connections (0: the -conns flag).
	Conns  int
	Target Target
	// Request builds the next request against base; rng is the worker's own.
	Request RequestFunc
	// PerWorker, when set, gives each worker (0 … conns-1) its own Request,
	// e.g. one till per voucher.
	PerWorker func(worker int) RequestFunc
	// OK tells a good answer; default: status 200.
	OK func(status int) bool
}

// RequestFunc builds one request against base.
type RequestFunc func(base string, rng *rand.Rand) (*http.Request, error)

// Target is what the issue asks of a scenario; zero fields are not checked.
type Target struct {
	MaxP99Ms float64 `json:"max_p99_ms,omitempty"`
	MinRatio float64 `json:"min_ratio,omitempty"`
}

// scenarioList is the run order: one line per workload. Baselines come
// before the scenarios divided by them.
var scenarioList = []func(*Fixtures) Scenario{
	baselineRead,
	catalogText,
	catalogNear,
	catalogTextNear,
	catalogTextNear8,
	catalogPage,
	claimPage,
	baselineWrite,
	redeemAPI,
}

func scenarios(fx *Fixtures) []Scenario {
	out := make([]Scenario, 0, len(scenarioList))
	for _, f := range scenarioList {
		out = append(out, f(fx))
	}
	return out
}

func get(path func(*rand.Rand) string) RequestFunc {
	return func(base string, rng *rand.Rand) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, base+path(rng), nil)
	}
}

func pick[T any](list []T, rng *rand.Rand) T { return list[rng.IntN(len(list))] }

var catalogTarget = Target{MaxP99Ms: 20}

func baselineRead(fx *Fixtures) Scenario {
	return Scenario{
		Name:        "baseline",
		Description: "bare Fiber handler, one SQLite row by primary key",
		Server:      "baseline",
		Request:     get(func(rng *rand.Rand) string { return fmt.Sprintf("/merchant/%d", 1+rng.IntN(fx.MaxMerchantID)) }),
	}
}

func catalogText(fx *Fixtures) Scenario {
	return Scenario{
		Name: "catalog_text", Description: "GET /api/v1/merchants?q=WORD", Baseline: "baseline", Target: catalogTarget,
		Request: get(func(rng *rand.Rand) string {
			return "/api/v1/merchants?" + url.Values{"q": {pick(fx.Words, rng)}}.Encode()
		}),
	}
}

func catalogNear(fx *Fixtures) Scenario {
	return Scenario{
		Name: "catalog_near", Description: "GET /api/v1/merchants?near=PLZ", Baseline: "baseline", Target: catalogTarget,
		Request: get(func(rng *rand.Rand) string {
			return "/api/v1/merchants?" + url.Values{"near": {pick(fx.Postcodes, rng)}}.Encode()
		}),
	}
}

func catalogTextNear(fx *Fixtures) Scenario {
	return Scenario{
		Name: "catalog_text_near", Description: "GET /api/v1/merchants?q=WORD&near=PLZ", Baseline: "baseline", Target: catalogTarget,
		Request: get(func(rng *rand.Rand) string {
			return "/api/v1/merchants?" + url.Values{"q": {pick(fx.Words, rng)}, "near": {pick(fx.Postcodes, rng)}}.Encode()
		}),
	}
}

// catalogTextNear8 is the same query at a more modest load: its p99 is the
// latency a user sees, where at 64 connections it is mostly queueing on the
// two shared CPUs (compare the baseline's own p99).
func catalogTextNear8(fx *Fixtures) Scenario {
	sc := catalogTextNear(fx)
	sc.Name, sc.Conns = "catalog_text_near_8c", 8
	return sc
}

func catalogPage(fx *Fixtures) Scenario {
	return Scenario{
		Name: "catalog_page", Description: "GET /partners?q=WORD&near=PLZ (HTML)", Baseline: "baseline", Target: catalogTarget,
		Request: get(func(rng *rand.Rand) string {
			return "/partners?" + url.Values{"q": {pick(fx.Words, rng)}, "near": {pick(fx.Postcodes, rng)}}.Encode()
		}),
	}
}

func claimPage(fx *Fixtures) Scenario {
	return Scenario{
		Name: "claim_page", Description: "GET /c/{token} (HTML, claimed voucher)", Baseline: "baseline",
		Target:  Target{MaxP99Ms: 5, MinRatio: 0.5},
		Request: get(func(rng *rand.Rand) string { return "/c/" + pick(fx.ClaimTokens, rng) }),
	}
}

func baselineWrite(fx *Fixtures) Scenario {
	return Scenario{
		Name:        "baseline_write",
		Description: "bare Fiber handler, one durable SQLite write tx (UPDATE … WHERE balance >= 1 + INSERT), writers queued in Go",
		Server:      "baseline", Conns: tills,
		PerWorker: func(w int) RequestFunc {
			return func(base string, _ *rand.Rand) (*http.Request, error) {
				return http.NewRequest(http.MethodPost, fmt.Sprintf("%s/write/%d", base, 1+w), nil)
			}
		},
		OK: func(s int) bool { return s == http.StatusCreated },
	}
}

func redeemAPI(fx *Fixtures) Scenario {
	return Scenario{
		Name: "redeem_api", Description: "POST /api/v1/vouchers/{code}/redemptions, one voucher per till",
		Baseline: "baseline_write", Conns: tills, Target: Target{MinRatio: 0.5},
		PerWorker: func(w int) RequestFunc {
			code := fx.TillCodes[w%len(fx.TillCodes)]
			n := 0
			return func(base string, _ *rand.Rand) (*http.Request, error) {
				n++
				req, err := http.NewRequest(http.MethodPost, base+"/api/v1/vouchers/"+url.PathEscape(code)+"/redemptions",
					strings.NewReader(`{"amount_cents":1,"reference":"bench"}`))
				if err != nil {
					return nil, err
				}
				req.Header.Set("Authorization", "Bearer "+fx.MerchantKey)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d-%d-%d", time.Now().UnixNano(), w, n))
				return req, nil
			}
		},
		OK: func(s int) bool { return s == http.StatusCreated },
	}
}

// Result is one scenario's figures.
type Result struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Conns       int      `json:"conns"`
	Requests    int      `json:"requests"`
	Errors      int      `json:"errors"`
	FirstError  string   `json:"first_error,omitempty"`
	Throughput  float64  `json:"throughput_rps"`
	P50Ms       float64  `json:"p50_ms"`
	P99Ms       float64  `json:"p99_ms"`
	MaxMs       float64  `json:"max_ms"`
	Baseline    string   `json:"baseline,omitempty"`
	Ratio       float64  `json:"ratio,omitempty"`
	Target      Target   `json:"target"`
	Pass        *bool    `json:"pass,omitempty"` // nil when the scenario has no target
	Failures    []string `json:"failures,omitempty"`
	PeakRSSMB   float64  `json:"peak_rss_mb_so_far"`
}

func (r *Result) judge(t Target) {
	r.Target = t
	if t == (Target{}) {
		return
	}
	if t.MaxP99Ms > 0 && r.P99Ms > t.MaxP99Ms {
		r.Failures = append(r.Failures, fmt.Sprintf("p99 %.1f ms > %.0f ms", r.P99Ms, t.MaxP99Ms))
	}
	if t.MinRatio > 0 && r.Ratio < t.MinRatio {
		r.Failures = append(r.Failures, fmt.Sprintf("ratio %.2f < %.2f", r.Ratio, t.MinRatio))
	}
	if r.Errors > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d errors", r.Errors))
	}
	pass := len(r.Failures) == 0
	r.Pass = &pass
}

// Summary is the JSON written after a run.
type Summary struct {
	Commit      string    `json:"commit"`
	Date        string    `json:"date"`
	GoVersion   string    `json:"go_version"`
	CPUs        int       `json:"cpus"`
	Duration    string    `json:"duration_per_scenario"`
	Merchants   int       `json:"merchants"`
	Scenarios   []*Result `json:"scenarios"`
	PeakRSSMB   float64   `json:"peak_rss_mb"`
	RSSTargetMB float64   `json:"rss_target_mb"`
	RSSPass     bool      `json:"rss_pass"`
	// LedgerOK is `ledger verify` on the database after every scenario.
	LedgerOK       bool     `json:"ledger_ok"`
	LedgerProblems []string `json:"ledger_problems,omitempty"`
}

// load runs sc with conns closed-loop workers: a warm-up, then exactly
// measure of recorded load; each worker owns one keep-alive connection.
func load(ctx context.Context, base string, sc Scenario, conns int, warmup, measure time.Duration) (*Result, error) {
	ok := sc.OK
	if ok == nil {
		ok = func(s int) bool { return s == http.StatusOK }
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	start := time.Now()
	measureFrom := start.Add(warmup)
	stopAt := measureFrom.Add(measure)
	lctx, cancel := context.WithDeadline(ctx, stopAt.Add(15*time.Second)) // hard bound
	defer cancel()

	type workerOut struct {
		lat      []time.Duration
		errors   int
		firstErr string
	}
	outs := make([]workerOut, conns)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			request := sc.Request
			if sc.PerWorker != nil {
				request = sc.PerWorker(w)
			}
			out := &outs[w]
			out.lat = make([]time.Duration, 0, 4096)
			for {
				now := time.Now()
				if !now.Before(stopAt) || lctx.Err() != nil {
					return
				}
				req, err := request(base, rng)
				if err != nil {
					out.errors++
					out.firstErr = err.Error()
					return
				}
				req = req.WithContext(lctx)
				t0 := time.Now()
				res, err := client.Do(req)
				status := 0
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					status = res.StatusCode
				}
				d := time.Since(t0)
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil || !ok(status) {
					out.errors++
					if out.firstErr == "" {
						if err != nil {
							out.firstErr = err.Error()
						} else {
							out.firstErr = fmt.Sprintf("status %d for %s", status, req.URL.RequestURI())
						}
					}
					continue
				}
				out.lat = append(out.lat, d)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	if elapsed > measure {
		elapsed = measure // requests started after stopAt are not sent
	}
	r := &Result{Name: sc.Name, Description: sc.Description, Conns: conns}
	var all []time.Duration
	for _, o := range outs {
		all = append(all, o.lat...)
		r.Errors += o.errors
		if r.FirstError == "" {
			r.FirstError = o.firstErr
		}
	}
	r.Requests = len(all) + r.Errors
	if len(all) == 0 {
		return r, fmt.Errorf("no successful request (first error: %s)", r.FirstError)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		i := int(p * float64(len(all)-1))
		return float64(all[i].Microseconds()) / 1000
	}
	r.Throughput = float64(len(all)) / elapsed.Seconds()
	r.P50Ms, r.P99Ms, r.MaxMs = pct(0.50), pct(0.99), pct(1)
	return r, nil
}

func printTable(w io.Writer, s Summary) {
	fmt.Fprintf(w, "\nTrostpflaster bench — commit %s, %s, %d CPUs, %d merchants, %s per scenario\n\n",
		short(s.Commit), s.GoVersion, s.CPUs, s.Merchants, s.Duration)
	fmt.Fprintf(w, "%-20s %5s %8s %6s %9s %8s %8s %8s %7s  %-12s %s\n",
		"scenario", "conns", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms", "ratio", "target", "result")
	fmt.Fprintln(w, strings.Repeat("-", 114))
	for _, r := range s.Scenarios {
		ratio, target, result := "", "", ""
		if r.Baseline != "" {
			ratio = fmt.Sprintf("%.3f", r.Ratio)
		}
		var t []string
		if r.Target.MaxP99Ms > 0 {
			t = append(t, fmt.Sprintf("p99≤%.0fms", r.Target.MaxP99Ms))
		}
		if r.Target.MinRatio > 0 {
			t = append(t, fmt.Sprintf("ratio≥%.2f", r.Target.MinRatio))
		}
		target = strings.Join(t, ",")
		if r.Pass != nil {
			result = "PASS"
			if !*r.Pass {
				result = "FAIL: " + strings.Join(r.Failures, "; ")
			}
		}
		fmt.Fprintf(w, "%-20s %5d %8d %6d %9.0f %8.2f %8.2f %8.2f %7s  %-12s %s\n",
			r.Name, r.Conns, r.Requests, r.Errors, r.Throughput, r.P50Ms, r.P99Ms, r.MaxMs, ratio, target, result)
	}
	rss := "PASS"
	if !s.RSSPass {
		rss = "FAIL"
	}
	fmt.Fprintf(w, "\nserver peak RSS (VmHWM): %.1f MB (target < %.0f MB): %s\n", s.PeakRSSMB, s.RSSTargetMB, rss)
	ledger := "ok"
	if !s.LedgerOK {
		ledger = "FAIL: " + strings.Join(s.LedgerProblems, "; ")
	}
	fmt.Fprintf(w, "ledger verify after the run: %s\n", ledger)
	fmt.Fprintln(w, "load generator and server share this machine's CPUs; ratios compare runs on the same machine only.")
}

func short(c string) string {
	if len(c) >= 40 {
		return c[:12] + c[40:] // keeps a "+dirty" suffix
	}
	if c == "" {
		return "unknown"
	}
	return c
}
