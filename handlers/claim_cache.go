package handlers

import (
	"bytes"
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"trostpflaster/models"
)

// DefaultClaimPageCacheBytes bounds the rendered claim pages kept in memory
// (a claimed voucher's page is about 10 KB, most of it the QR code).
const DefaultClaimPageCacheBytes = 8 << 20

// claimPageMaxAge bounds how long one rendered page is served at most, even
// when its version never changes (a safety net; every write that changes
// what the page shows changes the version, models.ClaimPageVersion).
const claimPageMaxAge = 10 * time.Minute

// claimEntryOverhead is what an entry costs beyond its bytes (map slot,
// list element, slice headers), counted against the bound.
const claimEntryOverhead = 256

// claimKey is everything besides the gift's version that a claimed
// voucher's page depends on: the link (it appears in the page), the
// language and the print view. The cache is used only when nothing else
// varies (ClaimPage: no session, no flash message, no other query).
type claimKey struct {
	token string
	lang  string
	print bool
}

type claimEntry struct {
	key     claimKey
	version models.ClaimPageVersion
	// parts is the page cut at the CSRF sentinel: the visitor's token goes
	// between each two parts.
	parts  [][]byte
	size   int
	stored time.Time
}

// claimPageCache keeps rendered claimed-voucher pages, least recently used
// out first, bounded by bytes. A page is rendered with a random sentinel
// instead of the visitor's CSRF token and stored cut at it; each visitor's
// own token is put back in when it is served, so no visitor ever gets
// another's token. An entry is served only while the gift's version read
// on this request equals the one it was rendered at.
type claimPageCache struct {
	sentinel []byte
	max      int
	now      func() time.Time

	mu      sync.Mutex
	size    int
	entries map[claimKey]*list.Element
	lru     list.List // front: most recently used

	hits, misses, evictions atomic.Int64
}

// ClaimPageCacheStats reports the claim page cache (tests, diagnostics).
type ClaimPageCacheStats struct {
	Hits, Misses, Evictions int64
	Entries, Bytes, Max     int
}

func newClaimPageCache(max int) *claimPageCache {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return &claimPageCache{sentinel: []byte("csrf-sentinel-" + hex.EncodeToString(b)), max: max, now: time.Now,
		entries: map[claimKey]*list.Element{}}
}

// enabled is false when the bound is 0 (the cache is switched off).
func (q *claimPageCache) enabled() bool { return q.max > 0 }

// get returns the page stored for key if it was rendered at version v.
func (q *claimPageCache) get(key claimKey, v models.ClaimPageVersion) ([][]byte, bool) {
	q.mu.Lock()
	el, ok := q.entries[key]
	if ok {
		e := el.Value.(*claimEntry)
		if e.version == v && q.now().Sub(e.stored) < claimPageMaxAge {
			q.lru.MoveToFront(el)
			parts := e.parts
			q.mu.Unlock()
			q.hits.Add(1)
			return parts, true
		}
	}
	q.mu.Unlock()
	q.misses.Add(1)
	return nil, false
}

// put stores page (rendered with the sentinel as CSRF token) for key at
// version v and returns it cut at the sentinel. key.token must not alias
// request memory.
func (q *claimPageCache) put(key claimKey, v models.ClaimPageVersion, page []byte) [][]byte {
	parts := bytes.Split(page, q.sentinel)
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	size := n + len(key.token) + len(parts)*24 + claimEntryOverhead
	if size > q.max/4 {
		return parts // one page must not push out most others
	}
	// The kept copy is exactly as large as counted (the render buffer has
	// grown by doubling).
	buf := make([]byte, 0, n)
	for i, p := range parts {
		start := len(buf)
		buf = append(buf, p...)
		parts[i] = buf[start:len(buf):len(buf)]
	}
	e := &claimEntry{key: key, version: v, parts: parts, size: size, stored: q.now()}
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.entries[key]; ok {
		q.remove(old)
	}
	q.entries[key] = q.lru.PushFront(e)
	q.size += size
	for q.size > q.max {
		q.remove(q.lru.Back())
		q.evictions.Add(1)
	}
	return parts
}

func (q *claimPageCache) remove(el *list.Element) {
	e := q.lru.Remove(el).(*claimEntry)
	delete(q.entries, e.key)
	q.size -= e.size
}

func (q *claimPageCache) stats() ClaimPageCacheStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return ClaimPageCacheStats{Hits: q.hits.Load(), Misses: q.misses.Load(), Evictions: q.evictions.Load(),
		Entries: len(q.entries), Bytes: q.size, Max: q.max}
}

// ClaimPageCacheStats reports the claim page cache's use.
func (h *Handlers) ClaimPageCacheStats() ClaimPageCacheStats { return h.claims.stats() }

// tokenChars are the bytes of base64url (and of UUIDs).
var tokenChars = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// tokenSafe reports whether s is written into HTML attributes unchanged
// (the CSRF tokens are base64url or, from before, UUIDs), so putting it
// between the cached parts gives exactly what the template would have.
func tokenSafe(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}
