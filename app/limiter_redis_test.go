package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// Two instances on different databases but one Redis (REDIS_URL): the log-in
// rate limit and CSRF tokens can only be shared through Redis here, and the
// databases' kv tables stay empty.
func TestTwoInstancesShareRateLimitThroughRedis(t *testing.T) {
	t.Parallel()
	redisURL := apptest.Require(t, "TEST_REDIS_URL")
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "tp-test-" + hex.EncodeToString(b) + ":"
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, err := rdb.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})

	newInstance := func() (*apptest.Client, func() int64) {
		env := apptest.BaseEnv(t, "sqlite") // its own database
		env["REDIS_URL"] = redisURL
		env["REDIS_PREFIX"] = prefix
		a := apptest.NewApp(t, env)
		kvs := func() int64 {
			var n int64
			a.DB.Model(&models.KV{}).Count(&n)
			return n
		}
		return apptest.NewClient(t, a.HTTP), kvs
	}
	first, kvFirst := newInstance()
	second, kvSecond := newInstance()

	// A token issued by the first instance is accepted by the second.
	token := first.CSRF()
	second.Jar["tp_csrf"] = first.Jar["tp_csrf"]
	if res := second.PostForm("/login", url.Values{"_csrf": {token}, "email": {"x@example.com"}, "password": {"wrong password"}}); res.Status != 422 {
		t.Fatalf("CSRF token from the other instance: %d", res.Status)
	}
	// Ten failed log-ins per IP and 5 minutes, counted across both.
	statuses := []int{}
	for i := 1; i < 12; i++ {
		c := []*apptest.Client{first, second}[i%2]
		statuses = append(statuses, c.PostForm("/login", url.Values{"email": {"x@example.com"}, "password": {"wrong password"}}).Status)
	}
	for i, s := range statuses {
		want := 422
		if i >= 9 { // the tenth attempt overall was the first above
			want = 429
		}
		if s != want {
			t.Fatalf("attempts across instances: %v", statuses)
		}
	}
	if n := kvFirst() + kvSecond(); n != 0 {
		t.Fatalf("%d rows in the databases' kv tables with Redis configured", n)
	}
	keys, err := rdb.Keys(t.Context(), prefix+"*").Result()
	if err != nil || len(keys) < 2 {
		t.Fatalf("keys under the prefix: %v %v", keys, err)
	}
}

// An unreachable or malformed REDIS_URL stops the start with a clear error.
func TestRedisUnavailable(t *testing.T) {
	t.Parallel()
	env := apptest.BaseEnv(t, "sqlite")
	env["REDIS_URL"] = "redis://127.0.0.1:1/0"
	cfgErr := func() error {
		cfg, err := app.LoadConfig(env.Get, false)
		if err != nil {
			return err
		}
		_, err = app.New(cfg, apptest.Logger())
		return err
	}()
	if cfgErr == nil || !strings.Contains(cfgErr.Error(), "redis at 127.0.0.1:1") {
		t.Fatalf("started with an unreachable Redis: %v", cfgErr)
	}
	env["REDIS_URL"] = "http://127.0.0.1:6379"
	if _, err := app.LoadConfig(env.Get, false); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Fatal("accepted a REDIS_URL that is not redis://")
	}
}
