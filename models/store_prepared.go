package models

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// preparedStmt is one hot read prepared once per Store through
// database/sql, without GORM's statement building and reflection (the
// claim page's version look-up, the failed-look-up counters read on every
// claim link). database/sql re-prepares it on each pooled connection as
// needed. Queries are written with ? and numbered for PostgreSQL.
type preparedStmt struct {
	query string
	mu    sync.Mutex
	stmt  atomic.Pointer[sql.Stmt]
}

func (p *preparedStmt) get(ctx context.Context, s *Store) (*sql.Stmt, error) {
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	q := p.query
	if s.db.Dialector.Name() == "postgres" {
		q = numberParams(q)
	}
	st, err := sqlDB.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", p.query, err)
	}
	p.stmt.Store(st)
	return st, nil
}

// numberParams turns ? into $1, $2, … (the queries have no ? in literals).
func numberParams(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
