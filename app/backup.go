package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// ErrBackupPostgres is returned by BackupSQLite for a PostgreSQL database:
// pg_dump is the right tool there.
var ErrBackupPostgres = errors.New("backup --to works on the embedded SQLite database only; for PostgreSQL use pg_dump, e.g.\n  pg_dump --format=custom --file=trostpflaster.dump \"$DATABASE_URL\"")

// BackupSQLite writes a consistent copy of the live SQLite database to dst
// while the server keeps running. VACUUM INTO reads one snapshot inside a
// read transaction, so concurrent writers neither block for long nor tear
// the copy. The copy is written under a temporary name next to dst, synced,
// and then hard-linked to dst, which fails if dst exists: an existing file is
// never overwritten and dst never holds a half-written backup.
func BackupSQLite(ctx context.Context, cfg Config, log *slog.Logger, dst string) error {
	if !cfg.IsSQLite() {
		return ErrBackupPostgres
	}
	src := cfg.SQLitePath()
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("no database at %s: %w", src, err)
	}
	dst, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s already exists; choose a new file name", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return err
	}
	tmp := dst + ".tmp-" + hex.EncodeToString(suffix)
	defer os.Remove(tmp)

	db, err := OpenDB(cfg, log)
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	if _, err := sqlDB.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return fmt.Errorf("vacuum into %s: %w", tmp, err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; choose a new file name", dst)
		}
		return fmt.Errorf("finish backup: %w", err)
	}
	return syncFile(filepath.Dir(dst))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}
