package models

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// KV is a small expiring key-value table used for shared state such as rate
// limit counters and CSRF tokens, so several app instances agree.
type KV struct {
	Key       string `gorm:"primaryKey;size:200"`
	Value     []byte
	ExpiresAt int64 `gorm:"not null;default:0;index"` // unix seconds; 0 = never
}

// TableName keeps the table name stable.
func (KV) TableName() string { return "kv" }

const kvGetSQL = "SELECT value FROM kv WHERE key = ? AND (expires_at = 0 OR expires_at > ?) LIMIT 1"

// KVGet returns a value, or nil when missing or expired.
func (s *Store) KVGet(ctx context.Context, key string) ([]byte, error) {
	// Read on every claim-link and voucher-code request (FailureLimit):
	// one prepared statement, no GORM.
	st, err := s.kvGet.get(ctx, s)
	if err != nil {
		return nil, err
	}
	var v []byte
	err = st.QueryRowContext(ctx, key, s.Now().Unix()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// KVSet stores a value; ttl 0 keeps it until deleted.
func (s *Store) KVSet(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	var exp int64
	if ttl > 0 {
		exp = s.Now().Add(ttl).Unix()
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "key"}},
			DoUpdates: clause.AssignmentColumns([]string{"value", "expires_at"}),
		}).Create(&KV{Key: key, Value: val, ExpiresAt: exp}).Error
	})
}

// KVIncr adds one to the counter under key (a decimal value; missing or
// expired counts as 0) and returns the new count; the key then expires ttl
// from now. Concurrent calls, on any instance, never lose a count: the row
// is created first and then read under the write lock (SQLite) or FOR
// UPDATE (PostgreSQL).
func (s *Store) KVIncr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	now := s.Now()
	exp := now.Add(ttl).Unix()
	var n int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		n = 0
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&KV{Key: key, Value: []byte("0"), ExpiresAt: exp}).Error; err != nil {
			return err
		}
		var kv KV
		if err := lockRow(tx).Where("key = ?", key).Take(&kv).Error; err != nil {
			return err
		}
		if kv.ExpiresAt == 0 || kv.ExpiresAt > now.Unix() {
			n, _ = strconv.ParseInt(string(kv.Value), 10, 64)
		}
		n++
		return tx.Model(&KV{}).Where("key = ?", key).
			Updates(map[string]any{"value": []byte(strconv.FormatInt(n, 10)), "expires_at": exp}).Error
	})
	return n, err
}

// KVDelete removes a key.
func (s *Store) KVDelete(ctx context.Context, key string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Where("key = ?", key).Delete(&KV{}).Error
	})
}

// KVReset removes every key.
func (s *Store) KVReset(ctx context.Context) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Where("1 = 1").Delete(&KV{}).Error
	})
}

// KVSweep deletes expired keys; the worker calls it now and then.
func (s *Store) KVSweep(ctx context.Context) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Where("expires_at > 0 AND expires_at <= ?", s.Now().Unix()).Delete(&KV{}).Error
	})
}
