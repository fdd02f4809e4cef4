package models

import (
	"context"

	"gorm.io/gorm"
)

// TestSpend books a plain transfer between two wallets, for tests of the
// ledger's concurrency guarantees before the domain events that use it exist.
func (s *Store) TestSpend(ctx context.Context, from, to string, amount int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		_, err := s.book(tx, Booking{Kind: "test.spend", Currency: "EUR", Postings: Move(from, to, amount)})
		return err
	})
}

// TestTx runs fn as a write transaction (Store.tx), for tests of the write
// queue.
func (s *Store) TestTx(ctx context.Context, fn func(tx *gorm.DB) error) error { return s.tx(ctx, fn) }

// TestBook books a transfer inside tx, with an optional idempotency key.
func (s *Store) TestBook(tx *gorm.DB, key, from, to string, amount int64) error {
	_, err := s.book(tx, Booking{Kind: "test.spend", IdempotencyKey: key, Currency: "EUR", Postings: Move(from, to, amount)})
	return err
}

// TestQueuedWrites is the number of write transactions waiting in the
// SQLite write queue (0 on PostgreSQL).
func (s *Store) TestQueuedWrites() int {
	if s.writes == nil {
		return 0
	}
	s.writes.mu.Lock()
	defer s.writes.mu.Unlock()
	return len(s.writes.pending)
}
