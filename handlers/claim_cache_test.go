package handlers

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"trostpflaster/models"
)

func TestTokenSafe(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"Abc-_z09", true}, {"123e4567-e89b-12d3-a456-426614174000", true},
		{"", false}, {"a+b", false}, {"a b", false}, {"ä", false}, {`a"`, false}, {"a&b", false}, {strings.Repeat("a", 129), false},
	} {
		if tokenSafe(c.s) != c.ok {
			t.Errorf("tokenSafe(%q) = %v", c.s, !c.ok)
		}
	}
}

// The cache cuts a page at the sentinel, serves it only at the same
// version and within its age, and evicts the least recently used pages to
// stay within its bound.
func TestClaimPageCacheLRU(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	q := newClaimPageCache(4 * (1000 + 8 + 2*24 + claimEntryOverhead)) // four pages of two parts
	q.now = func() time.Time { return now }
	page := func(n byte) []byte {
		b := bytes.Repeat([]byte{'a' + n}, 500)
		b = append(b, q.sentinel...)
		return append(b, bytes.Repeat([]byte{'A' + n}, 500)...)
	}
	v := func(id uint) models.ClaimPageVersion { return models.ClaimPageVersion{GiftID: id} }
	key := func(n byte) claimKey { return claimKey{token: "token-" + string('a'+n) + "x", lang: "de"} }

	parts := q.put(key(0), v(1), page(0))
	if len(parts) != 2 || len(parts[0]) != 500 || len(parts[1]) != 500 {
		t.Fatalf("parts %d", len(parts))
	}
	if _, ok := q.get(key(0), v(2)); ok {
		t.Fatal("served at another version")
	}
	if got, ok := q.get(key(0), v(1)); !ok || !bytes.Equal(got[0], parts[0]) {
		t.Fatal("not served at its version")
	}
	if _, ok := q.get(claimKey{token: key(0).token, lang: "en"}, v(1)); ok {
		t.Fatal("served for another language")
	}
	if _, ok := q.get(claimKey{token: key(0).token, lang: "de", print: true}, v(1)); ok {
		t.Fatal("served as the print view")
	}
	for n := byte(1); n < 4; n++ {
		q.put(key(n), v(1), page(n))
	}
	q.get(key(0), v(1)) // key 1 is now the least recently used
	q.put(key(4), v(1), page(4))
	st := q.stats()
	if st.Entries != 4 || st.Evictions != 1 || st.Bytes > st.Max {
		t.Fatalf("after eviction: %+v", st)
	}
	if _, ok := q.get(key(1), v(1)); ok {
		t.Fatal("the least recently used page was kept")
	}
	if _, ok := q.get(key(0), v(1)); !ok {
		t.Fatal("a recently used page was evicted")
	}
	// A new version replaces the page in place.
	q.put(key(0), v(2), page(0))
	if st := q.stats(); st.Entries != 4 || st.Bytes > st.Max {
		t.Fatalf("after replacing: %+v", st)
	}
	now = now.Add(claimPageMaxAge)
	if _, ok := q.get(key(0), v(2)); ok {
		t.Fatal("served past its age")
	}
	// A page larger than a quarter of the bound is not kept.
	big := append(bytes.Repeat([]byte{'x'}, 4000), q.sentinel...)
	if parts := q.put(key(5), v(1), big); len(parts) != 2 {
		t.Fatal("big page not cut")
	}
	if _, ok := q.get(key(5), v(1)); ok {
		t.Fatal("big page kept")
	}
}
