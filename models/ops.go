package models

import "context"

// MailQueueDepth counts mails waiting for delivery (queued, including those
// scheduled for a retry) and mails given up on (failed), for monitoring.
func (s *Store) MailQueueDepth(ctx context.Context) (queued, failed int64, err error) {
	var rows []struct {
		Status string
		N      int64
	}
	err = s.db.WithContext(ctx).Model(&Mail{}).Select("status, COUNT(*) AS n").
		Where("status IN ?", []string{MailQueued, MailFailed}).Group("status").Scan(&rows).Error
	for _, r := range rows {
		switch r.Status {
		case MailQueued:
			queued = r.N
		case MailFailed:
			failed = r.N
		}
	}
	return queued, failed, err
}

// HookQueueDepth counts outgoing webhook deliveries waiting (queued,
// including retries) and given up (failed), for monitoring.
func (s *Store) HookQueueDepth(ctx context.Context) (queued, failed int64, err error) {
	var rows []struct {
		Status string
		N      int64
	}
	err = s.db.WithContext(ctx).Model(&WebhookDelivery{}).Select("status, COUNT(*) AS n").
		Where("status IN ?", []string{HookDeliveryQueued, HookDeliveryFailed}).Group("status").Scan(&rows).Error
	for _, r := range rows {
		switch r.Status {
		case HookDeliveryQueued:
			queued = r.N
		case HookDeliveryFailed:
			failed = r.N
		}
	}
	return queued, failed, err
}
