package models

import (
	"container/list"
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// StmtPool is GORM's connection pool on SQLite (OpenDB): every data statement is
// prepared once on the *sql.DB and kept in a bounded LRU, so SQLite does not
// parse and plan it again. database/sql keeps one prepared copy per
// connection (and reuses it for the transactions on that connection through
// Tx.StmtContext), so a statement is prepared once per connection, not once
// per transaction as with GORM's own PrepareStmt, which prepares on the
// transaction on a cache miss and then re-prepares in every later one.
//
// Only SELECT, INSERT, UPDATE, DELETE, REPLACE and WITH are cached; DDL,
// PRAGMAs and the savepoints of nested transactions (whose names are random)
// run unprepared, as with a bare *sql.DB.
type StmtPool struct {
	db  *sql.DB
	max int

	mu        sync.Mutex
	lru       *list.List               // of *cachedStmt, most recently used first
	index     map[string]*list.Element // by query text
	preparing map[string]bool          // queries being prepared by prepareLater
}

// cachedStmt is one prepared statement. refs counts the callers between
// acquire and release; an evicted statement is closed when the last lets go
// (a running query keeps its statement alive on its own, database/sql
// tracks that dependency).
type cachedStmt struct {
	query   string
	stmt    *sql.Stmt
	refs    int
	evicted bool
}

var (
	_ gorm.ConnPool         = (*StmtPool)(nil)
	_ gorm.ConnPoolBeginner = (*StmtPool)(nil)
	_ gorm.GetDBConnector   = (*StmtPool)(nil)
	_ gorm.Tx               = (*stmtTx)(nil)
	_ gorm.GetDBConnector   = (*stmtTx)(nil)
)

// NewStmtPool wraps db with a cache of at most max prepared statements.
func NewStmtPool(db *sql.DB, max int) *StmtPool {
	return &StmtPool{db: db, max: max, lru: list.New(), index: map[string]*list.Element{}, preparing: map[string]bool{}}
}

// maxCachedSQL bounds the statements kept prepared: longer ones are the
// bulk send's multi-row INSERTs and long IN lists, each used once, and a
// prepared 500-row INSERT holds a large program in SQLite's C heap on every
// connection that ran it (make bench, peak RSS during bulk).
const maxCachedSQL = 4 << 10

// cacheable tells data statements (cached) from everything else.
func cacheable(query string) bool {
	if len(query) > maxCachedSQL {
		return false
	}
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:4]) {
	case "SELE", "INSE", "UPDA", "DELE", "REPL", "WITH":
		return true
	}
	return false
}

// acquire returns the prepared statement for query, preparing it on the
// pool on first use. The caller must release it.
func (p *StmtPool) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	if cs := p.get(query); cs != nil {
		return cs, nil
	}
	// Prepare outside the lock: it may wait for a connection.
	stmt, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return p.add(query, stmt), nil
}

// get returns the cached statement for query (to release) or nil.
func (p *StmtPool) get(query string) *cachedStmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	el, ok := p.index[query]
	if !ok {
		return nil
	}
	p.lru.MoveToFront(el)
	cs := el.Value.(*cachedStmt)
	cs.refs++
	return cs
}

// add caches a newly prepared statement and returns it acquired. Two
// callers racing on a new query both prepare; the loser closes its copy.
func (p *StmtPool) add(query string, stmt *sql.Stmt) *cachedStmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.preparing, query)
	if el, ok := p.index[query]; ok {
		stmt.Close()
		p.lru.MoveToFront(el)
		cs := el.Value.(*cachedStmt)
		cs.refs++
		return cs
	}
	cs := &cachedStmt{query: query, stmt: stmt, refs: 1}
	p.index[query] = p.lru.PushFront(cs)
	for p.lru.Len() > p.max {
		old := p.lru.Back()
		p.lru.Remove(old)
		ocs := old.Value.(*cachedStmt)
		delete(p.index, ocs.query)
		ocs.evicted = true
		if ocs.refs == 0 {
			ocs.stmt.Close()
		}
	}
	return cs
}

// prepareLater prepares query on the pool in the background, for a
// transaction that missed the cache. A transaction must not wait for a
// second connection (the pool may be exhausted by transactions waiting for
// the write lock), and a statement on a table the transaction has just
// created cannot be prepared outside it (that attempt fails and is retried
// on the next miss).
func (p *StmtPool) prepareLater(query string) {
	p.mu.Lock()
	if p.preparing[query] {
		p.mu.Unlock()
		return
	}
	p.preparing[query] = true
	p.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), prepareTimeout)
		defer cancel()
		stmt, err := p.db.PrepareContext(ctx, query)
		if err != nil {
			p.mu.Lock()
			delete(p.preparing, query)
			p.mu.Unlock()
			return
		}
		p.release(p.add(query, stmt))
	}()
}

// prepareTimeout bounds a background prepare (prepareLater).
const prepareTimeout = 10 * time.Second

func (p *StmtPool) release(cs *cachedStmt) {
	p.mu.Lock()
	cs.refs--
	closeIt := cs.evicted && cs.refs == 0
	p.mu.Unlock()
	if closeIt {
		cs.stmt.Close()
	}
}

// PrepareContext prepares on the pool, uncached (GORM does not call it).
func (p *StmtPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

// ExecContext runs query through its cached statement.
func (p *StmtPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !cacheable(query) {
		return p.db.ExecContext(ctx, query, args...)
	}
	cs, err := p.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	defer p.release(cs)
	return cs.stmt.ExecContext(ctx, args...)
}

// QueryContext runs query through its cached statement.
func (p *StmtPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !cacheable(query) {
		return p.db.QueryContext(ctx, query, args...)
	}
	cs, err := p.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	defer p.release(cs)
	return cs.stmt.QueryContext(ctx, args...)
}

// QueryRowContext runs query through its cached statement. A failed prepare
// is reported by the row's Scan, as database/sql does.
func (p *StmtPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if !cacheable(query) {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	cs, err := p.acquire(ctx, query)
	if err != nil {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	defer p.release(cs)
	return cs.stmt.QueryRowContext(ctx, args...)
}

// BeginTx starts a transaction whose statements use the cache.
func (p *StmtPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &stmtTx{Tx: tx, pool: p}, nil
}

// GetDBConn returns the underlying *sql.DB (gorm.DB.DB()).
func (p *StmtPool) GetDBConn() (*sql.DB, error) { return p.db, nil }

// Ping checks the database answers.
func (p *StmtPool) Ping() error { return p.db.Ping() }

// stmtTx is a transaction of a StmtPool: statements are the pool's cached
// ones, bound to the transaction's connection with Tx.StmtContext (which
// reuses the copy already prepared on that connection).
type stmtTx struct {
	*sql.Tx
	pool *StmtPool
}

// stmt returns the cached statement for query bound to the transaction
// (Tx.StmtContext) and its release, or nil when query is not cached (yet).
func (t *stmtTx) stmt(ctx context.Context, query string) (*sql.Stmt, func()) {
	if !cacheable(query) {
		return nil, nil
	}
	cs := t.pool.get(query)
	if cs == nil {
		t.pool.prepareLater(query)
		return nil, nil
	}
	return t.Tx.StmtContext(ctx, cs.stmt), func() { t.pool.release(cs) }
}

// ExecContext runs query in the transaction through its cached statement.
func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	stmt, release := t.stmt(ctx, query)
	if stmt == nil {
		return t.Tx.ExecContext(ctx, query, args...)
	}
	defer release()
	return stmt.ExecContext(ctx, args...)
}

// QueryContext runs query in the transaction through its cached statement.
func (t *stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	stmt, release := t.stmt(ctx, query)
	if stmt == nil {
		return t.Tx.QueryContext(ctx, query, args...)
	}
	defer release()
	return stmt.QueryContext(ctx, args...)
}

// QueryRowContext runs query in the transaction through its cached
// statement.
func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	stmt, release := t.stmt(ctx, query)
	if stmt == nil {
		return t.Tx.QueryRowContext(ctx, query, args...)
	}
	defer release()
	return stmt.QueryRowContext(ctx, args...)
}

// GetDBConn returns the pool's *sql.DB (gorm.DB.DB() inside a transaction).
func (t *stmtTx) GetDBConn() (*sql.DB, error) { return t.pool.db, nil }
