package models

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Store is the domain's entry point: every operation is a method taking a
// context, so handlers and the CLI share the same rules and transactions.
type Store struct {
	db         *gorm.DB
	secret     []byte
	now        func() time.Time
	bcryptCost int
	// dummyHash makes log-in with an unknown e-mail cost as much as with a
	// known one, so response times do not reveal who has an account.
	dummyHash []byte
	// catIndex is the catalog's in-memory search index (catalog_index.go).
	catIndex *catalogIndex
	// writes queues this process's write transactions on SQLite (nil on
	// PostgreSQL) and commits them in groups (store_writequeue.go). SQLite has
	// one writer at a time; without the queue, concurrent BEGIN IMMEDIATEs
	// meet SQLITE_BUSY and sleep in the busy handler for milliseconds each,
	// and every transaction pays its own fsync (16 tills redeeming at once:
	// make bench).
	writes *writeQueue
	// owner marks the job leases this Store takes (jobs.go).
	owner string
	// macs holds HMAC-SHA256 states keyed with secret (keyedHash).
	macs sync.Pool
	// claimVersion is the claim page's version look-up (claim.go),
	// kvGet the read of KVGet.
	claimVersion, kvGet preparedStmt
	// mails composes every mail the store queues; nil: none (ports_mail.go).
	mails MailComposer
}

// writerWait bounds the wait for the write queue, like busy_timeout.
const writerWait = 15 * time.Second

// ErrWriterBusy is returned when a write transaction waited too long.
var ErrWriterBusy = errors.New("database busy: write transaction not started in time")

// StoreOptions configures a Store. Secret keys the hashes of tokens and API
// keys, so a copy of the database alone does not let anyone use them.
type StoreOptions struct {
	Secret     []byte
	Now        func() time.Time // defaults to time.Now
	BcryptCost int              // defaults to 12; tests use the minimum
	// Mails composes the mails the store queues (app/mail); nil queues none.
	Mails MailComposer
}

// NewStore builds a Store over an open database.
func NewStore(db *gorm.DB, opts StoreOptions) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = 12
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a password"), opts.BcryptCost)
	if err != nil {
		panic("bcrypt: " + err.Error()) // only with an invalid cost, a programming error
	}
	st := &Store{db: db, secret: opts.Secret, now: opts.Now, bcryptCost: opts.BcryptCost, dummyHash: dummy, mails: opts.Mails, catIndex: &catalogIndex{}, owner: newToken(15)}
	st.macs.New = func() any { return hmac.New(sha256.New, st.secret) }
	st.claimVersion.query, st.kvGet.query = claimPageVersionSQL, kvGetSQL
	if db.Dialector.Name() == "sqlite" {
		st.writes = &writeQueue{}
	}
	return st
}

// DB exposes the database for infrastructure code (migrations, health checks).
func (s *Store) DB() *gorm.DB { return s.db }

// Now is the store's clock (tests may move it).
func (s *Store) Now() time.Time { return s.now().UTC() }

// tx runs fn in a write transaction: on PostgreSQL its own, on SQLite one
// shared with the other writes queued at the same moment, fn in a savepoint
// of its own (see writeQueue). Either way fn's changes are kept only if it
// returns nil, and tx returns nil only once they are committed.
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.writes != nil {
		return s.queuedTx(ctx, fn)
	}
	return s.db.WithContext(ctx).Transaction(fn)
}

// lockRow adds FOR UPDATE on PostgreSQL (SQLite's write transactions are
// serialised by BEGIN IMMEDIATE already).
func lockRow(tx *gorm.DB) *gorm.DB {
	if tx.Dialector.Name() == "postgres" {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// newToken returns n random bytes, base64url encoded without padding.
func newToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// keyedHash is HMAC-SHA256(secret, purpose || value), hex encoded. Purpose
// separates domains so a session hash is never valid as a reset hash.
// Keyed HMACs are reused (macs): every claim-link request hashes its token.
func (s *Store) keyedHash(purpose, value string) string {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, purpose)
	m.Write([]byte{0})
	io.WriteString(m, value)
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0]))
	s.macs.Put(m)
	return out
}

// notFound turns GORM's record-not-found into ErrNotFound and passes other
// errors through.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrConflict
	}
	return err
}
