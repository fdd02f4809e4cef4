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
