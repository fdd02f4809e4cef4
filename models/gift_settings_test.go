package models

import (
	"testing"
)

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
