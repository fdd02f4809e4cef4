// Package app wires the marketplace together: configuration, database,
// migrations, the HTTP server and its routes, background workers, the command
// line, and the Stripe and mail adapters. Nothing imports app.
package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"trostpflaster/handlers"
	"trostpflaster/models"
)

// Config is read from the environment once at start and validated; it is
// passed down explicitly, never read from globals.
type Config struct {
	Addr                string // ADDR, default 127.0.0.1:8080
	BaseURL             string // BASE_URL, default http://ADDR
	DatabaseURL         string // DATABASE_URL, sqlite:PATH or postgres://…
	SecretKey           []byte // SECRET_KEY (hex or text, ≥ 32 bytes)
	StripeSecretKey     string // STRIPE_SECRET_KEY
	StripeWebhookSecret string // STRIPE_WEBHOOK_SECRET
	StripeAPIBase       string // STRIPE_API_BASE (stripe-mock in tests)
	SMTPURL             string // SMTP_URL smtp://user:pass@host:port
	MailFrom            string // MAIL_FROM
	TrustedProxies      []string
	MetricsToken        string // METRICS_TOKEN: bearer token for /metrics from non-loopback clients
	// RedisURL (REDIS_URL, redis://[:pass@]host:6379/0 or rediss://…): when
	// set, rate-limit counters and CSRF tokens are kept in Redis instead of
	// the database's kv table. RedisPrefix (REDIS_PREFIX, default
	// "trostpflaster:") namespaces the keys.
	RedisURL    string
	RedisPrefix string
	Demo        bool // set by the demo command: creates a secret key under data/
	BcryptCost  int  // BCRYPT_COST, default 12 (tests lower it)
	// HooksAllowPrivate (WEBHOOKS_ALLOW_PRIVATE=1) lets company webhooks
	// reach loopback and private addresses (development, tests); off in
	// production so webhooks cannot probe the operator's network.
	HooksAllowPrivate bool
	// RetentionDays (RETENTION_DAYS, default 90): recipients' names and
	// addresses are erased this long after a gift was used up, expired or
	// cancelled.
	RetentionDays int
	// SettlementMinCents (SETTLEMENT_MIN_CENTS, default 1000): smaller
	// payables wait for the next settlement run.
	SettlementMinCents int64
	// ClaimPageCacheBytes (CLAIM_PAGE_CACHE_BYTES, default 8 MiB) bounds
	// the in-memory cache of rendered claimed-voucher pages; 0 switches it
	// off.
	ClaimPageCacheBytes int
}

// IsSQLite reports whether the embedded database is used.
func (c Config) IsSQLite() bool { return strings.HasPrefix(c.DatabaseURL, "sqlite:") }

// SQLitePath is the file behind a sqlite: URL.
func (c Config) SQLitePath() string { return strings.TrimPrefix(c.DatabaseURL, "sqlite:") }

// SecureCookies is true when the site is served over TLS.
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// StripeEnabled reports whether Stripe calls can be made.
func (c Config) StripeEnabled() bool { return c.StripeSecretKey != "" }

// LoadConfig reads the configuration through getenv (os.Getenv in
// production, a map in tests) and reports every problem at once.
func LoadConfig(getenv func(string) string, demo bool) (Config, error) {
	r := &configReader{getenv: getenv}
	c := r.defaults(demo)
	r.addresses(&c)
	r.database(&c)
	r.trustedProxies(&c)
	r.limits(&c)
	r.services(&c)
	r.secretKey(&c, demo)
	if len(r.problems) > 0 {
		return c, errors.New("configuration:\n  - " + strings.Join(r.problems, "\n  - "))
	}
	return c, nil
}

// configReader reads settings and collects what is wrong with them, so
// LoadConfig can report every problem at once. Its steps run in a fixed
// order, which is the order of the problems in the message.
type configReader struct {
	getenv   func(string) string
	problems []string
}

// get is the trimmed setting k, or def when it is empty.
func (r *configReader) get(k, def string) string {
	if v := strings.TrimSpace(r.getenv(k)); v != "" {
		return v
	}
	return def
}

func (r *configReader) problem(p string) { r.problems = append(r.problems, p) }

// defaults reads the settings taken as they are and sets every default.
func (r *configReader) defaults(demo bool) Config {
	return Config{
		Addr:                r.get("ADDR", "127.0.0.1:8080"),
		DatabaseURL:         r.get("DATABASE_URL", "sqlite:data/trostpflaster.db"),
		StripeSecretKey:     r.get("STRIPE_SECRET_KEY", ""),
		StripeWebhookSecret: r.get("STRIPE_WEBHOOK_SECRET", ""),
		StripeAPIBase:       r.get("STRIPE_API_BASE", ""),
		SMTPURL:             r.get("SMTP_URL", ""),
		MailFrom:            r.get("MAIL_FROM", "Trostpflaster <hallo@trostpflaster.localhost>"),
		MetricsToken:        r.get("METRICS_TOKEN", ""),
		RedisURL:            r.get("REDIS_URL", ""),
		RedisPrefix:         r.get("REDIS_PREFIX", "trostpflaster:"),
		Demo:                demo,
		BcryptCost:          12,
		HooksAllowPrivate:   r.get("WEBHOOKS_ALLOW_PRIVATE", "") == "1",
		RetentionDays:       models.DefaultRetentionDays,
		SettlementMinCents:  1000,
		ClaimPageCacheBytes: handlers.DefaultClaimPageCacheBytes,
	}
}

// addresses checks where the server listens (ADDR) and the public address
// links point to (BASE_URL, by default http://ADDR).
func (r *configReader) addresses(c *Config) {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		r.problem(fmt.Sprintf("ADDR %q must be host:port, e.g. 127.0.0.1:8080", c.Addr))
	}
	c.BaseURL = strings.TrimRight(r.get("BASE_URL", "http://"+c.Addr), "/")
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.problem(fmt.Sprintf("BASE_URL %q must be an absolute http(s) URL", c.BaseURL))
	}
}

// database checks DATABASE_URL names SQLite or PostgreSQL.
func (r *configReader) database(c *Config) {
	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		if c.SQLitePath() == "" {
			r.problem("DATABASE_URL sqlite: needs a file path, e.g. sqlite:data/trostpflaster.db")
		}
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
	default:
		r.problem("DATABASE_URL must start with sqlite: or postgres://")
	}
}

// trustedProxies reads TRUSTED_PROXIES, a comma-separated list of IPs and
// CIDRs; bad entries are reported and left out.
func (r *configReader) trustedProxies(c *Config) {
	p := r.get("TRUSTED_PROXIES", "")
	if p == "" {
		return
	}
	for _, s := range strings.Split(p, ",") {
		s = strings.TrimSpace(s)
		if net.ParseIP(s) == nil {
			if _, _, err := net.ParseCIDR(s); err != nil {
				r.problem(fmt.Sprintf("TRUSTED_PROXIES entry %q is not an IP or CIDR", s))
				continue
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, s)
	}
}

// limits reads the numeric settings; a bad one keeps its default.
func (r *configReader) limits(c *Config) {
	if bc := r.get("BCRYPT_COST", ""); bc != "" {
		var n int
		if _, err := fmt.Sscanf(bc, "%d", &n); err != nil || n < 4 || n > 15 {
			r.problem("BCRYPT_COST must be a number from 4 to 15")
		} else {
			c.BcryptCost = n
		}
	}
	if sm := r.get("SETTLEMENT_MIN_CENTS", ""); sm != "" {
		var n int64
		if _, err := fmt.Sscanf(sm, "%d", &n); err != nil || n < 1 {
			r.problem("SETTLEMENT_MIN_CENTS must be a positive number of cents")
		} else {
			c.SettlementMinCents = n
		}
	}
	if rd := r.get("RETENTION_DAYS", ""); rd != "" {
		var n int
		if _, err := fmt.Sscanf(rd, "%d", &n); err != nil || n < 1 || n > 3650 {
			r.problem("RETENTION_DAYS must be a number of days from 1 to 3650")
		} else {
			c.RetentionDays = n
		}
	}
	if cb := r.get("CLAIM_PAGE_CACHE_BYTES", ""); cb != "" {
		var n int
		if _, err := fmt.Sscanf(cb, "%d", &n); err != nil || n < 0 || n > 1<<30 {
			r.problem("CLAIM_PAGE_CACHE_BYTES must be a number of bytes from 0 (off) to 1073741824")
		} else {
			c.ClaimPageCacheBytes = n
		}
	}
}

// services checks the addresses of the outside services: Redis, the mail
// server and sender, Stripe.
func (r *configReader) services(c *Config) {
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			r.problem("REDIS_URL must look like redis://[:password@]host:6379/0 or rediss://…")
		}
	}
	if c.SMTPURL != "" {
		if u, err := url.Parse(c.SMTPURL); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			r.problem("SMTP_URL must look like smtp://user:pass@host:587 or smtps://…")
		}
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		r.problem(fmt.Sprintf("MAIL_FROM %q is not an e-mail address", c.MailFrom))
	}
	if c.StripeWebhookSecret != "" && !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
		r.problem("STRIPE_WEBHOOK_SECRET must start with whsec_")
	}
	if c.StripeAPIBase != "" {
		if u, err := url.Parse(c.StripeAPIBase); err != nil || u.Host == "" {
			r.problem("STRIPE_API_BASE must be a URL such as http://127.0.0.1:12111")
		}
	}
}

// secretKey reads SECRET_KEY as hex when it decodes to 32 bytes or more,
// else as text of 32 characters or more. Only the demo may go without.
func (r *configReader) secretKey(c *Config, demo bool) {
	secret := r.get("SECRET_KEY", "")
	switch {
	case secret != "":
		if b, err := hex.DecodeString(secret); err == nil && len(b) >= 32 {
			c.SecretKey = b
		} else if len(secret) >= 32 {
			c.SecretKey = []byte(secret)
		} else {
			r.problem("SECRET_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)")
		}
	case demo:
		// filled in by ensureDemoSecret once the data directory is known
	default:
		r.problem("SECRET_KEY is required (e.g. `export SECRET_KEY=$(openssl rand -hex 32)`); the demo command creates one for you")
	}
}

// ensureDemoSecret loads or creates data/secret.key next to the SQLite file, so
// demo restarts keep sessions and hashed tokens valid.
func (c *Config) ensureDemoSecret() error {
	if len(c.SecretKey) > 0 {
		return nil
	}
	dir := "data"
	if c.IsSQLite() {
		dir = filepath.Dir(c.SQLitePath())
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 32 {
			return fmt.Errorf("%s is damaged; delete it to create a new one", path)
		}
		c.SecretKey = k
		return nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return err
	}
	c.SecretKey = k
	return nil
}
