package app

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"gorm.io/gorm"

	"trostpflaster/app/mail"
	"trostpflaster/app/stripe"
	"trostpflaster/handlers"
	"trostpflaster/models"
	"trostpflaster/views"
	"trostpflaster/views/i18n"
)

// BodyLimit caps request bodies (413 beyond it). CSV uploads are the largest
// legitimate bodies.
const BodyLimit = 12 << 20

// App is a fully wired marketplace: database, store, HTTP app and workers.
type App struct {
	Cfg    Config
	DB     *gorm.DB
	Store  *models.Store
	Places *models.Places
	HTTP   *fiber.App
	Log    *slog.Logger
	// Mailer delivers queued mails: SMTP, or the dev mailbox without SMTP_URL.
	Mailer mail.Sender
	hooks  *http.Client // outgoing company webhooks
	h      *handlers.Handlers
	// Transfers pays merchants (Stripe); nil without STRIPE_SECRET_KEY.
	Transfers models.Transfers
	// pay holds the other payment ports, for the handlers and the CLI.
	pay payments
	// events decodes stored Stripe events for retries (always set:
	// decoding needs no secret).
	events models.PaymentEvents
	// Metrics is this App's Prometheus registry and instruments (/metrics).
	Metrics *Metrics
	redis   *redisStorage // nil without REDIS_URL
	// keepMailBodies: the dev mailbox is on (devMailbox: no SMTP_URL, demo or a loopback instance),
	// so delivered mails keep their bodies for /dev/mail; otherwise the
	// worker blanks a mail's body once it is sent or given up.
	keepMailBodies bool
}

// New opens the database, runs migrations and builds the HTTP app. It is
// what main, the CLI and the tests all use.
func New(cfg Config, log *slog.Logger) (*App, error) {
	if cfg.Demo {
		if err := cfg.ensureDemoSecret(); err != nil {
			return nil, err
		}
	}
	db, err := OpenDB(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := Migrate(db); err != nil {
		return nil, err
	}
	places, err := models.LoadPlaces()
	if err != nil {
		return nil, err
	}
	cat, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	mails, err := mail.NewComposer(views.FS(), cat, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	store := models.NewStore(db, models.StoreOptions{Secret: cfg.SecretKey, BcryptCost: cfg.BcryptCost, Mails: mails})
	r, err := handlers.NewRenderer(views.FS(), cat)
	if err != nil {
		return nil, err
	}
	rawDoc, err := fs.ReadFile(views.FS(), "api/openapi.json")
	if err != nil {
		return nil, err
	}
	apiDoc, err := handlers.ParseAPIDoc(rawDoc)
	if err != nil {
		return nil, err
	}
	a := &App{Cfg: cfg, DB: db, Store: store, Places: places, Log: log}
	a.Mailer = mail.NewSender(cfg.SMTPURL, cfg.MailFrom)
	a.pay = newPayments(cfg, log)
	a.Transfers = a.pay.transfers
	a.events = stripe.NewWebhooks(cfg.StripeWebhookSecret)
	a.hooks = hookClient(cfg.HooksAllowPrivate || cfg.Demo)
	a.keepMailBodies = devMailbox(cfg)
	h := handlers.New(store, places, r, log, handlers.Options{
		BaseURL:       cfg.BaseURL,
		SecureCookies: cfg.SecureCookies(),
		DevMailbox:    a.keepMailBodies,
		Demo:          cfg.Demo,
		Checkout:      a.pay.checkout,
		Connect:       a.pay.connect,
		Refunds:       a.pay.refunds,
		PaymentEvents: webhookEvents(cfg, a.events),

		FormActionHosts:     formActionHosts(cfg),
		APIDoc:              apiDoc,
		HooksAllowHTTP:      cfg.HooksAllowPrivate || cfg.Demo,
		ClaimPageCacheBytes: cfg.ClaimPageCacheBytes,
	})
	a.Metrics = newMetrics(store)
	a.h = h
	// Rate-limit counters and CSRF tokens: Redis when configured, else the
	// database; either way shared by every instance.
	var storage fiber.Storage = dbStorage{store}
	o := ops{metrics: a.Metrics, db: db}
	if cfg.RedisURL != "" {
		rs, err := newRedisStorage(cfg.RedisURL, cfg.RedisPrefix)
		if err != nil {
			sqlDB, _ := db.DB()
			if sqlDB != nil {
				sqlDB.Close()
			}
			return nil, err
		}
		a.redis, o.redis, storage = rs, rs, rs
	}
	a.HTTP = newFiber(cfg, h, storage, log, o)
	return a, nil
}

// payments are the payment provider's ports (models/ports.go). With
// STRIPE_SECRET_KEY they are the Stripe adapter (app/stripe); without it
// all are nil: pages say Stripe is not configured, invoices work and
// payables stay pending. A second provider is another adapter filling the
// same fields, chosen here.
type payments struct {
	checkout  models.Checkout
	connect   models.Connect
	transfers models.Transfers
	refunds   models.Refunds
}

func newPayments(cfg Config, log *slog.Logger) payments {
	c := stripe.New(cfg.StripeSecretKey, cfg.StripeAPIBase, log)
	if c == nil { // never a nil *stripe.Client inside a non-nil interface
		return payments{}
	}
	return payments{checkout: c, connect: c, transfers: c, refunds: c}
}

// webhookEvents verifies POST /webhooks/stripe, or is nil (the endpoint
// answers 503) while STRIPE_WEBHOOK_SECRET is not set.
func webhookEvents(cfg Config, events models.PaymentEvents) models.PaymentEvents {
	if cfg.StripeWebhookSecret == "" {
		return nil
	}
	return events
}

func newFiber(cfg Config, h *handlers.Handlers, storage fiber.Storage, log *slog.Logger, o ops) *fiber.App {
	fcfg := fiber.Config{
		AppName:               "trostpflaster",
		ErrorHandler:          h.ErrorHandler,
		BodyLimit:             BodyLimit,
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		// Only the configured proxies' X-Forwarded-Proto is believed (HSTS,
		// c.Protocol()). The client address behind them is resolved by
		// handlers.ProxyTrust, not by Fiber's ProxyHeader, which takes the
		// client-supplied left end of X-Forwarded-For; c.IP() is the peer.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
	}
	// A response of up to 8 KB, headers included, leaves in one write: with
	// the default 4 KB, a claimed voucher's page (4 KB and 1 KB of headers)
	// took two write syscalls. The buffer is held per busy connection.
	fcfg.WriteBufferSize = 8 << 10
	app := fiber.New(fcfg)
	if len(cfg.TrustedProxies) > 0 {
		app.Use(handlers.NewProxyTrust(cfg.TrustedProxies).Middleware)
	}
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		log.Error("panic", "path", handlers.RedactPath(c.Path()), "panic", e)
	}}))
	app.Use(accessLog(log))
	app.Use(h.SecurityHeaders)
	app.Use(o.metrics.Middleware)
	routes(app, h, storage, cfg, o)
	return app
}

// accessLog writes one structured line per request; paths carrying secrets
// (claim and reset tokens) are redacted.
func accessLog(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			if fe := new(fiber.Error); errors.As(err, &fe) {
				status = fe.Code
			}
		}
		// LogAttrs: the same line as Info with key-value pairs, without
		// boxing each value (it runs on every request).
		log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("method", c.Method()),
			slog.String("path", handlers.RedactPath(c.Path())), slog.Int("status", status),
			slog.Float64("dur_ms", float64(time.Since(start).Microseconds())/1000), slog.String("ip", handlers.ClientIP(c)))
		return err
	}
}

// ServerMemoryLimit is the soft limit of the Go heap for the server unless
// GOMEMLIMIT sets another: near it the garbage collector works harder
// instead of letting the heap double, so a small machine's server stays
// under 150 MB resident (issue 7). The live heap is about 36 MB with 10,000
// partners in the catalog index; SQLite's C heap (its page caches are 1 MB
// per connection, models.sqliteDSN), thread stacks and the mapped binary (about
// 31 MB) come on top. In make bench 96 MB gave a peak of 176 MB during the
// bulk send, 72 MB about 140 MB, for some more garbage-collection work.
const ServerMemoryLimit = 72 << 20

// SetServerMemoryLimit applies ServerMemoryLimit to this process (the serve
// and demo commands, and the benchmark's server) and caps the C heap's
// arenas (memory_glibc.go); the worker trims the C heap (RunWorker).
func SetServerMemoryLimit(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(ServerMemoryLimit)
	}
	limitMallocArenas(getenv)
}

// Serve runs the HTTP server and the background worker until ctx ends, then
// shuts down gracefully: in-flight requests finish, the worker stops.
func (a *App) Serve(ctx context.Context) error {
	wctx, stopWorker := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.RunWorker(wctx)
	}()
	go func() {
		if err := a.Store.WarmCatalog(wctx); err != nil {
			a.Log.Warn("building the catalog index", "err", err)
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- a.HTTP.Listen(a.Cfg.Addr) }()
	a.Log.Info("listening", "addr", a.Cfg.Addr, "base_url", a.Cfg.BaseURL)
	var err error
	select {
	case <-ctx.Done():
		a.Log.Info("shutting down")
		err = a.HTTP.ShutdownWithTimeout(20 * time.Second)
	case err = <-errc:
	}
	stopWorker()
	<-done
	return err
}

// ClaimPageCacheStats reports the cache of rendered claim pages.
func (a *App) ClaimPageCacheStats() handlers.ClaimPageCacheStats { return a.h.ClaimPageCacheStats() }

// Close releases the database (and the Redis connection).
func (a *App) Close() error {
	if a.redis != nil {
		a.redis.Close()
	}
	sqlDB, err := a.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// formActionHosts lets form submissions end at Stripe's onboarding and
// Checkout pages. Against another Stripe API (stripe-mock in development and
// tests) the links point at arbitrary https hosts, so any https target is
// allowed there.
func formActionHosts(cfg Config) string {
	if cfg.StripeAPIBase != "" {
		return "https:"
	}
	return "https://connect.stripe.com https://checkout.stripe.com"
}

// loopbackAddr reports whether the server listens on the local machine only;
// the dev mailbox (which shows reset links) is never offered on a public
// address.
// devMailbox: /dev/mail shows every mail the app would have sent (reset,
// claim and invite links), so it exists only without SMTP and only where
// nobody else can reach it: in the demo, or on a development machine, where
// both the listen address and BASE_URL are loopback. An instance on
// 127.0.0.1 behind a proxy has a public BASE_URL and never shows it.
func devMailbox(cfg Config) bool {
	if cfg.SMTPURL != "" {
		return false
	}
	if cfg.Demo {
		return true
	}
	u, err := url.Parse(cfg.BaseURL)
	return err == nil && loopbackAddr(cfg.Addr) && loopbackHost(u.Hostname())
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

func httpFS(f fs.FS) http.FileSystem { return http.FS(f) }
