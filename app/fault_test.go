//go:build linux

package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// TestFaultChildServer is the server process of TestKillServerUnderLoad: the
// test binary runs itself with TP_FAULT_CHILD=1 and this test only, which
// serves exactly as `trostpflaster serve` does until it is killed.
func TestFaultChildServer(t *testing.T) {
	if os.Getenv("TP_FAULT_CHILD") != "1" {
		t.Skip("only runs as the child process of TestKillServerUnderLoad")
	}
	os.Exit(app.Main([]string{"serve"}, os.Getenv, os.Stdout, io.Discard))
}

type faultCall struct {
	till   int
	key    string
	amount int64
}

// TestKillServerUnderLoad kills a real server process on SQLite with SIGKILL
// five times while 12 tills redeem, restarting it each time; calls whose
// answer was lost are retried with the same idempotency key after the
// restart. Afterwards the database passes SQLite's integrity check, every
// redemption answered 201 is stored exactly once (with the id it was
// answered with), nothing else is stored, every balance equals its start
// minus what was stored, and `ledger verify` holds.
func TestKillServerUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills and restarts a server process")
	}
	ctx := t.Context()
	env := apptest.BaseEnv(t, "sqlite")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env["ADDR"] = ln.Addr().String()
	ln.Close()
	env["BASE_URL"] = "http://" + env["ADDR"]

	// Seed: 12 claimed 1000-€ vouchers of one partner; each till sends at
	// most 60 redemptions of 1–3 € per round, so no balance runs out.
	const tills, start, perRound = 12, 1000_00, 60
	var codes []string
	var giftIDs []uint
	var key string
	{
		cfg, err := app.LoadConfig(env.Get, false)
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(cfg, apptest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		e := &voucherEnv{a: a}
		if _, err := app.SeedDemo(ctx, a.Store, a.Places); err != nil {
			t.Fatal(err)
		}
		e.company, _ = a.Store.CompanyBySlug(ctx, "beispiel-verlag")
		e.cafe, _ = a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
		chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
		e.sender = models.GiftSender{CompanyID: e.company.ID, UserID: &chefin.ID}
		if _, err := a.Store.GrantCredit(ctx, e.company.ID, tills*start, "", "", models.ActorCLI); err != nil {
			t.Fatal(err)
		}
		key, _, _ = a.Store.CreateAPIKey(ctx, nil, &e.cafe.ID, "till", models.ActorCLI)
		for range tills {
			g, _, err := a.Store.SendGift(ctx, nil, e.sender, models.GiftInput{RecipientEmail: "k@example.com", AmountCents: start, MerchantIDs: []uint{e.cafe.ID}, Notify: models.NotifyNone})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.Store.ClaimGift(ctx, a.Store.GiftClaimToken(g), e.cafe.ID); err != nil {
				t.Fatal(err)
			}
			g, _ = a.Store.GiftByClaimToken(ctx, a.Store.GiftClaimToken(g))
			codes = append(codes, a.Store.VoucherCode(g))
			giftIDs = append(giftIDs, g.ID)
		}
		a.Close()
	}

	childEnv := os.Environ()
	for k, v := range env {
		childEnv = append(childEnv, k+"="+v)
	}
	childEnv = append(childEnv, "TP_FAULT_CHILD=1")
	base := "http://" + env["ADDR"]
	client := &http.Client{Timeout: 10 * time.Second}
	startServer := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFaultChildServer$")
		cmd.Env = childEnv
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			if res, err := client.Get(base + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("server did not become ready")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	replayed := 0
	redeem := func(c faultCall) (int, string, error) {
		req, _ := http.NewRequest("POST", base+"/api/v1/vouchers/"+codes[c.till]+"/redemptions", strings.NewReader(redeemBody(c.amount)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Idempotency-Key", c.key)
		res, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		var out struct{ ID string }
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return 0, "", err
		}
		if res.Header.Get("Idempotent-Replayed") == "true" {
			replayed++ // only retries replay; they run one at a time
		}
		_ = json.Unmarshal(b, &out)
		return res.StatusCode, out.ID, nil
	}

	var mu sync.Mutex
	answered := map[string]string{} // idempotency key → redemption id answered with 201
	sent := map[string]faultCall{}  // every key ever sent
	var unknown []faultCall         // answer lost to a kill
	retried := 0
	rng := rand.New(rand.NewSource(7))
	const rounds = 5
	for round := range rounds {
		srv := startServer()
		// Calls whose answer was lost are repeated: the server either
		// stored them before it died (the replay says so) or not (stored now).
		for _, c := range unknown {
			status, id, err := redeem(c)
			if err != nil || status != 201 {
				t.Fatalf("retry of %s after restart: %d %v", c.key, status, err)
			}
			answered[c.key] = id
		}
		retried += len(unknown)
		unknown = nil
		killAt := time.Duration(400+rng.Intn(600)) * time.Millisecond
		lctx, stopLoad := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for till := range tills {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < perRound && lctx.Err() == nil; n++ {
					c := faultCall{till: till, key: fmt.Sprintf("f-%d-%d-%d", round, till, n), amount: int64(1+(till+n)%3) * 100}
					mu.Lock()
					sent[c.key] = c
					mu.Unlock()
					status, id, err := redeem(c)
					mu.Lock()
					switch {
					case err != nil:
						unknown = append(unknown, c)
					case status == 201:
						answered[c.key] = id
					default:
						t.Errorf("redemption %s: status %d", c.key, status)
					}
					mu.Unlock()
					if err != nil {
						return // the server is gone
					}
				}
			}()
		}
		time.Sleep(killAt)
		if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = srv.Wait()
		stopLoad()
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	// One last start: the lost answers of the final kill are retried too.
	srv := startServer()
	for _, c := range unknown {
		status, id, err := redeem(c)
		if err != nil || status != 201 {
			t.Fatalf("retry of %s: %d %v", c.key, status, err)
		}
		answered[c.key] = id
	}
	retried += len(unknown)
	_ = srv.Process.Signal(syscall.SIGKILL)
	_ = srv.Wait()

	// The file itself.
	raw, err := sql.Open("sqlite3", "file:"+strings.TrimPrefix(env["DATABASE_URL"], "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	var integrity string
	if err := raw.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check: %q %v", integrity, err)
	}
	raw.Close()

	a := apptest.NewApp(t, env)
	var rows []models.Redemption
	a.DB.Find(&rows)
	stored := map[string]models.Redemption{}
	spent := map[uint]int64{}
	for _, r := range rows {
		k := *r.IdempotencyKey
		if _, dup := stored[k]; dup {
			t.Fatalf("key %s stored twice", k)
		}
		stored[k] = r
		c, ok := sent[k]
		if !ok || r.AmountCents != c.amount || r.GiftID != giftIDs[c.till] {
			t.Fatalf("stored redemption %s was never sent like this: %+v", k, r)
		}
		spent[r.GiftID] += r.AmountCents
	}
	for k, id := range answered {
		if r, ok := stored[k]; !ok || r.PublicID != id {
			t.Fatalf("redemption %s answered 201 (%s) is missing or differs: %+v", k, id, r)
		}
	}
	if len(stored) != len(answered) {
		t.Fatalf("%d stored, %d answered", len(stored), len(answered))
	}
	for _, gid := range giftIDs {
		var g models.Gift
		a.DB.First(&g, gid)
		if g.BalanceCents != start-spent[gid] {
			t.Fatalf("gift %d balance %d, want %d", gid, g.BalanceCents, start-spent[gid])
		}
	}
	var out, errOut bytes.Buffer
	if code := app.Main([]string{"ledger", "verify"}, env.Get, &out, &errOut); code != 0 || !strings.Contains(out.String(), "ok") {
		t.Fatalf("ledger verify: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	t.Logf("%d kills: %d redemptions answered 201, all stored once; %d answers lost to a kill and retried, %d of them had been stored before the kill",
		rounds, len(answered), retried, replayed)
}
