package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	env := apptest.BaseEnv(t, "sqlite")
	a := apptest.NewApp(t, env)
	ctx := t.Context()
	if _, err := app.SeedDemo(ctx, a.Store, a.Places); err != nil {
		t.Fatal(err)
	}
	c, err := a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	if err != nil {
		t.Fatal(err)
	}

	// A writer books credit (ledger rows plus balances) and queues mails the
	// whole time the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := a.Store.GrantCredit(ctx, c.ID, 1_00, fmt.Sprintf("bk:%d", i), "backup test", models.ActorCLI); err != nil {
				t.Errorf("grant: %v", err)
				return
			}
			if err := a.Store.EnqueueMail(ctx, models.Mail{To: "a@example.com", Subject: "s", Text: "t"}); err != nil {
				t.Errorf("mail: %v", err)
				return
			}
			writes.Add(1)
		}
	}()
	for writes.Load() < 5 {
		if t.Failed() {
			break
		}
		time.Sleep(time.Millisecond)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	code, out, errs := runCLI(t, env, "backup", "--to", dst)
	close(stop)
	wg.Wait()
	if code != 0 || !strings.Contains(out, "backup written") {
		t.Fatalf("backup: exit %d %q %q", code, out, errs)
	}
	if writes.Load() < 5 {
		t.Fatal("the writer did not run")
	}

	db, err := gorm.Open(sqlite.Open("file:"+dst+"?mode=ro"), &gorm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.Raw("PRAGMA integrity_check").Scan(&check).Error; err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	var merchants, grants int64
	db.Model(&models.Merchant{}).Count(&merchants)
	db.Model(&models.LedgerTransaction{}).Count(&grants)
	if merchants == 0 || grants == 0 {
		t.Errorf("backup lacks data: %d merchants, %d ledger transactions", merchants, grants)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 1 {
		t.Errorf("left-over files next to the backup: %v", entries)
	}

	benv := apptest.Env{"DATABASE_URL": "sqlite:" + dst, "SECRET_KEY": apptest.Secret, "BCRYPT_COST": "4"}
	if code, out, errs := runCLI(t, benv, "ledger", "verify"); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("ledger verify on the backup: %d %q %q", code, out, errs)
	}

	// Never overwrites, and says what to do on PostgreSQL.
	before, _ := os.ReadFile(dst)
	if code, _, errs := runCLI(t, env, "backup", "--to", dst); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("second backup to the same file: %d %q", code, errs)
	}
	if after, _ := os.ReadFile(dst); string(after) != string(before) {
		t.Error("existing backup was changed")
	}
	if code, _, errs := runCLI(t, env, "backup"); code != 1 || !strings.Contains(errs, "--to is required") {
		t.Errorf("no --to: %d %q", code, errs)
	}
	pg := apptest.Env{"DATABASE_URL": "postgres://u@127.0.0.1/db", "SECRET_KEY": apptest.Secret}
	if code, _, errs := runCLI(t, pg, "backup", "--to", dst+".pg"); code != 1 || !strings.Contains(errs, "pg_dump") {
		t.Errorf("postgres: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, env, "backup", "--help"); code != 0 || !strings.Contains(errs, "VACUUM INTO") {
		t.Errorf("help: %d %q", code, errs)
	}
}
