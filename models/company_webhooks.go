package models

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Outgoing webhook event types a company's help desk can receive.
const (
	HookGiftSent       = "gift.sent"
	HookGiftClaimed    = "gift.claimed"
	HookVoucherRedeem  = "voucher.redeemed"
	HookGiftExpired    = "gift.expired"
	HookGiftCancelled  = "gift.cancelled"
	HookGiftFeedback   = "gift.feedback"
	HookTestPing       = "test.ping"
	hookMaxAttempts    = 10
	hookMaxEndpoints   = 10
	MsgHookURL         = "hook_url"
	MsgHookTooMany     = "hook_too_many"
	HookDeliveryQueued = "queued"
	HookDeliveryDone   = "delivered"
	HookDeliveryFailed = "failed"
)

// HookEvents lists the event types endpoints receive.
var HookEvents = []string{HookGiftSent, HookGiftClaimed, HookVoucherRedeem, HookGiftExpired, HookGiftCancelled, HookGiftFeedback}

// WebhookEndpoint is a company's help-desk URL that receives signed events.
// Its signing secret is never stored: it is derived from the server secret
// and the endpoint's public id, so it can be shown to the company again
// while a copy of the database alone cannot forge signatures.
type WebhookEndpoint struct {
	ID        uint     `gorm:"primaryKey"`
	PublicID  string   `gorm:"size:32;not null;uniqueIndex"`
	CompanyID uint     `gorm:"not null;index"`
	Company   *Company `gorm:"constraint:OnDelete:CASCADE"`
	URL       string   `gorm:"size:500;not null"`
	CreatedAt time.Time
}

// WebhookDelivery is one event for one endpoint and its delivery job:
// retried with exponential backoff (30 s … 2 h) up to 10 attempts.
type WebhookDelivery struct {
	ID          uint             `gorm:"primaryKey"`
	EndpointID  uint             `gorm:"not null;index"`
	Endpoint    *WebhookEndpoint `gorm:"constraint:OnDelete:CASCADE"`
	CompanyID   uint             `gorm:"not null;index"`
	EventID     string           `gorm:"size:40;not null;index"`
	EventType   string           `gorm:"size:40;not null"`
	Payload     string           `gorm:"type:text;not null"`
	Status      string           `gorm:"size:12;not null;default:queued;index"`
	Attempts    int              `gorm:"not null;default:0"`
	NextAttempt time.Time        `gorm:"index"`
	LockedUntil *time.Time
	LockedBy    string `gorm:"size:40;not null;default:''"` // the worker (Store.Owner) holding the lease
	LastStatus  int    `gorm:"not null;default:0"`
	LastError   string `gorm:"size:500;not null;default:''"`
	DeliveredAt *time.Time
	CreatedAt   time.Time
}

// HookSecret is the endpoint's signing secret ("whsec_…").
func (s *Store) HookSecret(e *WebhookEndpoint) string {
	return "whsec_" + s.keyedHash("hook-secret", e.PublicID)[:48]
}

// SignHook signs a delivery the way receivers verify it:
// hex(HMAC-SHA256(secret, timestamp + "." + body)).
func SignHook(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// AddWebhookEndpoint registers a help-desk URL for a company (admins only).
// allowHTTP permits plain http (development and tests).
func (s *Store) AddWebhookEndpoint(ctx context.Context, companyID, adminID uint, rawURL string, allowHTTP bool) (*WebhookEndpoint, error) {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return nil, err
	}
	rawURL = strings.TrimSpace(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || u.User != nil || len(rawURL) > 500 || !(u.Scheme == "https" || (allowHTTP && u.Scheme == "http")) {
		return nil, ValidationErrors{"url": MsgHookURL}
	}
	e := WebhookEndpoint{PublicID: "we_" + newPublicID(), CompanyID: companyID, URL: rawURL}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&WebhookEndpoint{}).Where("company_id = ?", companyID).Count(&n).Error; err != nil {
			return err
		}
		if n >= hookMaxEndpoints {
			return ValidationErrors{"url": MsgHookTooMany}
		}
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
		return audit(tx, UserActor(adminID), "webhook.endpoint_added", "company", &companyID, map[string]any{"url": rawURL})
	})
	return &e, err
}

// WebhookEndpoints lists a company's endpoints.
func (s *Store) WebhookEndpoints(ctx context.Context, companyID uint) ([]WebhookEndpoint, error) {
	var es []WebhookEndpoint
	err := s.db.WithContext(ctx).Where("company_id = ?", companyID).Order("id").Find(&es).Error
	return es, err
}

// DeleteWebhookEndpoint removes an endpoint of the company (another
// company's endpoint is ErrNotFound).
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, companyID, adminID uint, publicID string) error {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var e WebhookEndpoint
		if err := tx.Where("public_id = ? AND company_id = ?", publicID, companyID).First(&e).Error; err != nil {
			return notFound(err)
		}
		if err := tx.Where("endpoint_id = ?", e.ID).Delete(&WebhookDelivery{}).Error; err != nil {
			return err
		}
		return tx.Delete(&e).Error
	})
}

// SendTestHook queues a test.ping to one endpoint of the company.
func (s *Store) SendTestHook(ctx context.Context, companyID uint, publicID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var e WebhookEndpoint
		if err := tx.Where("public_id = ? AND company_id = ?", publicID, companyID).First(&e).Error; err != nil {
			return notFound(err)
		}
		return s.queueHook(tx, e, HookTestPing, map[string]any{"message": "Hallo von Trostpflaster"})
	})
}

// emitHook queues an event for every endpoint of the company, inside the
// transaction of the change it reports (so an event is sent if and only if
// the change happened).
func (s *Store) emitHook(tx *gorm.DB, companyID uint, eventType string, data map[string]any) error {
	// Only the ids: a delivery needs no more of its endpoint, and most
	// companies have none (one plain statement in every redemption).
	rows, err := rawQuery(tx, "SELECT id FROM webhook_endpoints WHERE company_id = ?", companyID)
	if err != nil {
		return err
	}
	var ids []uint
	for rows.Next() {
		var id uint
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.queueHook(tx, WebhookEndpoint{ID: id, CompanyID: companyID}, eventType, data); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) queueHook(tx *gorm.DB, e WebhookEndpoint, eventType string, data map[string]any) error {
	d, err := s.newHookDelivery(e, eventType, data)
	if err != nil {
		return err
	}
	return tx.Create(&d).Error
}

// newHookDelivery is one event for one endpoint, due now (not yet written).
func (s *Store) newHookDelivery(e WebhookEndpoint, eventType string, data map[string]any) (WebhookDelivery, error) {
	now := s.Now()
	id := "evt_" + newPublicID()
	body, err := json.Marshal(map[string]any{"id": id, "type": eventType, "created": now.Unix(), "data": data})
	if err != nil {
		return WebhookDelivery{}, err
	}
	return WebhookDelivery{EndpointID: e.ID, CompanyID: e.CompanyID, EventID: id, EventType: eventType,
		Payload: string(body), Status: HookDeliveryQueued, NextAttempt: now}, nil
}

// giftHookData is what every gift event carries: ids, amounts and the
// company's ticket reference (never the recipient's address).
func giftHookData(g *Gift) map[string]any {
	return map[string]any{"gift_id": g.PublicID, "status": g.Status, "amount_cents": g.AmountCents,
		"balance_cents": g.BalanceCents, "currency": g.Currency, "reference": g.Reference, "merchant_id": g.MerchantID}
}

// HookJob is a claimed delivery with what the worker needs to send it.
type HookJob struct {
	Delivery WebhookDelivery
	URL      string
	Secret   string
}

// ClaimHookDeliveries leases due deliveries to this worker (see claimDue:
// FOR UPDATE SKIP LOCKED on PostgreSQL), so two instances never send the
// same one at once.
func (s *Store) ClaimHookDeliveries(ctx context.Context, limit int, lease time.Duration) ([]HookJob, error) {
	var due []WebhookDelivery
	if err := s.claimDue(ctx, &WebhookDelivery{}, HookDeliveryQueued, limit, lease, &due, "Endpoint"); err != nil {
		return nil, err
	}
	out := make([]HookJob, 0, len(due))
	for _, d := range due {
		if d.Endpoint != nil {
			out = append(out, HookJob{Delivery: d, URL: d.Endpoint.URL, Secret: s.HookSecret(d.Endpoint)})
		}
	}
	return out, nil
}

// ReleaseHookDeliveries hands claimed but unsent deliveries back to the
// queue at once (a worker shutting down).
func (s *Store) ReleaseHookDeliveries(ctx context.Context, ids []uint) error {
	return s.releaseJobs(ctx, &WebhookDelivery{}, HookDeliveryQueued, ids)
}

// HookDelivered records a 2xx answer.
func (s *Store) HookDelivered(ctx context.Context, id uint, status int) error {
	now := s.Now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Model(&WebhookDelivery{}).Where("id = ?", id).Updates(map[string]any{
			"status": HookDeliveryDone, "delivered_at": now, "locked_until": nil, "locked_by": "", "last_status": status,
			"attempts": gorm.Expr("attempts + 1"), "last_error": ""}).Error
	})
}

// HookFailed records a failed attempt and schedules the next one (30 s, 1 min,
// 2 min, … capped at 2 h), or gives up after 10 attempts.
func (s *Store) HookFailed(ctx context.Context, d WebhookDelivery, status int, cause string) error {
	attempts := d.Attempts + 1
	if len(cause) > 500 {
		cause = cause[:500]
	}
	upd := map[string]any{"attempts": attempts, "last_error": cause, "last_status": status, "locked_until": nil, "locked_by": ""}
	if attempts >= hookMaxAttempts {
		upd["status"] = HookDeliveryFailed
	} else {
		backoff := 30 * time.Second << (attempts - 1)
		if backoff > 2*time.Hour {
			backoff = 2 * time.Hour
		}
		upd["next_attempt"] = s.Now().Add(backoff)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Model(&WebhookDelivery{}).Where("id = ?", d.ID).Updates(upd).Error
	})
}

// HookDeliveries is the company's delivery log, newest first.
func (s *Store) HookDeliveries(ctx context.Context, companyID uint, limit int) ([]WebhookDelivery, error) {
	var ds []WebhookDelivery
	err := s.db.WithContext(ctx).Preload("Endpoint").Where("company_id = ?", companyID).Order("id DESC").Limit(limit).Find(&ds).Error
	return ds, err
}

// HookQueueDepth counts outgoing webhook deliveries waiting (queued,
// including retries) and given up (failed), for monitoring.
func (s *Store) HookQueueDepth(ctx context.Context) (queued, failed int64, err error) {
	return s.queueDepth(ctx, &WebhookDelivery{}, HookDeliveryQueued, HookDeliveryFailed)
}
