package app

import (
	"context"
	"time"
)

// RunBulk writes the gifts of every bulk batch that is waiting (see
// models.Store.RunBulkBatches) and returns how many batches it finished.
func (a *App) RunBulk(ctx context.Context) int {
	n, err := a.Store.RunBulkBatches(ctx)
	if err != nil && ctx.Err() == nil {
		a.Log.Warn("bulk batches failed", "err", err)
	}
	if n > 0 {
		a.Log.Info("bulk batches sent", "batches", n)
	}
	return n
}

// runBulkLoop looks for bulk batches every second, in its own goroutine so
// that a long mail queue never delays a batch (and a batch never delays
// mails).
func (a *App) runBulkLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		a.RunBulk(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
