package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// StripeEvent is a received Stripe webhook event, stored once (unique
// EventID) before it is applied, so a failure can be retried from the stored
// payload and a redelivery is recognised.
type StripeEvent struct {
	ID         uint      `gorm:"primaryKey"`
	EventID    string    `gorm:"size:255;not null;uniqueIndex"`
	Type       string    `gorm:"size:100;not null;index"`
	APIVersion string    `gorm:"size:40;not null;default:''"`
	Account    string    `gorm:"size:64;not null;default:''"` // connected account, for Connect events
	Created    time.Time // event.created at Stripe
	Payload    string    `gorm:"type:text;not null"`
	ReceivedAt time.Time `gorm:"not null"`
	// ProcessedAt is set once the event has been applied (or deliberately
	// ignored); Result says which.
	ProcessedAt *time.Time `gorm:"index"`
	Result      string     `gorm:"size:60;not null;default:''"`
	// Error is the last processing problem (operator-facing); Flagged marks
	// events an operator must look at, such as an API version mismatch.
	Error       string `gorm:"size:500;not null;default:''"`
	Flagged     bool   `gorm:"not null;default:false;index"`
	Attempts    int    `gorm:"not null;default:0"`
	LockedUntil *time.Time
	// NextAttemptAt is when the retry job may process a failed event again
	// (backoff); nil for events never failed.
	NextAttemptAt *time.Time `gorm:"index"`
}

// Results of processing a Stripe event.
const (
	StripeResultApplied         = "applied"
	StripeResultUnhandledType   = "unhandled_type"
	StripeResultUnknownAccount  = "ignored_unknown_account"
	StripeResultStale           = "ignored_stale"
	StripeResultAPIVersionError = "api_version_mismatch"
)

// ErrEventBusy means another request is processing the same event right
// now; the sender should retry later.
var ErrEventBusy = errors.New("stripe event is being processed")

// stripeEventLease is how long one delivery may work on an event before
// another delivery may take over (a crashed process holds no lock forever).
const stripeEventLease = 2 * time.Minute

// ClaimStripeEvent stores the event if it is new and claims it for
// processing. It returns done=true when the event was already processed
// (a duplicate delivery: answer 200, apply nothing), ErrEventBusy when
// another delivery holds it, and otherwise the stored row, claimed.
func (s *Store) ClaimStripeEvent(ctx context.Context, in StripeEvent) (ev *StripeEvent, done bool, err error) {
	if in.EventID == "" || in.Type == "" {
		return nil, false, ValidationErrors{"id": MsgRequired}
	}
	now := s.Now()
	in.ID = 0
	in.ReceivedAt = now
	in.ProcessedAt, in.LockedUntil, in.Attempts = nil, nil, 0
	var row StripeEvent
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "event_id"}}, DoNothing: true}).Create(&in).Error; err != nil {
			return err
		}
		if err := tx.Where("event_id = ?", in.EventID).First(&row).Error; err != nil {
			return notFound(err)
		}
		var err error
		done, err = leaseStripeEvent(tx, &row, now)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return &row, done, nil
}

// FinishStripeEvent records the outcome of processing a claimed event. With
// procErr nil the event is marked processed with result; otherwise it stays
// unprocessed (Stripe's redelivery, or an operator, retries it) with the
// error noted and, when flag is set, flagged for the operator.
func (s *Store) FinishStripeEvent(ctx context.Context, id uint, result string, procErr error, flag bool) error {
	upd := map[string]any{"locked_until": nil, "result": result}
	if procErr == nil {
		upd["processed_at"] = s.Now()
		upd["error"] = ""
		upd["next_attempt_at"] = nil
	} else {
		msg := procErr.Error()
		if len(msg) > 500 {
			msg = msg[:500]
		}
		upd["error"] = msg
		var row StripeEvent
		if err := s.db.WithContext(ctx).Select("id", "attempts").First(&row, id).Error; err != nil {
			return notFound(err)
		}
		upd["next_attempt_at"] = s.Now().Add(StripeEventBackoff(row.Attempts))
		if row.Attempts >= StripeEventMaxAttempts {
			flag = true // given up: the operator looks at it (and may retry by hand)
		}
	}
	if flag {
		upd["flagged"] = true
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Model(&StripeEvent{}).Where("id = ?", id).Updates(upd).Error
	})
}

// StripeEventByID returns a stored event by Stripe's event id.
func (s *Store) StripeEventByID(ctx context.Context, eventID string) (*StripeEvent, error) {
	var ev StripeEvent
	err := s.db.WithContext(ctx).Where("event_id = ?", eventID).First(&ev).Error
	return &ev, notFound(err)
}

// StripeEventMaxAttempts is how often a failing event is tried (live
// deliveries and retries together) before it is flagged for the operator;
// `stripe-events retry --event ID` still processes it by hand.
const StripeEventMaxAttempts = 12

// StripeEventBackoff is the wait before the retry job tries a failed event
// again: 30 s after the first failure, doubling, at most 6 hours.
func StripeEventBackoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < 6*time.Hour; i++ {
		d *= 2
	}
	return min(d, 6*time.Hour)
}

// DueStripeEvents lists stored events whose processing failed and whose
// backoff has passed (flagged ones only with includeFlagged), oldest first.
func (s *Store) DueStripeEvents(ctx context.Context, limit int, includeFlagged bool) ([]StripeEvent, error) {
	now := s.Now()
	q := s.db.WithContext(ctx).Where("processed_at IS NULL AND next_attempt_at IS NOT NULL AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?)", now, now)
	if !includeFlagged {
		q = q.Where("flagged = ?", false)
	}
	var evs []StripeEvent
	err := q.Order("id").Limit(limit).Find(&evs).Error
	return evs, err
}

// leaseStripeEvent takes the processing lease on row inside tx: done=true
// when it was processed already, ErrEventBusy while another delivery or
// retry holds an unexpired lease.
func leaseStripeEvent(tx *gorm.DB, row *StripeEvent, now time.Time) (done bool, err error) {
	if row.ProcessedAt != nil {
		return true, nil
	}
	until := now.Add(stripeEventLease)
	res := tx.Model(&StripeEvent{}).
		Where("id = ? AND processed_at IS NULL AND (locked_until IS NULL OR locked_until < ?)", row.ID, now).
		Updates(map[string]any{"locked_until": until, "attempts": gorm.Expr("attempts + 1")})
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 0 {
		return false, ErrEventBusy
	}
	row.LockedUntil = &until
	row.Attempts++
	return false, nil
}

// ClaimStoredStripeEvent takes the lease on a stored, unprocessed event for
// a retry (the same lease live deliveries take, so an event is never
// processed by two at once): done=true when it was processed meanwhile,
// ErrEventBusy when someone else holds it.
func (s *Store) ClaimStoredStripeEvent(ctx context.Context, eventID string) (ev *StripeEvent, done bool, err error) {
	now := s.Now()
	var row StripeEvent
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("event_id = ?", eventID).First(&row).Error; err != nil {
			return notFound(err)
		}
		var err error
		done, err = leaseStripeEvent(tx, &row, now)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return &row, done, nil
}

// UnprocessedStripeEvents lists stored events not (yet) applied, flagged
// first, for the reconciliation view.
func (s *Store) UnprocessedStripeEvents(ctx context.Context, limit int) ([]StripeEvent, error) {
	var evs []StripeEvent
	err := s.db.WithContext(ctx).Omit("payload").Where("processed_at IS NULL OR flagged = ?", true).
		Order("flagged DESC, id DESC").Limit(limit).Find(&evs).Error
	return evs, err
}
