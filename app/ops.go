package app

import (
	"context"
	"crypto/subtle"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"
)

// ops is what the operations endpoints need from the App.
type ops struct {
	metrics *Metrics
	db      *gorm.DB
	redis   *redisStorage // nil without REDIS_URL
}

// readyz answers GET /readyz for load balancers: 200 when the database
// (and Redis, when configured) answers and every migration this binary
// knows has been applied, 503 otherwise.
func readyz(o ops) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
		defer cancel()
		err := ready(ctx, o.db)
		if err == nil && o.redis != nil && o.redis.ping(ctx) != nil {
			err = notReady("redis")
		}
		if err != nil {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "reason": err.Error()})
		}
		return c.JSON(fiber.Map{"status": "ok"})
	}
}

// metricsHandler answers GET /metrics with Prometheus text. It is served on the
// public router but answers only loopback clients whose request was not
// forwarded by a proxy, or any client presenting
// `Authorization: Bearer $METRICS_TOKEN` (metricsAccess).
func metricsHandler(o ops) fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(o.metrics.Registry(), promhttp.HandlerOpts{}))
}

// notReady is a reason /readyz gives; it names no internals beyond that.
type notReady string

func (e notReady) Error() string { return string(e) }

// ready reports why this instance should not get traffic, or nil.
func ready(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return notReady("database")
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return notReady("database")
	}
	var applied []string
	if err := db.WithContext(ctx).Table("migrations").Pluck("id", &applied).Error; err != nil {
		return notReady("database")
	}
	have := make(map[string]bool, len(applied))
	for _, id := range applied {
		have[id] = true
	}
	for _, m := range migrations() {
		if !have[m.ID] {
			return notReady("migrations pending")
		}
	}
	return nil
}

// metricsAccess lets through loopback clients (a Prometheus agent or curl on
// the same host) and holders of the metrics token.
func metricsAccess(token string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if token != "" {
			if got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer "); ok &&
				subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
				return c.Next()
			}
		}
		// A proxy on the same host makes every visitor look like loopback
		// unless TRUSTED_PROXIES names it; a forwarded request is therefore
		// never treated as local.
		forwarded := c.Get(fiber.HeaderXForwardedFor) != "" || c.Get("Forwarded") != "" || c.Get("X-Real-Ip") != ""
		if ip := net.ParseIP(c.IP()); ip != nil && ip.IsLoopback() && !forwarded {
			return c.Next()
		}
		return fiber.ErrForbidden
	}
}
