package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

type countingMailer struct{ sent atomic.Int64 }

func (m *countingMailer) Send(context.Context, models.Mail) error { m.sent.Add(1); return nil }

// TestGracefulShutdown holds SQLite's write lock from outside so that
// requests which write (a first visit stores a CSRF token) are provably in
// flight when the server is told to stop. Serve must wait for them, they must
// all answer 200, new connections must be refused, and the worker must stop.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := apptest.BaseEnv(t, "sqlite")
	env["ADDR"] = addr
	a := apptest.NewApp(t, env)
	mailer := &countingMailer{}
	a.Mailer = mailer
	ctx := t.Context()
	if err := a.Store.EnqueueMail(ctx, models.Mail{To: "a@example.com", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- a.Serve(sctx) }()
	base := "http://" + addr
	deadline := time.Now().Add(5 * time.Second)
	for {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if mailer.sent.Load() == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server or worker did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Take the write lock on a separate connection.
	path := strings.TrimPrefix(env["DATABASE_URL"], "sqlite:")
	lockDB, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer lockDB.Close()
	lock, err := lockDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	const n = 12
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 15 * time.Second}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// An unknown claim link is counted (a kv write, blocked by the
			// lock); page views write nothing since CSRF tokens are signed.
			path := fmt.Sprintf("/api/v1/claims/unknown-claim-token-%04d", i)
			if i%3 == 0 {
				path = "/api/v1/merchants?near=50667" // a read: not blocked by the lock
			}
			res, err := client.Get(base + path)
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			_, errs[i] = io.Copy(io.Discard, res.Body)
			statuses[i] = res.StatusCode
		}()
	}
	// Wait until the writing requests are being served (blocked on the lock).
	for a.HTTP.Server().GetCurrentConcurrency() < n*2/3 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("requests did not arrive: %d", a.HTTP.Server().GetCurrentConcurrency())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)

	stop()
	select {
	case err := <-served:
		t.Fatalf("Serve returned while requests were in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted during shutdown")
	}

	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range n {
		want := http.StatusNotFound
		if i%3 == 0 {
			want = http.StatusOK
		}
		if errs[i] != nil || statuses[i] != want {
			t.Errorf("request %d: status %d, err %v", i, statuses[i], errs[i])
		}
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}

	// The worker has stopped with Serve: a new mail stays queued.
	if err := a.Store.EnqueueMail(ctx, models.Mail{To: "b@example.com", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // longer than the worker's 2 s tick
	if got := mailer.sent.Load(); got != 1 {
		t.Errorf("mails sent after shutdown: %d, want 1 (the one before)", got-1)
	}
}

// blockingMailer holds the first mail until released.
type blockingMailer struct {
	started chan struct{}
	release chan struct{}
	sent    chan string
}

func (m *blockingMailer) Send(ctx context.Context, mail models.Mail) error {
	select {
	case m.started <- struct{}{}:
		<-m.release
	default:
	}
	m.sent <- mail.To
	return ctx.Err()
}

// A server told to stop while its worker is sending a mail finishes that
// mail and records it as sent (not sent twice later), and hands the rest of
// its claimed batch back at once, so another instance sends them without
// waiting for the lease to run out.
func TestShutdownReleasesClaimedJobs(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := apptest.BaseEnv(t, "sqlite")
	env["ADDR"] = addr
	a := apptest.NewApp(t, env)
	m := &blockingMailer{started: make(chan struct{}), release: make(chan struct{}), sent: make(chan string, 10)}
	a.Mailer = m
	ctx := t.Context()
	for _, to := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
		if err := a.Store.EnqueueMail(ctx, models.Mail{To: to, Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.Serve(sctx) }()
	select {
	case <-m.started:
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not start sending")
	}
	stop()
	select {
	case err := <-served:
		t.Fatalf("Serve returned while a mail was being sent: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(m.release)
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if len(m.sent) != 1 {
		t.Fatalf("%d mails sent during shutdown, want the one under way", len(m.sent))
	}
	var mails []models.Mail
	a.DB.Order("id").Find(&mails)
	if mails[0].Status != models.MailSent {
		t.Fatalf("the mail under way was not recorded: %+v", mails[0])
	}
	for _, ml := range mails[1:] {
		if ml.Status != models.MailQueued || ml.LockedUntil != nil || ml.LockedBy != "" {
			t.Fatalf("claimed mail not released: %+v", ml)
		}
	}
	b := apptest.NewApp(t, env)
	if got, err := b.Store.ClaimMails(ctx, 10, time.Minute); err != nil || len(got) != 3 {
		t.Fatalf("another instance claimed %d: %v", len(got), err)
	}
}
