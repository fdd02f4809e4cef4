package models_test

import (
	"testing"
	"time"

	"trostpflaster/models"
)

// A till shift is the same person, the same day in Berlin and at most 12
// hours; API keys have 90 days; the operator's CLI is not limited.
func TestReversalAllowed(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	alice, bob := uint(1), uint(2)
	key := uint(7)
	till := func(created string) *models.Redemption {
		return &models.Redemption{CreatedAt: at(created), ByUserID: &alice}
	}
	for _, c := range []struct {
		name    string
		r       *models.Redemption
		by      models.Actor
		now     string
		allowed bool
	}{
		{"same person, minutes later", till("2026-03-10 14:00"), models.UserActor(alice), "2026-03-10 14:05", true},
		{"same person, 11:59 later, same day", till("2026-03-10 08:00"), models.UserActor(alice), "2026-03-10 19:59", true},
		{"same person, 12:01 later, same day", till("2026-03-10 08:00"), models.UserActor(alice), "2026-03-10 20:01", false},
		{"same person, after midnight in Berlin", till("2026-03-10 23:50"), models.UserActor(alice), "2026-03-11 00:10", false},
		{"same day in Berlin though another day in UTC", till("2026-07-10 00:30"), models.UserActor(alice), "2026-07-10 01:30", true},
		{"another person", till("2026-03-10 14:00"), models.UserActor(bob), "2026-03-10 14:05", false},
		{"redeemed through the API, undone at the till", &models.Redemption{CreatedAt: at("2026-03-10 14:00"), ByAPIKeyID: &key}, models.UserActor(alice), "2026-03-10 14:05", false},
		{"API, 89 days", till("2026-01-01 12:00"), models.Actor{Kind: "api_key", ID: &key}, "2026-03-31 12:00", true},
		{"API, 91 days", till("2026-01-01 12:00"), models.Actor{Kind: "api_key", ID: &key}, "2026-04-02 12:00", false},
		{"operator CLI, a year later", till("2025-01-01 12:00"), models.ActorCLI, "2026-01-01 12:00", true},
	} {
		if got := c.r.ReversalAllowed(c.by, at(c.now)); got != c.allowed {
			t.Errorf("%s: allowed %v, want %v", c.name, got, c.allowed)
		}
	}
}
