package models

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// Group commit on SQLite. SQLite has one writer at a time and each COMMIT
// waits for an fsync (synchronous=FULL), so one transaction per caller caps
// the process at one fsync per write. Instead, Store.tx queues the caller's
// function and a writer goroutine runs everything queued at that moment (up
// to maxWriteBatch) in ONE database transaction, each function in a
// savepoint of its own: a function's error rolls back only its savepoint,
// its neighbours' changes stay. After the single COMMIT every caller gets
// its answer, so a caller still hears of success only once its changes are
// durable; if the COMMIT fails, every caller of the batch gets an error
// (the COMMIT's, or its function's own if it failed anyway).
//
// Functions run with their caller's context values but without its
// cancellation (context.WithoutCancel): mattn/go-sqlite3 interrupts a
// statement whose context ends, and SQLite then rolls back the whole
// transaction, so one impatient client would fail its neighbours. A caller
// whose context ends, or whose wait exceeds writerWait, before its function
// started gets its context's error or ErrWriterBusy and its function never
// runs; once started, the caller waits for the outcome.
//
// Functions must not call Store.tx themselves (that waits for the batch it
// is part of, ErrWriterBusy after writerWait, as it did with one
// transaction at a time), and reads through s.db inside them do not see the
// uncommitted writes of the batch, theirs or their neighbours': read
// through tx.

// maxWriteBatch bounds the functions in one transaction, so a long queue
// still commits (and answers) regularly.
const maxWriteBatch = 64

// writeSavepoint is the savepoint around each queued function. Savepoints
// are released after each function, so one name serves all.
const writeSavepoint = "tp_write"

// Request states: queued until the writer takes it (running) or the caller
// gives up waiting (abandoned); exactly one of the two wins.
const (
	writeQueued int32 = iota
	writeRunning
	writeAbandoned
)

// writeQueue is the SQLite write queue of a Store.
type writeQueue struct {
	mu      sync.Mutex
	pending []*writeReq
	running bool // a writer goroutine is draining pending
}

// writeReq is one caller's function waiting in the queue.
type writeReq struct {
	ctx   context.Context
	fn    func(tx *gorm.DB) error
	state atomic.Int32
	done  chan writeResult // buffered: the writer never blocks on it
}

// writeResult is a function's outcome: its error (or the transaction's),
// or the value it panicked with, re-raised in the caller's goroutine.
type writeResult struct {
	err      error
	panicked bool
	panicVal any
}

// queuedTx queues fn and waits for its committed outcome.
func (s *Store) queuedTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	q := s.writes
	q.mu.Lock()
	q.pending = append(q.pending, r)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go s.drainWrites()
	}
	t := time.NewTimer(writerWait)
	defer t.Stop()
	var res writeResult
	select {
	case res = <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(writeQueued, writeAbandoned) {
			return ctx.Err()
		}
		res = <-r.done
	case <-t.C:
		if r.state.CompareAndSwap(writeQueued, writeAbandoned) {
			return ErrWriterBusy
		}
		res = <-r.done
	}
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

// drainWrites runs batches until the queue is empty.
func (s *Store) drainWrites() {
	q := s.writes
	for {
		q.mu.Lock()
		n := min(len(q.pending), maxWriteBatch)
		if n == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		if len(q.pending) == 0 {
			q.pending = nil
		}
		q.mu.Unlock()
		for len(batch) > 0 {
			batch = s.writeBatch(batch)
		}
	}
}

// writeBatch runs the batch's functions in one transaction and answers
// their callers. If a function's failure rolled back the whole transaction
// (SQLite does that on I/O errors, a full disk or an interrupt; the
// savepoint is then gone), its callers so far get the error and the rest of
// the batch is returned, for a fresh transaction.
func (s *Store) writeBatch(batch []*writeReq) []*writeReq {
	outer := s.db.WithContext(context.Background()).Begin()
	if err := outer.Error; err != nil {
		for _, r := range batch {
			if r.state.CompareAndSwap(writeQueued, writeRunning) {
				r.done <- writeResult{err: err}
			}
		}
		return nil
	}
	ran := make([]*writeReq, 0, len(batch))
	results := make([]writeResult, 0, len(batch))
	for i, r := range batch {
		if !r.state.CompareAndSwap(writeQueued, writeRunning) {
			continue // the caller stopped waiting
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- writeResult{err: err}
			continue
		}
		res, lost := runInSavepoint(outer.WithContext(context.WithoutCancel(r.ctx)), r.fn)
		ran, results = append(ran, r), append(results, res)
		if lost != nil {
			outer.Rollback() // gone already; this frees the connection
			answer(ran, results, fmt.Errorf("write transaction rolled back: %w", lost))
			return batch[i+1:]
		}
	}
	answer(ran, results, outer.Commit().Error)
	return nil
}

// answer tells the callers of a finished transaction their outcome: their
// function's error or panic if it had one (its savepoint was rolled back,
// so the transaction's fate does not change it), else the transaction's
// error (nil once committed).
func answer(ran []*writeReq, results []writeResult, txErr error) {
	for j, r := range ran {
		if results[j].err != nil || results[j].panicked {
			r.done <- results[j]
		} else {
			r.done <- writeResult{err: txErr}
		}
	}
}

// runInSavepoint runs fn inside a savepoint of tx, keeping its changes only
// if it returns nil. lost reports that the transaction itself is gone (the
// savepoint could not be released or rolled back to), with the reason.
func runInSavepoint(tx *gorm.DB, fn func(tx *gorm.DB) error) (res writeResult, lost error) {
	if err := tx.Exec("SAVEPOINT " + writeSavepoint).Error; err != nil {
		return writeResult{err: err}, err
	}
	func() {
		defer func() {
			if v := recover(); v != nil {
				res = writeResult{panicked: true, panicVal: v}
			}
		}()
		res.err = fn(tx)
	}()
	if res.err != nil || res.panicked {
		if err := tx.Exec("ROLLBACK TO SAVEPOINT " + writeSavepoint).Error; err != nil {
			if res.err == nil {
				res.err = err
			}
			return res, err
		}
	}
	if err := tx.Exec("RELEASE SAVEPOINT " + writeSavepoint).Error; err != nil {
		if res.err == nil && !res.panicked {
			res.err = err
		}
		return res, err
	}
	return res, nil
}
