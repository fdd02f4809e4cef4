package models

import (
	"database/sql"
	"sync"

	"gorm.io/gorm"
)

// The redemption's hot path runs fixed SQL straight on the transaction's
// connection instead of through Create or Raw: GORM's reflection over the
// models and its statement building were over a third of the time spent
// holding SQLite's write lock. These helpers keep what GORM gave: the new
// id from RETURNING (SQLite ≥ 3.35 and PostgreSQL), errors translated
// (a unique violation is gorm.ErrDuplicatedKey) and PostgreSQL's $n
// placeholders. The SQL must be fixed text with ? placeholders only (no ?
// inside literals, no slices to expand); SQLite's prepared-statement pool
// (store_stmtpool.go) is used as with GORM.

// rawQuery runs a query in tx.
func rawQuery(tx *gorm.DB, query string, args ...any) (*sql.Rows, error) {
	rows, err := tx.Statement.ConnPool.QueryContext(tx.Statement.Context, bound(tx, query), args...)
	return rows, translated(tx, err)
}

// rawExec runs a statement in tx.
func rawExec(tx *gorm.DB, query string, args ...any) error {
	_, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, bound(tx, query), args...)
	return translated(tx, err)
}

// insertID runs an INSERT … RETURNING id and returns the id.
func insertID(tx *gorm.DB, query string, args ...any) (uint, error) {
	rows, err := rawQuery(tx, query, args...)
	if err != nil {
		return 0, err
	}
	var id uint
	if rows.Next() {
		err = rows.Scan(&id)
	} else if err = rows.Err(); err == nil {
		err = sql.ErrNoRows
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return id, translated(tx, err)
}

// translated turns a driver error into GORM's (ErrDuplicatedKey, …) as
// GORM does for the statements it runs itself (Config.TranslateError).
func translated(tx *gorm.DB, err error) error {
	if err == nil || !tx.Config.TranslateError {
		return err
	}
	if t, ok := tx.Dialector.(gorm.ErrorTranslator); ok {
		return t.Translate(err)
	}
	return err
}

// pgSQL memoises the $n form of the fixed queries (a bounded set).
var pgSQL sync.Map

// bound is query with the dialect's placeholders: ? for SQLite, $1, $2, …
// for PostgreSQL.
func bound(tx *gorm.DB, query string) string {
	if tx.Dialector.Name() != "postgres" {
		return query
	}
	if q, ok := pgSQL.Load(query); ok {
		return q.(string)
	}
	q := numberParams(query) // store_prepared.go
	pgSQL.Store(query, q)
	return q
}
