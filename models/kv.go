package models

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

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
