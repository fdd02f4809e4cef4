package models_test

import (
	"testing"

	"trostpflaster/models"
)

func TestParseEuros(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"10": 1000, "12,50": 1250, "12.5": 1250, "25 €": 2500, "€ 7": 700, "0,99": 99} {
		if got, ok := models.ParseEuros(in); !ok || got != want {
			t.Errorf("ParseEuros(%q) = %d, %v; want %d", in, got, ok, want)
		}
		if got, _ := models.ParseEuros(models.FormatEuros(want)); got != want {
			t.Errorf("FormatEuros(%d) does not round-trip", want)
		}
	}
	for _, in := range []string{"", "abc", "-5", "+5", "1,234", "1.2.3", "10,", "1e3", "99999999999"} {
		if got, ok := models.ParseEuros(in); ok {
			t.Errorf("ParseEuros(%q) = %d, want rejected", in, got)
		}
	}
}
