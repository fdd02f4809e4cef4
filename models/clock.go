package models

import (
	"strings"
	"time"
	_ "time/tzdata" // Europe/Berlin also on hosts without zoneinfo
)

// berlin is the domain's one time zone, Europe/Berlin: a calendar day or
// month means a German one everywhere (gift expiry, agents' monthly budgets
// and partners' monthly caps, the company report, the till's shift, DATEV
// dates, scheduled delivery typed into a form). The zone data is compiled
// in (time/tzdata), so hosts without zoneinfo agree.
var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.FixedZone("CET", 3600) // unreachable with time/tzdata
	}
	return loc
}()

// monthStart is the first instant of t's calendar month in Berlin.
func monthStart(t time.Time) time.Time {
	b := t.In(berlin)
	return time.Date(b.Year(), b.Month(), 1, 0, 0, 0, 0, berlin).UTC()
}

// ParseBerlinTime reads a local date and time as typed into a form
// ("2026-12-24T09:30", also with seconds or a space) in Europe/Berlin.
func ParseBerlinTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, berlin); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// InBerlin is t in Europe/Berlin, for display.
func InBerlin(t time.Time) time.Time { return t.In(berlin) }

// BerlinTime formats t as local Berlin time for a datetime-local field.
func BerlinTime(t time.Time) string { return t.In(berlin).Format("2006-01-02T15:04") }
