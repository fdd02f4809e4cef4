package models

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"

	"gorm.io/gorm"
)

// The schema is versioned by numbered SQL files in migrations/, one per
// database: NNNN_name.sqlite.sql and NNNN_name.postgres.sql. Migrate applies
// those not yet recorded in the migrations table, in number order, each in a
// transaction of its own together with its record. A file is never edited
// once released (TestSchemaMatchesModels compares the result with the GORM
// models), and no migration calls AutoMigrate: a migration means the same
// thing whatever the structs look like later.
//
// A small runner rather than gormigrate: the files are the whole history,
// so all it needs is "apply the missing ones in order, in a transaction,
// and record them"; it also takes PostgreSQL's advisory lock, so instances
// starting together apply each file once.

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationName is NNNN_name.<dialect>.sql.
var migrationName = regexp.MustCompile(`^([0-9]{4}_[a-z0-9_]+)\.(sqlite|postgres)\.sql$`)

// baselineID is the first migration: the whole schema of the first release.
const baselineID = "0001_baseline"

// migrationLock is the PostgreSQL advisory lock key held while migrating.
const migrationLock = 7_120_001

// Migration is one numbered schema change, the same for both databases.
type Migration struct {
	ID string // "0001_baseline": the file name without dialect and extension
}

// Migrations lists the schema changes in the order they are applied. The
// readiness check wants each of them recorded.
func Migrations() []Migration {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic("embedded migrations: " + err.Error()) // the directory is compiled in
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			continue // TestMigrationFiles rejects stray names
		}
		if len(out) == 0 || out[len(out)-1].ID != m[1] {
			out = append(out, Migration{ID: m[1]})
		}
	}
	return out // ReadDir sorts by name, so by number
}

// SQL is the migration's statements for a dialect ("sqlite" or "postgres").
func (m Migration) SQL(dialect string) (string, error) {
	b, err := fs.ReadFile(migrationFiles, "migrations/"+m.ID+"."+dialect+".sql")
	if err != nil {
		return "", fmt.Errorf("migration %s has no %s version: %w", m.ID, dialect, err)
	}
	return string(b), nil
}

// ErrPreBaseline is a database created by a development version before the
// baseline migration existed; nothing from that time was deployed, so it is
// recreated rather than converted.
var ErrPreBaseline = errors.New("this database was created before migration " + baselineID +
	" (by a development version): delete it and start again, e.g. rm data/trostpflaster.db")

// Migrate brings the schema up to date: every migration not yet recorded in
// the migrations table is applied in order, each in one transaction with
// its record, so a failure leaves the schema as the last complete one.
func Migrate(ctx context.Context, db *gorm.DB) error {
	dialect := db.Dialector.Name()
	for _, m := range Migrations() {
		stmts, err := m.SQL(dialect)
		if err != nil {
			return err
		}
		if err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return applyMigration(tx, m.ID, stmts) }); err != nil {
			return fmt.Errorf("migrate %s: %w", m.ID, err)
		}
	}
	return nil
}

// applyMigration runs one migration in tx unless it is recorded already.
func applyMigration(tx *gorm.DB, id, stmts string) error {
	if tx.Dialector.Name() == "postgres" {
		// A second instance starting at the same moment waits here and then
		// finds the migration recorded.
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLock).Error; err != nil {
			return err
		}
	}
	if err := tx.Exec("CREATE TABLE IF NOT EXISTS migrations (id VARCHAR(100) PRIMARY KEY)").Error; err != nil {
		return err
	}
	var applied []string
	if err := tx.Table("migrations").Pluck("id", &applied).Error; err != nil {
		return err
	}
	if slices.Contains(applied, id) {
		return nil
	}
	if id == baselineID && len(applied) > 0 {
		return ErrPreBaseline
	}
	// The file holds several statements: both drivers run them all when
	// the statement has no parameters (pgx then uses the simple protocol).
	if _, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, stmts); err != nil {
		return err
	}
	return tx.Exec("INSERT INTO migrations (id) VALUES (?)", id).Error
}

// AllModels lists every model with a table, in creation order. The
// migrations do not use it (they are SQL); TestSchemaMatchesModels checks
// the migrated schema against it, so a new model belongs here.
func AllModels() []any {
	return []any{
		&Region{}, &Merchant{}, &Company{}, &User{}, &Membership{}, &Session{},
		&PasswordReset{}, &APIKey{}, &LedgerAccount{}, &LedgerTransaction{},
		&LedgerEntry{}, &AuditLog{}, &Mail{}, &KV{},
		&Gift{}, &GiftMerchant{}, &AgentLimit{},
		&StripeEvent{},
		&MerchantLogo{}, &MerchantInvite{},
		&WebhookEndpoint{}, &WebhookDelivery{},
		&Redemption{}, &Payout{}, &Topup{},
		&GiftTemplate{}, &GiftReason{}, &PreferredPartner{}, &GiftSettings{},
		&StripeRefund{}, &CreditRefund{}, &TransferReversal{}, &PayoutItem{}, &StripeCharge{},
		&BulkBatch{}, &BulkRow{},
		&SearchVersion{},
		&JobLease{},
	}
}
