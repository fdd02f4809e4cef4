package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A failed (or slow) statement is logged without its bound values: they
// carry reset tokens, claim links in mail bodies and kv keys.
func TestSQLLogOmitsParameters(t *testing.T) {
	t.Parallel()
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "log.db")}
	if pg := os.Getenv("TEST_POSTGRES_URL"); pg != "" {
		urls["postgres"] = pg
	} else if os.Getenv("TEST_REQUIRE_ALL") != "" {
		t.Fatal("TEST_POSTGRES_URL is not set but TEST_REQUIRE_ALL is: run ./scripts/test.sh")
	}
	for dialect, u := range urls {
		t.Run(dialect, func(t *testing.T) {
			var buf lockedBuffer
			db, err := OpenDB(Config{DatabaseURL: u}, slog.New(slog.NewTextHandler(&buf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if sqlDB, err := db.DB(); err == nil {
				t.Cleanup(func() { sqlDB.Close() })
			}
			if err := db.Exec("INSERT INTO no_such_table(x) VALUES (?)", "tp_secretvalue").Error; err == nil {
				t.Fatal("insert into a missing table succeeded")
			}
			out := buf.String()
			if !strings.Contains(out, "no_such_table") {
				t.Errorf("failed statement not logged: %q", out)
			}
			if strings.Contains(out, "tp_secretvalue") {
				t.Errorf("log contains the bound value: %q", out)
			}
		})
	}
}
