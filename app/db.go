package app

import (
	"context"
	"log/slog"

	"gorm.io/gorm"

	"trostpflaster/models"
)

// OpenDB opens the configured database with the production settings
// (models.OpenDB: SQLite pragmas and statement pool, PostgreSQL pool, the
// GORM logger); SQLite files get their directory created.
func OpenDB(cfg Config, log *slog.Logger) (*gorm.DB, error) {
	return models.OpenDB(cfg.DatabaseURL, log)
}

// Migrate brings the schema up to date (models.Migrate: the numbered SQL
// files in models/migrations).
func Migrate(db *gorm.DB) error { return models.Migrate(context.Background(), db) }

// migrations lists the schema versions this binary applies; the readiness
// check wants each of them recorded.
func migrations() []models.Migration { return models.Migrations() }
