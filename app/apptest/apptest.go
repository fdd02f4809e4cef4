// Package apptest builds real apps for tests, through the production
// constructors, on the databases models/storetest provides (a SQLite file in
// t.TempDir() or a fresh PostgreSQL schema; with TEST_REQUIRE_ALL=1 a
// missing service fails the test instead of skipping it). What the app
// tests share with the domain tests (dialects, database URLs, fixtures) is
// storetest's, re-exported here.
package apptest

import (
	"log/slog"
	"net"
	"testing"

	"trostpflaster/app"
	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// Secret is the SECRET_KEY of every test app (storetest.Secret).
const Secret = storetest.Secret

// Dialects returns the databases a test should run against
// (storetest.Dialects).
func Dialects(t testing.TB) []string {
	t.Helper()
	return storetest.Dialects(t)
}

// Require returns the value of an environment variable a test needs
// (storetest.Require).
func Require(t testing.TB, env string) string {
	t.Helper()
	return storetest.Require(t, env)
}

// DatabaseURL returns a DATABASE_URL for a fresh, empty database of the
// dialect (storetest.DatabaseURL).
func DatabaseURL(t testing.TB, dialect string) string {
	t.Helper()
	return storetest.DatabaseURL(t, dialect)
}

// Name returns a subtest name for a dialect.
func Name(dialect string) string { return storetest.Name(dialect) }

// Logger discards logs unless TEST_LOG is set.
func Logger() *slog.Logger { return storetest.Logger() }

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
	return storetest.MustCompany(t, s, name)
}

// MustMerchant creates a draft merchant with an owner.
func MustMerchant(t testing.TB, s *models.Store, name, city string) (*models.User, *models.Merchant) {
	t.Helper()
	return storetest.MustMerchant(t, s, name, city)
}

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
