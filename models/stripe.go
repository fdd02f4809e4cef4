package models

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// MerchantStripe is the merchant's Stripe Connect state, embedded in
// Merchant (its columns live in the merchants table). The flags mirror the
// connected account as last seen, from a re-fetch or an account.updated
// event; StripeUpdatedAt is the moment that state was true at Stripe, so an
// older event arriving late never overwrites newer state.
type MerchantStripe struct {
	// StripeAccountID is set once and never replaced: the unique index and
	// the conditional update in SetStripeAccountID make sure a merchant has
	// one connected account, even after a double click.
	StripeAccountID  *string `gorm:"size:64;uniqueIndex"`
	ChargesEnabled   bool    `gorm:"not null;default:false"`
	PayoutsEnabled   bool    `gorm:"not null;default:false"`
	DetailsSubmitted bool    `gorm:"not null;default:false"`
	// StripeRequirements is a JSON array of Stripe's
	// requirements.currently_due field names (what Stripe still needs).
	StripeRequirements string `gorm:"type:text;not null;default:''"`
	StripeUpdatedAt    *time.Time
}

// CurrentlyDue lists what Stripe still needs from the merchant (Stripe's
// field names, e.g. "individual.dob.day").
func (m MerchantStripe) CurrentlyDue() []string {
	var out []string
	if m.StripeRequirements != "" {
		_ = json.Unmarshal([]byte(m.StripeRequirements), &out) // written only by SetStripeAccountState
	}
	return out
}

// StripeConnected reports whether the merchant has a connected account.
func (m MerchantStripe) StripeConnected() bool {
	return m.StripeAccountID != nil && *m.StripeAccountID != ""
}

// StripeReady reports whether transfers to the merchant can be paid out.
func (m MerchantStripe) StripeReady() bool { return m.StripeConnected() && m.PayoutsEnabled }

// StripeAccount returns the account id or "".
func (m MerchantStripe) StripeAccount() string {
	if m.StripeAccountID == nil {
		return ""
	}
	return *m.StripeAccountID
}

// MerchantStripeStatus loads a merchant by id with its current Stripe state.
func (s *Store) MerchantStripeStatus(ctx context.Context, merchantID uint) (*Merchant, error) {
	var m Merchant
	err := s.db.WithContext(ctx).Preload("Region").First(&m, merchantID).Error
	return &m, notFound(err)
}

// SetStripeAccountID records the connected account created for a merchant,
// unless one is already recorded: then the stored id wins and is returned
// (a concurrent second request, a double click). The caller uses the
// returned id from then on.
func (s *Store) SetStripeAccountID(ctx context.Context, merchantID uint, accountID string, a Actor) (string, error) {
	if accountID == "" {
		return "", ValidationErrors{"stripe_account_id": MsgRequired}
	}
	var stored string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Merchant{}).Where("id = ? AND stripe_account_id IS NULL", merchantID).
			UpdateColumns(map[string]any{"stripe_account_id": accountID, "updated_at": s.Now()})
		if res.Error != nil {
			return notFound(res.Error)
		}
		var m Merchant
		if err := tx.Select("id", "stripe_account_id").First(&m, merchantID).Error; err != nil {
			return notFound(err)
		}
		stored = m.StripeAccount()
		if res.RowsAffected == 0 {
			return nil
		}
		return audit(tx, a, "merchant.stripe_account_created", "merchant", &merchantID, map[string]any{"account": accountID})
	})
	return stored, err
}

// StripeAccountState is a connected account as Stripe reported it at AsOf.
type StripeAccountState struct {
	AccountID        string
	ChargesEnabled   bool
	PayoutsEnabled   bool
	DetailsSubmitted bool
	CurrentlyDue     []string
	AsOf             time.Time // event.created, or the time of a fresh fetch
}

// Outcomes of SetStripeAccountState.
var (
	// ErrStaleState means newer state was already applied (an older event
	// arrived late); nothing changed.
	ErrStaleState = errors.New("stale stripe state")
)

// SetStripeAccountState applies the state of a connected account to the
// merchant that owns it. It is idempotent and order-tolerant: state older
// than what was last applied is ignored (ErrStaleState). An account no
// merchant owns gives ErrNotFound.
func (s *Store) SetStripeAccountState(ctx context.Context, st StripeAccountState) (*Merchant, error) {
	if st.AccountID == "" {
		return nil, ErrNotFound
	}
	due := st.CurrentlyDue
	if due == nil {
		due = []string{}
	}
	b, err := json.Marshal(due)
	if err != nil {
		return nil, err
	}
	asOf := st.AsOf.UTC()
	var m Merchant
	err = s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Merchant{}).
			Where("stripe_account_id = ? AND (stripe_updated_at IS NULL OR stripe_updated_at <= ?)", st.AccountID, asOf).
			UpdateColumns(map[string]any{
				"charges_enabled":     st.ChargesEnabled,
				"payouts_enabled":     st.PayoutsEnabled,
				"details_submitted":   st.DetailsSubmitted,
				"stripe_requirements": string(b),
				"stripe_updated_at":   asOf,
				"updated_at":          s.Now(),
			})
		if res.Error != nil {
			return res.Error
		}
		if err := tx.Where("stripe_account_id = ?", st.AccountID).First(&m).Error; err != nil {
			return notFound(err)
		}
		if res.RowsAffected == 0 {
			return ErrStaleState
		}
		return audit(tx, Actor{Kind: "webhook"}, "merchant.stripe_state", "merchant", &m.ID, map[string]any{
			"charges_enabled": st.ChargesEnabled, "payouts_enabled": st.PayoutsEnabled,
			"details_submitted": st.DetailsSubmitted, "currently_due": len(due)})
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

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
