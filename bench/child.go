package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // only served with BENCH_PPROF_ADDR
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/app"
)

// serveChild is the server process: the real app (with its worker and
// access log, as in production) and, on a second port, the baseline — a bare
// Fiber handler reading one SQLite row by primary key through a pool opened
// exactly like the app's. It runs until stdin closes.
func serveChild(args []string) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fail := func(err error) int { log.Error("bench child", "err", err); return 1 }
	app.SetServerMemoryLimit(os.Getenv) // as the serve command does
	cfg, err := app.LoadConfig(os.Getenv, false)
	if err != nil {
		return fail(err)
	}
	a, err := app.New(cfg, log)
	if err != nil {
		return fail(err)
	}
	defer a.Close()

	sqlDB, err := openBaselineDB(cfg, log)
	if err != nil {
		return fail(err)
	}
	defer sqlDB.Close()
	bare := baselineServer(sqlDB)

	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.Store.WarmCatalog(ctx); err != nil { // as Serve does
		return fail(err)
	}
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); a.RunWorker(ctx) }()
	go func() { _ = a.HTTP.Listener(appLn) }()
	go func() { _ = bare.Listener(bareLn) }()
	if addr := os.Getenv("BENCH_PPROF_ADDR"); addr != "" { // e.g. 127.0.0.1:6061, for go tool pprof
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
	fmt.Printf("READY %s %s\n", appLn.Addr(), bareLn.Addr())

	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closed stdin or exited
	_ = a.HTTP.Shutdown()
	_ = bare.Shutdown()
	cancel()
	<-workerDone
	return 0
}

// openBaselineDB opens the baseline's own pool on the app's database,
// exactly as the app opens it, with the write baseline's tables.
func openBaselineDB(cfg app.Config, log *slog.Logger) (*sql.DB, error) {
	db, err := app.OpenDB(cfg, log)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	// The write baseline: per request one durable write transaction (WAL,
	// synchronous=FULL and BEGIN IMMEDIATE from the app's DSN) with one
	// conditional UPDATE and one INSERT, on tables of its own.
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS bench_balances (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
		"CREATE TABLE IF NOT EXISTS bench_entries (id INTEGER PRIMARY KEY, balance_id INTEGER NOT NULL, amount INTEGER NOT NULL, created_at INTEGER NOT NULL)",
	} {
		if _, err := sqlDB.Exec(q); err != nil {
			sqlDB.Close()
			return nil, err
		}
	}
	for i := 1; i <= 64; i++ {
		if _, err := sqlDB.Exec("INSERT OR REPLACE INTO bench_balances (id, balance) VALUES (?, ?)", i, int64(1)<<40); err != nil {
			sqlDB.Close()
			return nil, err
		}
	}
	return sqlDB, nil
}

// baselineServer is the bare Fiber server: GET /merchant/:id reads one row
// by primary key, POST /write/:till is the write baseline.
func baselineServer(sqlDB *sql.DB) *fiber.App {
	bare := fiber.New(fiber.Config{DisableStartupMessage: true})
	var writer sync.Mutex // one writer at a time, queued in Go as the app's Store does
	bare.Post("/write/:till", func(c *fiber.Ctx) error {
		till, err := strconv.Atoi(c.Params("till"))
		if err != nil || till < 1 || till > 64 {
			return fiber.ErrBadRequest
		}
		writer.Lock()
		defer writer.Unlock()
		tx, err := sqlDB.BeginTx(c.UserContext(), nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.Exec("UPDATE bench_balances SET balance = balance - 1 WHERE id = ? AND balance >= 1", till)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fiber.ErrConflict
		}
		if _, err := tx.Exec("INSERT INTO bench_entries (balance_id, amount, created_at) VALUES (?, ?, ?)", till, -1, time.Now().UnixNano()); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).SendString("ok")
	})
	bare.Get("/merchant/:id", func(c *fiber.Ctx) error {
		id, err := strconv.Atoi(c.Params("id"))
		if err != nil {
			return fiber.ErrBadRequest
		}
		var name string
		if err := sqlDB.QueryRowContext(c.UserContext(), "SELECT name FROM merchants WHERE id = ?", id).Scan(&name); err != nil {
			return err
		}
		return c.SendString(name)
	})
	return bare
}
