package app

import (
	"context"
	"time"

	"trostpflaster/models"
)

// RunWorker delivers queued mails and sweeps expired state until ctx ends.
// Every instance may run it: mails are claimed with a lease, so each is sent
// by one worker at a time.
func (a *App) RunWorker(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	bulkDone := make(chan struct{}) // bulk batches have their own loop (app/bulk.go)
	go func() { defer close(bulkDone); a.runBulkLoop(ctx) }()
	defer func() { <-bulkDone }()
	lastSweep := time.Time{}
	lastSettle := time.Now() // first run an hour after start, then hourly
	for {
		a.DeliverMails(ctx)
		a.DeliverHooks(ctx)
		if a.Transfers != nil && time.Since(lastSettle) > time.Hour {
			if r, err := a.Settle(ctx); err != nil {
				a.Log.Warn("settlement run failed", "err", err)
			} else if r.Paid+r.Failed > 0 {
				a.Log.Info("settlement run", "paid", r.Paid, "paid_cents", r.PaidCents, "failed", r.Failed)
			}
			lastSettle = time.Now()
		}
		if time.Since(lastSweep) > time.Minute {
			a.RunLifecycle(ctx)
			if ok, failed, err := a.RetryStripeEvents(ctx, false); err != nil && ctx.Err() == nil {
				a.Log.Warn("stripe event retry failed", "err", err)
			} else if ok+failed > 0 {
				a.Log.Info("stripe events retried", "applied", ok, "failed", failed)
			}
			if err := a.Store.KVSweep(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("kv sweep failed", "err", err)
			}
			lastSweep = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// DeliverMails sends every due mail once; failures are retried with backoff.
func (a *App) DeliverMails(ctx context.Context) int {
	sent := 0
	for ctx.Err() == nil {
		mails, err := a.Store.ClaimMails(ctx, 20, 2*time.Minute)
		if err != nil {
			if ctx.Err() == nil {
				a.Log.Warn("claiming mails failed", "err", err)
			}
			return sent
		}
		if len(mails) == 0 {
			return sent
		}
		for _, m := range mails {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := a.Mailer.Send(sctx, m)
			cancel()
			if err != nil {
				a.Log.Warn("mail delivery failed", "mail_id", m.ID, "attempt", m.Attempts+1, "err", err)
				a.Metrics.MailFailed()
				if ferr := a.Store.MailFailed(ctx, m, err); ferr != nil {
					a.Log.Error("recording mail failure", "err", ferr)
				}
				continue
			}
			if err := a.Store.MailDelivered(ctx, m.ID); err != nil {
				a.Log.Error("recording mail delivery", "err", err)
			}
			sent++
		}
	}
	return sent
}

// RunLifecycle expires gifts past their date (balance back to the company),
// sends expiry reminders and erases recipients' data after the retention
// period; see models.Store.RunLifecycle.
func (a *App) RunLifecycle(ctx context.Context) models.LifecycleResult {
	r, err := a.Store.RunLifecycle(ctx, a.Cfg.RetentionDays, a.h.ComposeExpiryReminder)
	if err != nil && ctx.Err() == nil {
		a.Log.Warn("gift lifecycle job failed", "err", err)
	}
	if r != (models.LifecycleResult{}) {
		a.Log.Info("gift lifecycle", "expired", r.Expired, "reminded", r.Reminded, "pseudonymised", r.Pseudonymised)
	}
	return r
}
