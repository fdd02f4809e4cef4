package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"

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
	cfg, err := app.LoadConfig(os.Getenv, false)
	if err != nil {
		return fail(err)
	}
	a, err := app.New(cfg, log)
	if err != nil {
		return fail(err)
	}
	defer a.Close()

	db, err := app.OpenDB(cfg, log)
	if err != nil {
		return fail(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return fail(err)
	}
	defer sqlDB.Close()
	bare := fiber.New(fiber.Config{DisableStartupMessage: true})
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
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); a.RunWorker(ctx) }()
	go func() { _ = a.HTTP.Listener(appLn) }()
	go func() { _ = bare.Listener(bareLn) }()
	fmt.Printf("READY %s %s\n", appLn.Addr(), bareLn.Addr())

	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closed stdin or exited
	_ = a.HTTP.Shutdown()
	_ = bare.Shutdown()
	cancel()
	<-workerDone
	return 0
}
