package app

import (
	"context"
	"time"

	"trostpflaster/models"
)

// dbStorage is a fiber.Storage over the kv table, so rate-limit counters and
// CSRF tokens are shared by every app instance using the same database.
type dbStorage struct{ store *models.Store }

func (s dbStorage) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

func (s dbStorage) Get(key string) ([]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.store.KVGet(ctx, key)
}

func (s dbStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.store.KVSet(ctx, key, append([]byte(nil), val...), exp)
}

func (s dbStorage) Delete(key string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.store.KVDelete(ctx, key)
}

func (s dbStorage) Reset() error {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.store.KVReset(ctx)
}

func (s dbStorage) Close() error { return nil }
