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
