package models

import (
	"database/sql"

	"gorm.io/gorm"
)

// The redemption's hot path writes with fixed SQL instead of Create: GORM's
// reflection over the models was a fifth of the time spent holding SQLite's
// write lock. These helpers keep the outcome Create would have: the new id
// from RETURNING (SQLite ≥ 3.35 and PostgreSQL) and a unique violation as
// gorm.ErrDuplicatedKey.

// insertID runs an INSERT … RETURNING id and returns the id.
func insertID(tx *gorm.DB, query string, args ...any) (uint, error) {
	rows, err := tx.Raw(query, args...).Rows()
	if err != nil {
		return 0, translated(tx, err)
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
// Raw(…).Rows() leaves a query's errors untranslated.
func translated(tx *gorm.DB, err error) error {
	if err == nil || !tx.Config.TranslateError {
		return err
	}
	if t, ok := tx.Dialector.(gorm.ErrorTranslator); ok {
		return t.Translate(err)
	}
	return err
}
