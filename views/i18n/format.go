package i18n

import (
	"fmt"
	"strings"
)

// FormatMoney renders cents in the language's convention: "12,50 €" in
// German, "€12.50" in English. It is the only place money becomes text.
func FormatMoney(lang string, cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign = "-"
		cents = -cents
	}
	units, rest := cents/100, cents%100
	sym := currency
	if currency == "EUR" || currency == "" {
		sym = "€"
	}
	group := func(n int64, sep string) string {
		s := fmt.Sprint(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + sep + s[i:]
		}
		return s
	}
	if lang == "en" {
		return fmt.Sprintf("%s%s%s.%02d", sign, sym, group(units, ","), rest)
	}
	return fmt.Sprintf("%s%s,%02d %s", sign, group(units, "."), rest, sym)
}

// Km formats a distance: "1,5 km" in German, "1.5 km" in English; "" for
// none.
func Km(lang string, d *float64) string {
	if d == nil {
		return ""
	}
	if lang == "de" {
		return strings.Replace(fmt.Sprintf("%.1f km", *d), ".", ",", 1)
	}
	return fmt.Sprintf("%.1f km", *d)
}
