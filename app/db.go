package app

import (
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"trostpflaster/models"
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

// OpenDB opens the configured database. SQLite files get their directory
// created.
func OpenDB(cfg Config, log *slog.Logger) (*gorm.DB, error) {
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
	if cfg.IsSQLite() {
		path := cfg.SQLitePath()
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		// SQLite parses and plans every statement afresh unless it is
		// prepared; for the claim page's join that was a third of its time.
		// stmtPool keeps prepared statements per SQL text (LRU-bounded, so
		// queries with varying IN lists cannot grow it without limit) and,
		// unlike GORM's PrepareStmt, reuses them inside transactions.
		sqlDB, err := sql.Open(sqlite.DriverName, sqliteDSN(path))
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		db, err := gorm.Open(sqlite.New(sqlite.Config{Conn: newStmtPool(sqlDB, 512)}), gcfg)
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
	db, err := gorm.Open(postgres.Open(cfg.DatabaseURL), gcfg)
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

// migrations is the versioned schema history. Each entry runs once, in a
// transaction, and is recorded in the `migrations` table. Add new entries at
// the end; never edit one that has shipped.
func migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		{
			ID: "0001_foundation",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(models.AllModels()...)
			},
			Rollback: func(tx *gorm.DB) error {
				all := models.AllModels()
				for i := len(all) - 1; i >= 0; i-- {
					if err := tx.Migrator().DropTable(all[i]); err != nil {
						return err
					}
				}
				return nil
			},
		},
		{
			ID: "0002_gifts",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Gift{}, &models.GiftMerchant{}, &models.AgentLimit{})
			},
		},
		{
			ID: "0002_stripe",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Merchant{}, &models.StripeEvent{})
			},
		},
		{
			ID: "0002_onboarding",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Merchant{}, &models.MerchantLogo{}, &models.MerchantInvite{})
			},
		},
		{
			// Catalog search indexes (measured by `make bench`): the "near"
			// search reads a bounding box of approved merchants
			// (models/catalog_near.go); on SQLite the text search walks
			// (status, search_text) in its ORDER BY and stops after a page
			// instead of sorting every match. PostgreSQL plans from its own
			// statistics and caps B-tree entries below search_text's size.
			ID: "0002_ops",
			Migrate: func(tx *gorm.DB) error {
				if err := tx.Exec("CREATE INDEX IF NOT EXISTS idx_merchants_geo ON merchants (status, lat, lng)").Error; err != nil {
					return err
				}
				if tx.Dialector.Name() != "sqlite" {
					return nil
				}
				return tx.Exec("CREATE INDEX IF NOT EXISTS idx_merchants_text ON merchants (status, search_text)").Error
			},
		},
		{
			ID: "0003_hooks",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.WebhookEndpoint{}, &models.WebhookDelivery{})
			},
		},
		{
			ID: "0003_gift_lifecycle",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Gift{})
			},
		},
		{
			ID: "0004_redemptions",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Gift{}, &models.Redemption{})
			},
		},
		{
			ID: "0005_payouts",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Payout{})
			},
		},
		{
			ID: "0006_topups",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Topup{})
			},
		},
		{
			ID: "0007_feedback",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Gift{})
			},
		},
		{
			ID: "0008_merchant_commission",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Merchant{})
			},
		},
		{
			// Message templates, reason lists, partner networks, the
			// per-customer cap and scheduled delivery (gifts.send_at; a
			// recipient mail knows its gift so cancelling withdraws it).
			// Companies get their default reasons on first use.
			ID: "0009_gifting_extras",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Gift{}, &models.Mail{}, &models.GiftTemplate{},
					&models.GiftReason{}, &models.PreferredPartner{}, &models.GiftSettings{})
			},
		},
		{
			ID: "0012_settlement_extras",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.StripeEvent{}, &models.StripeRefund{}, &models.CreditRefund{},
					&models.TransferReversal{}, &models.PayoutItem{}, &models.StripeCharge{}, &models.Payout{})
			},
		},
		{
			ID: "0010_bulk",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.BulkBatch{}, &models.BulkRow{})
			},
		},
		{
			// Catalog search index: a change counter raised by triggers on
			// merchants and regions; each process rebuilds its in-memory
			// index when it moves (models/catalog_index.go).
			ID: "0013_search_index",
			Migrate: func(tx *gorm.DB) error {
				if err := tx.Migrator().AutoMigrate(&models.SearchVersion{}); err != nil {
					return err
				}
				return models.InstallSearchTriggers(tx)
			},
		},
		{
			// Scale-out: job leases carry their holder (released on
			// shutdown), periodic jobs take a named lease.
			ID: "0014_scale",
			Migrate: func(tx *gorm.DB) error {
				return tx.Migrator().AutoMigrate(&models.Mail{}, &models.WebhookDelivery{}, &models.JobLease{})
			},
		},
		{
			// The job queues are read in due order (models.claimDue):
			// without an index on (status, next_attempt, id) each claim of
			// 20 mails scanned and sorted every queued mail, 20,000 of them
			// during a bulk send, inside the write lock.
			ID: "0015_job_due_index",
			Migrate: func(tx *gorm.DB) error {
				for _, q := range []string{
					"CREATE INDEX IF NOT EXISTS idx_mails_due ON mails (status, next_attempt, id)",
					"CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_due ON webhook_deliveries (status, next_attempt, id)",
				} {
					if err := tx.Exec(q).Error; err != nil {
						return err
					}
				}
				return nil
			},
		},
	}
}

// Migrate brings the schema up to date.
func Migrate(db *gorm.DB) error {
	m := gormigrate.New(db, &gormigrate.Options{
		TableName: "migrations", IDColumnName: "id", IDColumnSize: 100, UseTransaction: true,
	}, migrations())
	if err := m.Migrate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
