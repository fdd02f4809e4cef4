// Package storetest builds stores for the domain tests: a SQLite file in
// t.TempDir() (never :memory:) or a fresh schema on the PostgreSQL server
// named by TEST_POSTGRES_URL, opened, migrated and wrapped exactly as the
// server does it (models.OpenDB, models.Migrate, models.NewStore). It
// imports models and the GORM drivers only, so `go test ./models/...` builds
// no web layer. With TEST_REQUIRE_ALL=1 (set by scripts/test.sh) a missing
// service fails the test instead of skipping it, so CI can never silently
// skip a suite.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"trostpflaster/models"
)

// Secret is the SECRET_KEY of every test store and test app (hex, as in
// the environment).
const Secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// SecretKey is Secret decoded as the app's configuration decodes it.
func SecretKey() []byte {
	b, err := hex.DecodeString(Secret)
	if err != nil {
		panic(err) // a constant
	}
	return b
}

// BcryptCost is the cost tests hash passwords with (the minimum: tests log
// in often and measure no security).
const BcryptCost = 4

// Dialects returns the databases a test should run against: always
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

// Name returns a subtest name for a dialect.
func Name(dialect string) string { return fmt.Sprintf("db=%s", dialect) }

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
		return postgresSchema(t, Require(t, "TEST_POSTGRES_URL"))
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

// postgresSchema creates a schema with a random name on the server at base
// and returns base with its search_path set to it.
func postgresSchema(t testing.TB, base string) string {
	t.Helper()
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

// Logger discards logs unless TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Open opens the database at url as the server does (models.OpenDB) and
// closes it when the test ends; the schema is not touched.
func Open(t testing.TB, url string) *gorm.DB {
	t.Helper()
	db, err := models.OpenDB(url, Logger())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// NewStore returns a migrated store on a fresh database of dialect.
func NewStore(t testing.TB, dialect string) *models.Store {
	t.Helper()
	return NewStoreAt(t, DatabaseURL(t, dialect))
}

// NewStoreAt opens the database at url, migrates it and returns a store
// over it with the options the server uses (two calls with one url are two
// instances sharing a database).
func NewStoreAt(t testing.TB, url string) *models.Store {
	t.Helper()
	db := Open(t, url)
	if err := models.Migrate(t.Context(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return models.NewStore(db, models.StoreOptions{Secret: SecretKey(), BcryptCost: BcryptCost})
}

// Password is the password of every user the fixtures create.
const Password = "correct horse battery"

// MustCompany creates a company with an admin through the sign-up rules.
func MustCompany(t testing.TB, s *models.Store, name string) (*models.User, *models.Company) {
	t.Helper()
	email := strings.ToLower(models.Slugify(name)) + "@example.com"
	u, c, err := s.SignupCompany(t.Context(), models.Signup{OrgName: name, Name: "Admin " + name, Email: email,
		Password: Password, Confirm: Password})
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
		Password: Password, Confirm: Password, Category: "bakery", City: city})
	if err != nil {
		t.Fatalf("merchant %s: %v", name, err)
	}
	return u, m
}
