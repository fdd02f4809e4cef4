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

func TestSortPreferredFirst(t *testing.T) {
	t.Parallel()
	hit := func(id uint) CatalogHit { return CatalogHit{Merchant: &Merchant{ID: id}} }
	hits := []CatalogHit{hit(1), hit(2), hit(3), hit(4)}
	// 9 is preferred but not in the hits (paused, suspended): left out.
	got, marked := SortPreferredFirst(hits, []PreferredPartner{{MerchantID: 3}, {MerchantID: 9}, {MerchantID: 1}})
	ids := []uint{}
	for _, h := range got {
		ids = append(ids, h.ID)
	}
	if len(ids) != 4 || ids[0] != 3 || ids[1] != 1 || ids[2] != 2 || ids[3] != 4 {
		t.Fatalf("order %v", ids)
	}
	if len(marked) != 2 || !marked[3] || !marked[1] || marked[9] {
		t.Fatalf("marked %v", marked)
	}
}

func TestReasonCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Kaputte Verpackung": "kaputte_verpackung", "Lieferverzug (Spedition)": "lieferverzug_spedition", "Größe falsch": "groesse_falsch"} {
		if got := reasonCode(in); got != want {
			t.Errorf("reasonCode(%q) = %q, want %q", in, got, want)
		}
	}
}
