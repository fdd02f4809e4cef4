package app

import (
	"context"
	"errors"
	"time"

	"trostpflaster/models"
)

// RunWorker delivers queued mails and webhooks, settles hourly and sweeps
// expired state until ctx ends. Every instance may run it: mails and
// deliveries are claimed with a lease (FOR UPDATE SKIP LOCKED on
// PostgreSQL), so each is sent by one worker at a time, and settlement and
// the gift lifecycle take a named lease, so one instance runs each.
func (a *App) RunWorker(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	bulkDone := make(chan struct{}) // bulk batches have their own loop (app/bulk.go)
	go func() { defer close(bulkDone); a.runBulkLoop(ctx) }()
	defer func() { <-bulkDone }()
	trimDone := make(chan struct{}) // the C heap SQLite allocates from (memory_glibc.go)
	go func() { defer close(trimDone); trimLoop(ctx) }()
	defer func() { <-trimDone }()
	lastSweep := time.Time{}
	lastSettle := time.Now() // first run an hour after start, then hourly
	for {
		a.DeliverMails(ctx)
		a.DeliverHooks(ctx)
		if a.Transfers != nil && time.Since(lastSettle) > time.Hour {
			if r, err := a.Settle(ctx); errors.Is(err, ErrSettlementRunning) {
				a.Log.Info("settlement skipped: another instance is running it")
			} else if err != nil {
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
// When ctx ends (shutdown) the mail being sent is finished and recorded —
// never sent but left queued, which would send it twice — and the rest of
// the claimed batch is released for another instance to send at once.
func (a *App) DeliverMails(ctx context.Context) int {
	sent := 0
	for ctx.Err() == nil {
		mails, err := a.Store.ClaimMails(ctx, 20, jobLease)
		if err != nil {
			if ctx.Err() == nil {
				a.Log.Warn("claiming mails failed", "err", err)
			}
			return sent
		}
		if len(mails) == 0 {
			return sent
		}
		for i, m := range mails {
			if ctx.Err() != nil {
				a.releaseMails(mails[i:])
				return sent
			}
			bg := context.WithoutCancel(ctx)
			sctx, cancel := context.WithTimeout(bg, 30*time.Second)
			err := a.Mailer.Send(sctx, m)
			cancel()
			if err != nil {
				a.Log.Warn("mail delivery failed", "mail_id", m.ID, "attempt", m.Attempts+1, "err", err)
				a.Metrics.MailFailed()
				if ferr := a.Store.MailFailed(bg, m, err, !a.keepMailBodies); ferr != nil {
					a.Log.Error("recording mail failure", "err", ferr)
				}
				continue
			}
			if err := a.Store.MailDelivered(bg, m.ID, !a.keepMailBodies); err != nil {
				a.Log.Error("recording mail delivery", "err", err)
			}
			sent++
		}
	}
	return sent
}

// jobLease is how long a claimed mail or webhook delivery stays with its
// worker; a worker that died gives it up this long after claiming.
const jobLease = 2 * time.Minute

func (a *App) releaseMails(ms []models.Mail) {
	ids := make([]uint, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Store.ReleaseMails(ctx, ids); err != nil {
		a.Log.Warn("releasing claimed mails", "err", err)
	}
}

// RunLifecycle expires gifts past their date (balance back to the company),
// sends expiry reminders and erases recipients' data after the retention
// period; see models.Store.RunLifecycle. One instance at a time runs it (the
// "lifecycle" lease); the others skip that round.
func (a *App) RunLifecycle(ctx context.Context) models.LifecycleResult {
	holder := models.NewLeaseHolder()
	ok, err := a.Store.AcquireLease(ctx, leaseLifecycle, holder, 10*time.Minute)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			a.Log.Warn("gift lifecycle lease", "err", err)
			a.Metrics.JobRunFailed("lifecycle")
		}
		return models.LifecycleResult{}
	}
	defer a.releaseLease(leaseLifecycle, holder)
	r, err := a.Store.RunLifecycle(ctx, a.Cfg.RetentionDays)
	if err != nil && ctx.Err() == nil {
		a.Log.Warn("gift lifecycle job failed", "err", err)
		a.Metrics.JobRunFailed("lifecycle")
	}
	if r != (models.LifecycleResult{}) {
		a.Log.Info("gift lifecycle", "expired", r.Expired, "reminded", r.Reminded, "pseudonymised", r.Pseudonymised, "mails_erased", r.MailsErased)
	}
	return r
}

// Names of the periodic jobs' leases (models.JobLease).
const (
	leaseLifecycle  = "lifecycle"
	leaseSettlement = "settlement"
)

func (a *App) releaseLease(name, holder string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Store.ReleaseLease(ctx, name, holder); err != nil {
		a.Log.Warn("releasing job lease", "lease", name, "err", err)
	}
}

// trimLoop gives the C heap's free memory back every second.
func trimLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			trimCHeap()
		}
	}
}
