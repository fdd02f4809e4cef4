// Package apptest builds real apps and stores for tests: a SQLite file in
// t.TempDir() (never :memory:) or a fresh schema on the PostgreSQL server
// named by TEST_POSTGRES_URL, through the production constructors. With
// TEST_REQUIRE_ALL=1 (set by scripts/test.sh) a missing service fails the
// test instead of skipping it, so CI can never silently skip a suite.
package apptest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"trostpflaster/app"
	"trostpflaster/models"
)

// Secret is the SECRET_KEY of every test app.
const Secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Dialects returns the databases a model test should run against: always
// "sqlite", plus "postgres" when TEST_POSTGRES_URL is set.
func Dialects(t testing.TB) []string {
	t.Helper()
	out := []string{"sqlite"}
	if os.Getenv("TEST_POSTGRES_URL") != "" {
		out = append(out, "postgres")
	} else if os.Getenv("TEST_REQUIRE_ALL") != "" {
		t.Fatal("TEST_POSTGRES_URL is not set but TEST_REQUIRE_ALL is: run ./scripts/test.sh")
	}
	return out
}

// Require returns the value of an environment variable a test needs (a
// service address); it skips when unset locally and fails under
// TEST_REQUIRE_ALL.
func Require(t testing.TB, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("TEST_REQUIRE_ALL") != "" {
			t.Fatalf("%s is not set but TEST_REQUIRE_ALL is: run ./scripts/test.sh", env)
		}
		t.Skipf("%s not set; ./scripts/test.sh sets it", env)
	}
	return v
}

// DatabaseURL returns a DATABASE_URL for a fresh, empty database of the
// dialect: a SQLite file in a temp dir, or a new schema on PostgreSQL that
// is dropped when the test ends.
func DatabaseURL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	case "postgres":
		base := Require(t, "TEST_POSTGRES_URL")
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		schema := "t_" + hex.EncodeToString(b)
		admin, err := gorm.Open(postgres.Open(base), &gorm.Config{})
		if err != nil {
			t.Fatalf("postgres: %v", err)
		}
		if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			if sqlDB, err := admin.DB(); err == nil {
				sqlDB.Close()
			}
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

// Env is a test environment map usable as getenv.
type Env map[string]string

// Get implements getenv.
func (e Env) Get(k string) string { return e[k] }

// BaseEnv returns the configuration of a test app on dialect's database.
func BaseEnv(t testing.TB, dialect string) Env {
	return Env{
		"DATABASE_URL": DatabaseURL(t, dialect),
		"SECRET_KEY":   Secret,
		"BCRYPT_COST":  "4",
		"BASE_URL":     "http://127.0.0.1:8080",
	}
}

// Logger discards logs unless TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// NewApp builds a fully wired app (migrated) with env; it is closed when the
// test ends.
func NewApp(t testing.TB, env Env) *app.App {
	t.Helper()
	cfg, err := app.LoadConfig(env.Get, false)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(cfg, Logger())
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// NewSeededApp builds an app on SQLite (or dialect) with the demo data.
func NewSeededApp(t testing.TB, dialect string) *app.App {
	t.Helper()
	a := NewApp(t, BaseEnv(t, dialect))
	if _, err := app.SeedDemo(t.Context(), a.Store, a.Places); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return a
}

// NewStore returns a migrated store on a fresh database of dialect.
func NewStore(t testing.TB, dialect string) *models.Store {
	t.Helper()
	return NewApp(t, BaseEnv(t, dialect)).Store
}

// MustCompany creates a company with an admin through the sign-up rules.
func MustCompany(t testing.TB, s *models.Store, name string) (*models.User, *models.Company) {
	t.Helper()
	email := strings.ToLower(models.Slugify(name)) + "@example.com"
	u, c, err := s.SignupCompany(t.Context(), models.Signup{OrgName: name, Name: "Admin " + name, Email: email,
		Password: "correct horse battery", Confirm: "correct horse battery"})
	if err != nil {
		t.Fatalf("company %s: %v", name, err)
	}
	return u, c
}

// MustMerchant creates a draft merchant with an owner.
func MustMerchant(t testing.TB, s *models.Store, name, city string) (*models.User, *models.Merchant) {
	t.Helper()
	email := strings.ToLower(models.Slugify(name)) + "@example.com"
	u, m, err := s.SignupMerchant(t.Context(), models.Signup{OrgName: name, Name: "Owner " + name, Email: email,
		Password: "correct horse battery", Confirm: "correct horse battery", Category: "bakery", City: city})
	if err != nil {
		t.Fatalf("merchant %s: %v", name, err)
	}
	return u, m
}

// Name returns a subtest name for a dialect.
func Name(dialect string) string { return fmt.Sprintf("db=%s", dialect) }

// Serve runs the app's HTTP server on a free loopback port until the test
// ends and returns its base URL.
func Serve(t testing.TB, a *app.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.HTTP.Listener(ln) }()
	t.Cleanup(func() { _ = a.HTTP.Shutdown() })
	return "http://" + ln.Addr().String()
}
