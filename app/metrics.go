package app

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"trostpflaster/models"
)

// Metrics is the App's own Prometheus registry (never the global default
// one, so several Apps in one process — tests, the benchmark — do not share
// counters). Areas add their collectors with Registry().MustRegister.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.HistogramVec
	mailFailures prometheus.Counter
	hookFailures prometheus.Counter
	jobFailures  *prometheus.CounterVec
	redemptions  *prometheus.CounterVec
	payouts      *prometheus.CounterVec
	paidCents    prometheus.Counter
	settleRuns   *prometheus.CounterVec
	lastSettle   prometheus.Gauge

	// endpoints identifies the routes proper (not middleware), built on the
	// first request once every route is registered.
	endpointsOnce sync.Once
	endpoints     map[*fiber.Handler]bool
}

// routeOther labels requests that ended in a middleware (404 catch-alls, a
// CSRF rejection) rather than a route, so unknown paths cannot blow up the
// label set.
const routeOther = "(other)"

func newMetrics(store *models.Store) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "trostpflaster_http_request_duration_seconds",
			Help: "HTTP request latency by method, route template and status class.",
			// 1 ms … 10 s; the catalog target is p99 ≤ 20 ms, the claim page 5 ms.
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"method", "route", "status"}),
		mailFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trostpflaster_mail_delivery_failures_total",
			Help: "Failed mail delivery attempts (each retry counts).",
		}),
		hookFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trostpflaster_webhook_delivery_failures_total",
			Help: "Failed outgoing webhook delivery attempts (each retry counts).",
		}),
		jobFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trostpflaster_job_run_failures_total",
			Help: "Periodic job runs (lifecycle, settlement) that ended in an error.",
		}, []string{"job"}),
		redemptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trostpflaster_redemptions_total",
			Help: "Redemption attempts answered by this instance, by channel (api, till) and result.",
		}, []string{"channel", "result"}),
		payouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trostpflaster_settlement_payouts_total",
			Help: "Settlement payouts by result: paid (Stripe confirmed), failed (refused, back to payable), unknown (retried next run).",
		}, []string{"result"}),
		paidCents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trostpflaster_settlement_paid_cents_total",
			Help: "Cents paid out to merchants by settlement runs of this instance.",
		}),
		settleRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trostpflaster_settlement_runs_total",
			Help: "Settlement runs of this instance by result (ok, error); runs skipped because another holds the lease are not counted.",
		}, []string{"result"}),
		lastSettle: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "trostpflaster_settlement_last_success_timestamp_seconds",
			Help: "When a settlement run of this instance last finished without error (unix seconds).",
		}),
	}
	for _, job := range []string{"lifecycle", "settlement"} {
		m.jobFailures.WithLabelValues(job)
	}
	for _, res := range []string{"paid", "failed", "unknown"} {
		m.payouts.WithLabelValues(res)
	}
	m.reg.MustRegister(
		m.requests,
		m.mailFailures,
		m.hookFailures,
		m.jobFailures,
		m.redemptions,
		m.payouts,
		m.paidCents,
		m.settleRuns,
		m.lastSettle,
		newMailQueueCollector(store),
		newHookQueueCollector(store),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is where areas register their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// MailFailed counts one failed delivery attempt.
func (m *Metrics) MailFailed() {
	if m != nil {
		m.mailFailures.Inc()
	}
}

// HookFailed counts one failed webhook delivery attempt.
func (m *Metrics) HookFailed() {
	if m != nil {
		m.hookFailures.Inc()
	}
}

// JobRunFailed counts a periodic job run that ended in an error.
func (m *Metrics) JobRunFailed(job string) {
	if m != nil {
		m.jobFailures.WithLabelValues(job).Inc()
	}
}

// Settled records a settlement run's outcome.
func (m *Metrics) Settled(r SettleResult, err error) {
	if m == nil {
		return
	}
	m.payouts.WithLabelValues("paid").Add(float64(r.Paid))
	m.payouts.WithLabelValues("failed").Add(float64(r.Failed))
	m.payouts.WithLabelValues("unknown").Add(float64(r.Unknown))
	m.paidCents.Add(float64(r.PaidCents))
	if err != nil {
		m.settleRuns.WithLabelValues("error").Inc()
		m.jobFailures.WithLabelValues("settlement").Inc()
		return
	}
	m.settleRuns.WithLabelValues("ok").Inc()
	m.lastSettle.SetToCurrentTime()
}

// redemptionRoutes are the routes that redeem, by channel.
var redemptionRoutes = map[string]string{
	"/api/v1/vouchers/:code/redemptions": "api",
	"/merchant/redeem":                   "till",
}

// redemptionResult names a redemption answer by its status.
func redemptionResult(channel string, status int) string {
	switch {
	case status == fiber.StatusCreated, channel == "till" && status == fiber.StatusOK:
		return "created"
	case status == fiber.StatusOK:
		return "replayed"
	case status == fiber.StatusConflict:
		return "insufficient_balance"
	case status == fiber.StatusGone:
		return "expired_or_cancelled"
	case status == fiber.StatusNotFound:
		return "not_found"
	case status == fiber.StatusUnprocessableEntity || status == fiber.StatusBadRequest:
		return "invalid"
	case status >= 500:
		return "error"
	}
	return "rejected"
}

// Middleware records each request's latency. The route label is the route
// template (c.Route().Path, e.g. /c/:token), never the request path, so
// tokens in URLs never reach the metrics. Errors are rendered here through
// the app's error handler, so the recorded status is the one sent.
func (m *Metrics) Middleware(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	r := c.Route()
	route := r.Path
	if status >= 400 && !m.isEndpoint(c.App(), r) {
		route = routeOther
	}
	method := methodLabel(c.Method())
	m.requests.WithLabelValues(method, route, statusClass(status)).Observe(time.Since(start).Seconds())
	if ch, ok := redemptionRoutes[route]; ok && method == fiber.MethodPost {
		m.redemptions.WithLabelValues(ch, redemptionResult(ch, status)).Inc()
	}
	return nil
}

// methodLabel maps the request method to a constant string. c.Method()
// points into Fiber's reused request buffer, and a label value is kept by
// the registry, so passing it on would let later requests overwrite the
// label ("GET" turning into "GETT"); unknown methods are one label.
var statusClasses = [...]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

// statusClass is the status label ("2xx"), without formatting it per request.
func statusClass(status int) string {
	if c := status / 100; c >= 0 && c < len(statusClasses) {
		return statusClasses[c]
	}
	return strconv.Itoa(status/100) + "xx"
}

func methodLabel(m string) string {
	for _, known := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
		fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions} {
		if m == known {
			return known
		}
	}
	return "OTHER"
}

// isEndpoint reports whether r is a route proper rather than middleware
// (app.Use, group middleware), whose Path is a prefix such as "/" shared with
// real pages. fiber.Route does not export that flag, but GetRoutes(true)
// lists the proper routes, and a copy shares its Handlers array with the
// route a request runs, so the array's first slot identifies it.
func (m *Metrics) isEndpoint(app *fiber.App, r *fiber.Route) bool {
	m.endpointsOnce.Do(func() {
		m.endpoints = map[*fiber.Handler]bool{}
		for _, rt := range app.GetRoutes(true) {
			if len(rt.Handlers) > 0 {
				m.endpoints[&rt.Handlers[0]] = true
			}
		}
	})
	return len(r.Handlers) > 0 && m.endpoints[&r.Handlers[0]]
}

// mailQueueCollector reads the mail queue depth from the database on each
// scrape, so every instance reports the shared queue without bookkeeping.
type mailQueueCollector struct {
	store *models.Store
	desc  *prometheus.Desc
}

func newMailQueueCollector(store *models.Store) mailQueueCollector {
	return mailQueueCollector{store: store, desc: prometheus.NewDesc("trostpflaster_mail_queue",
		"Mails by queue state: queued (waiting or retrying) and failed (given up).", []string{"state"}, nil)}
}

func (c mailQueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c mailQueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	queued, failed, err := c.store.MailQueueDepth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(queued), "queued")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(failed), "failed")
}

// hookQueueCollector reads the outgoing webhook queue from the database on
// each scrape (like mailQueueCollector).
type hookQueueCollector struct {
	store *models.Store
	desc  *prometheus.Desc
}

func newHookQueueCollector(store *models.Store) hookQueueCollector {
	return hookQueueCollector{store: store, desc: prometheus.NewDesc("trostpflaster_webhook_queue",
		"Outgoing webhook deliveries by queue state: queued (waiting or retrying) and failed (given up).", []string{"state"}, nil)}
}

func (c hookQueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c hookQueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	queued, failed, err := c.store.HookQueueDepth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(queued), "queued")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(failed), "failed")
}
