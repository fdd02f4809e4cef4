package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Mail is an outgoing e-mail and its delivery job: written in the same
// transaction as the event that causes it, delivered by the worker with
// retries and backoff (or kept for the dev mailbox when SMTP is not set up).
type Mail struct {
	ID          uint      `gorm:"primaryKey"`
	To          string    `gorm:"column:to_addr;size:254;not null"`
	Subject     string    `gorm:"size:200;not null"`
	Text        string    `gorm:"type:text;not null"`
	HTML        string    `gorm:"column:html;type:text;not null;default:''"`
	Status      string    `gorm:"size:12;not null;default:queued;index"` // queued, sent, failed, dev
	Attempts    int       `gorm:"not null;default:0"`
	LastError   string    `gorm:"size:500;not null;default:''"`
	NextAttempt time.Time `gorm:"index"`
	LockedUntil *time.Time
	LockedBy    string `gorm:"size:40;not null;default:''"` // the worker (Store.Owner) holding the lease
	SentAt      *time.Time
	GiftID      *uint `gorm:"index"` // the gift a recipient mail belongs to (withdrawn on cancel)
	CreatedAt   time.Time
}

// Mail statuses.
const (
	MailQueued = "queued"
	MailSent   = "sent"
	MailFailed = "failed" // gave up after MailMaxAttempts
)

// MailMaxAttempts is how often delivery is tried before a mail is marked failed.
const MailMaxAttempts = 8

func (s *Store) enqueueMail(tx *gorm.DB, m Mail) error {
	m = queuedMail(m, s.Now())
	return tx.Create(&m).Error
}

// queuedMail prepares m as a new job due at.
func queuedMail(m Mail, at time.Time) Mail {
	m.ID = 0
	m.Status = MailQueued
	if m.NextAttempt.Before(at) {
		m.NextAttempt = at // a later NextAttempt holds the mail back (scheduled gifts)
	}
	return m
}

// EnqueueMail queues a mail on its own (for mails not tied to another change).
func (s *Store) EnqueueMail(ctx context.Context, m Mail) error {
	return s.enqueueMail(s.db.WithContext(ctx), m)
}

// ClaimMails leases up to limit due mails to this worker for lease (see
// claimDue: FOR UPDATE SKIP LOCKED on PostgreSQL), so two workers or two app
// instances never deliver the same mail at once, on SQLite and PostgreSQL
// alike. A mail whose worker died is due again when its lease ends.
func (s *Store) ClaimMails(ctx context.Context, limit int, lease time.Duration) ([]Mail, error) {
	var out []Mail
	err := s.claimDue(ctx, &Mail{}, MailQueued, limit, lease, &out)
	return out, err
}

// ReleaseMails hands claimed but unsent mails back to the queue at once (a
// worker shutting down), instead of when their lease ends.
func (s *Store) ReleaseMails(ctx context.Context, ids []uint) error {
	return s.releaseJobs(ctx, &Mail{}, MailQueued, ids)
}

// MailDelivered marks a claimed mail as sent. With eraseBody its text and
// HTML are blanked in the same UPDATE: bodies carry links that work as
// secrets (a gift's claim link, which is stored nowhere else, password-reset
// and staff invite links), and a copy of the database must not yield them.
// Only the dev mailbox (no SMTP, /dev/mail shows the mails) keeps bodies.
// Subject, recipient, attempts and status stay for the delivery record.
func (s *Store) MailDelivered(ctx context.Context, id uint, eraseBody bool) error {
	now := s.Now()
	upd := map[string]any{"status": MailSent, "sent_at": now, "locked_until": nil, "locked_by": "", "attempts": gorm.Expr("attempts + 1")}
	if eraseBody {
		upd["text"], upd["html"] = "", ""
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Model(&Mail{}).Where("id = ?", id).Updates(upd).Error
	})
}

// MailFailed records a failed attempt and schedules a retry with exponential
// backoff (30 s, 1 min, 2 min, … capped at 2 h), or gives up after
// MailMaxAttempts; giving up blanks the body like MailDelivered when
// eraseBody is set (nothing sends it again).
func (s *Store) MailFailed(ctx context.Context, m Mail, cause error, eraseBody bool) error {
	attempts := m.Attempts + 1
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	upd := map[string]any{"attempts": attempts, "last_error": msg, "locked_until": nil, "locked_by": ""}
	if attempts >= MailMaxAttempts {
		upd["status"] = MailFailed
		if eraseBody {
			upd["text"], upd["html"] = "", ""
		}
	} else {
		backoff := 30 * time.Second << (attempts - 1)
		if backoff > 2*time.Hour {
			backoff = 2 * time.Hour
		}
		upd["next_attempt"] = s.Now().Add(backoff)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Model(&Mail{}).Where("id = ?", m.ID).Updates(upd).Error
	})
}

// RecentMails lists the newest mails (the dev mailbox page).
func (s *Store) RecentMails(ctx context.Context, limit int) ([]Mail, error) {
	var ms []Mail
	err := s.db.WithContext(ctx).Order("id DESC").Limit(limit).Find(&ms).Error
	return ms, err
}

// MailByID returns one mail (the dev mailbox page).
func (s *Store) MailByID(ctx context.Context, id uint) (*Mail, error) {
	var m Mail
	err := s.db.WithContext(ctx).First(&m, id).Error
	return &m, notFound(err)
}

// MailQueueDepth counts mails waiting for delivery (queued, including those
// scheduled for a retry) and mails given up on (failed), for monitoring.
func (s *Store) MailQueueDepth(ctx context.Context) (queued, failed int64, err error) {
	return s.queueDepth(ctx, &Mail{}, MailQueued, MailFailed)
}
