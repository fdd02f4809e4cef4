package models

import (
	"testing"
	"time"
)

func TestParseBerlinTime(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"2026-07-01T10:00", "2026-07-01T08:00:00Z", true},    // summer time (CEST)
		{"2026-12-24T10:00", "2026-12-24T09:00:00Z", true},    // winter time (CET)
		{"2026-12-24T10:00:30", "2026-12-24T09:00:30Z", true}, // with seconds
		{" 2026-12-24 10:00 ", "2026-12-24T09:00:00Z", true},
		{"24.12.2026 10:00", "", false},
		{"", "", false},
	} {
		got, ok := ParseBerlinTime(c.in)
		if ok != c.ok || (ok && got.Format(time.RFC3339) != c.want) {
			t.Errorf("ParseBerlinTime(%q) = %v, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	at := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	if s := BerlinTime(at); s != "2026-07-01T10:00" {
		t.Errorf("BerlinTime = %s", s)
	}
}
