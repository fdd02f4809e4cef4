package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Background jobs come in two shapes, both safe with several app instances
// on one database:
//
//   - queued jobs (mails, outgoing webhook deliveries): rows with status,
//     next_attempt, locked_until and locked_by. A worker leases a batch with
//     claimDue; each row is leased to one worker at a time. On PostgreSQL the
//     batch is selected FOR UPDATE SKIP LOCKED, so concurrent workers take
//     disjoint batches without waiting for each other; on SQLite the claiming
//     transaction holds the database's single write lock (BEGIN IMMEDIATE),
//     which serialises claims just as well.
//   - periodic runs (settlement, gift lifecycle): at most one instance at a
//     time, guarded by a named row in job_leases (AcquireLease).

// JobLease is a named, expiring lock on a periodic job: whoever holds a live
// lease runs the job; everyone else skips. It lives in the database, so it
// holds across instances and processes (the server's worker and a `settle`
// run from the command line), and it expires by itself when its holder dies.
type JobLease struct {
	Name      string    `gorm:"primaryKey;size:40"`
	HeldBy    string    `gorm:"size:40;not null;default:''"`
	ExpiresAt time.Time `gorm:"not null"`
}

// Owner identifies this Store's leases (one per process and Store).
func (s *Store) Owner() string { return s.owner }

// claimDue leases up to limit due rows of a job table to this Store for
// lease and loads them into dest (a pointer to a slice of model's type),
// oldest due first. queued is the status value of rows waiting to run.
func (s *Store) claimDue(ctx context.Context, model any, queued string, limit int, lease time.Duration, dest any, preload ...string) error {
	now := s.Now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		q := tx.Model(model).Select("id").
			Where("status = ? AND next_attempt <= ? AND (locked_until IS NULL OR locked_until < ?)", queued, now, now).
			Order("next_attempt, id").Limit(limit)
		if tx.Dialector.Name() == "postgres" {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var ids []uint
		if err := q.Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(model).Where("id IN ?", ids).
			Updates(map[string]any{"locked_until": now.Add(lease), "locked_by": s.owner}).Error; err != nil {
			return err
		}
		load := tx
		for _, p := range preload {
			load = load.Preload(p)
		}
		return load.Where("id IN ?", ids).Order("next_attempt, id").Find(dest).Error
	})
}

// releaseJobs gives leased rows back before their lease ends (a worker that
// is shutting down), so another instance can take them at once. Only rows
// still leased by this Store and still waiting are touched.
func (s *Store) releaseJobs(ctx context.Context, model any, queued string, ids []uint) error {
	if len(ids) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Model(model).Where("id IN ? AND status = ? AND locked_by = ?", ids, queued, s.owner).
			Updates(map[string]any{"locked_until": nil, "locked_by": ""}).Error
	})
}

// NewLeaseHolder returns a fresh holder id for AcquireLease: one per run, so
// two runs in the same process exclude each other too.
func NewLeaseHolder() string { return newToken(15) }

// AcquireLease takes the named lease for holder for ttl when nobody else
// holds a live one, or extends it when holder already holds it. It reports
// whether holder holds the lease now. Two instances asking at once: exactly one
// gets it (a conditional UPDATE on one row, serialised by the row lock on
// PostgreSQL and the write lock on SQLite).
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.Now()
	db := s.db.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).
		Create(&JobLease{Name: name, ExpiresAt: time.Unix(0, 0).UTC()}).Error; err != nil {
		return false, err
	}
	res := db.Model(&JobLease{}).Where("name = ? AND (expires_at < ? OR held_by = ?)", name, now, holder).
		Updates(map[string]any{"held_by": holder, "expires_at": now.Add(ttl)})
	return res.RowsAffected == 1, res.Error
}

// ReleaseLease ends holder's lease early, so the next run (on any instance)
// need not wait for it to expire. A lease holder no longer holds is left
// alone.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.db.WithContext(ctx).Model(&JobLease{}).Where("name = ? AND held_by = ?", name, holder).
		Updates(map[string]any{"held_by": "", "expires_at": time.Unix(0, 0).UTC()}).Error
}

// queueDepth counts a job queue's rows waiting (status queued, including
// retries) and given up (status failed), for monitoring.
func (s *Store) queueDepth(ctx context.Context, model any, queued, failed string) (int64, int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := s.db.WithContext(ctx).Model(model).Select("status, COUNT(*) AS n").
		Where("status IN ?", []string{queued, failed}).Group("status").Scan(&rows).Error
	var q, f int64
	for _, r := range rows {
		switch r.Status {
		case queued:
			q = r.N
		case failed:
			f = r.N
		}
	}
	return q, f, err
}
