package models

import (
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// sqliteDSN carries the pragmas in the DSN because mattn/go-sqlite3 applies
// them per connection: WAL, foreign keys, a busy timeout, synchronous=FULL
// (WAL alone would mean NORMAL, losing the last commits on power loss) and
// BEGIN IMMEDIATE, so read-then-write transactions queue for the write lock
// instead of failing with SQLITE_BUSY halfway. The page cache is 1 MB per
// connection instead of 2 MB: the hot reads are indexed look-ups, and eight
// connections' caches counted against the server's memory target.
func sqliteDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_foreign_keys=on&_busy_timeout=10000&_sync=FULL&_txlock=immediate&cache=private&_cache_size=-1024"
}

// OpenDB opens the database a DATABASE_URL names: "sqlite:PATH" (the file's
// directory is created) or a postgres:// URL. It is the one way the server,
// the CLI, the benchmarks and the tests open a database, so all of them run
// with the same pragmas, pools and logging. The schema is not touched
// (Migrate).
func OpenDB(url string, log *slog.Logger) (*gorm.DB, error) {
	gcfg := &gorm.Config{
		TranslateError: true,
		// ParameterizedQueries keeps bound values out of the log: a slow or
		// failed statement would otherwise be logged with reset tokens,
		// claim links in mail bodies or kv keys inlined.
		Logger: logger.New(slogWriter{log}, logger.Config{
			SlowThreshold: 500 * time.Millisecond, LogLevel: logger.Warn, IgnoreRecordNotFoundError: true,
			ParameterizedQueries: true,
		}),
		NowFunc: func() time.Time { return time.Now().UTC() },
	}
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		return openSQLite(path, gcfg)
	}
	return openPostgres(url, gcfg)
}

func openSQLite(path string, gcfg *gorm.Config) (*gorm.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// SQLite parses and plans every statement afresh unless it is
	// prepared; for the claim page's join that was a third of its time.
	// StmtPool keeps prepared statements per SQL text (LRU-bounded, so
	// queries with varying IN lists cannot grow it without limit) and,
	// unlike GORM's PrepareStmt, reuses them inside transactions.
	sqlDB, err := sql.Open(sqlite.DriverName, sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db, err := gorm.Open(sqlite.New(sqlite.Config{Conn: NewStmtPool(sqlDB, 512)}), gcfg)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// Writers queue on SQLite's lock (busy_timeout); a modest pool keeps
	// readers concurrent under WAL.
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

func openPostgres(url string, gcfg *gorm.Config) (*gorm.DB, error) {
	db, err := gorm.Open(postgres.Open(url), gcfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(20)
	sqlDB.SetMaxIdleConns(10)
	return db, nil
}

// slogWriter sends GORM's warnings (slow queries, errors) to slog.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Printf(format string, args ...any) {
	w.log.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "gorm")
}
