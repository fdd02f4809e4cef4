package models

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultCurrency is the currency of the first region and of bookings that
// name none. Money is int64 cents with a currency code throughout: amounts
// are read from text ("12,50", "12.50 €") without floating point, written
// as German decimals, and commissions round half up to whole cents
// (Commission, CommissionRule).
const DefaultCurrency = "EUR"

// ParseCents reads an amount typed as euros ("12", "12,50", "12.50 €",
// "1.000,50").
func ParseCents(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimSuffix(s, "€"), "€")
	s = strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "\u00a0", "")
	// "1.000,50" and "1,000.50": the first of two different separators groups thousands.
	if i, j := strings.IndexByte(s, '.'), strings.IndexByte(s, ','); i >= 0 && j >= 0 {
		s = strings.ReplaceAll(s, string(s[min(i, j)]), "")
	}
	if s == "" || len(s) > 12 {
		return 0, false
	}
	s = strings.Replace(s, ",", ".", 1)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if hasFrac && (len(frac) == 0 || len(frac) > 2) {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || f < 0 || strings.ContainsAny(whole+frac, "+-") {
		return 0, false
	}
	return w*100 + f, true
}

// ParseEuros reads an amount typed as euros ("12", "12,50", "12.50", "12 €")
// into cents.
func ParseEuros(s string) (int64, bool) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "€"))
	s = strings.TrimSpace(strings.TrimPrefix(s, "€"))
	if s == "" || len(s) > 10 {
		return 0, false
	}
	whole, frac, hasFrac := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if whole == "" || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return w*100 + f, true
}

// FormatEuros writes cents the way ParseEuros reads them ("25" or "12,50").
func FormatEuros(cents int64) string {
	if cents%100 == 0 {
		return strconv.FormatInt(cents/100, 10)
	}
	return strconv.FormatInt(cents/100, 10) + "," + strconv.FormatInt(cents%100/10, 10) + strconv.FormatInt(cents%10, 10)
}

// Euros formats cents as a German decimal ("-12,50").
func Euros(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d,%02d", sign, c/100, c%100)
}

// BasisPoints formats a commission rate ("5,00 %").
func BasisPoints(bp int64) string { return fmt.Sprintf("%d,%02d %%", bp/100, bp%100) }

// Commission is the platform's share of a redemption: amount × bp / 10 000,
// rounded half up, in integer arithmetic (5 % of 12,50 € = 62,5 ct → 63 ct).
func Commission(amountCents, bp int64) int64 { return (amountCents*bp + 5_000) / 10_000 }

// CommissionRule is the documented rounding rule, printed on statements.
const CommissionRule = "Provision je Einlösung = Betrag × Satz, kaufmännisch auf volle Cent gerundet (0,5 ct aufwärts)"
