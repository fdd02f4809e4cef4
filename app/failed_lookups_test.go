package app_test

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

func TestFailedLookupsAreRateLimited(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	_, token := e.gift(t, 10_00, e.cafe)
	code := e.claim(t, token, e.cafe)
	// Valid traffic never counts.
	for i := 0; i < 60; i++ {
		if res := e.call(t, e.cafeKey, "GET", "/api/v1/vouchers/"+code, "", ""); res.Status != 200 {
			t.Fatalf("valid look-up %d: %d", i, res.Status)
		}
	}
	var last *apptest.Response
	for i := 0; i < 21; i++ {
		last = e.call(t, e.cafeKey, "GET", fmt.Sprintf("/api/v1/vouchers/AAAA-BBBB-CCCC-DDDD-%04d", i), "", "")
	}
	if last.Status != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after 21 failures: %d %v", last.Status, last.Header)
	}
	// Another shop's key is not affected; claim links count per IP.
	if res := e.call(t, e.bakeryKey, "GET", "/api/v1/vouchers/AAAA-BBBB-CCCC-DDDD-EEEE", "", ""); res.Status != 404 {
		t.Fatalf("other key: %d", res.Status)
	}
	c := apptest.NewClient(t, e.a.HTTP)
	for i := 0; i < 21; i++ {
		last = c.Get(fmt.Sprintf("/c/unknown-token-%030d", i))
	}
	if last.Status != 429 {
		t.Fatalf("claim link guessing: %d", last.Status)
	}
}

// The failed-look-up counters are stored (kv table): their keys name the
// API key and the till user by id, never the key or the session cookie
// themselves; every failure counts exactly once, also when they arrive
// together; and one key has one budget however its header is spelled.
func TestFailureCountersStoreNoSecretsAndCountEveryFailure(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			if res := e.call(t, e.cafeKey, "GET", "/api/v1/vouchers/AAAA-BBBB-CCCC-DDDD-EEEE", "", ""); res.Status != 404 {
				t.Fatalf("unknown code: %d", res.Status)
			}
			till := apptest.NewClient(t, e.a.HTTP)
			till.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
			if res := till.PostForm("/merchant/redeem/lookup", url.Values{"code": {"AAAA-BBBB-CCCC-DDDD-EEEE"}}); res.Status != 404 {
				t.Fatalf("till, unknown code: %d", res.Status)
			}
			session := till.Jar["tp_session"]
			if session == nil || len(session.Value) < 16 {
				t.Fatal("no session cookie")
			}
			var keys []string
			if err := e.a.Store.DB().Model(&models.KV{}).Where("key LIKE ?", "fail:%").Pluck("key", &keys).Error; err != nil {
				t.Fatal(err)
			}
			if len(keys) != 2 {
				t.Fatalf("failure counters: %q", keys)
			}
			secret := e.cafeKey[len(e.cafeKey)-16:]
			for _, k := range keys {
				if strings.Contains(k, secret) || strings.Contains(k, session.Value) || strings.Contains(strings.ToLower(k), "bearer") {
					t.Errorf("a secret in the stored counter key %q", k)
				}
			}

			// 25 failures at once: each answered 404 is counted, none lost.
			var wg sync.WaitGroup
			statuses := make([]int, 25)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = e.call(t, e.bakeryKey, "GET", fmt.Sprintf("/api/v1/vouchers/AAAA-BBBB-CCCC-DDDD-%04d", i), "", "").Status
				}()
			}
			wg.Wait()
			notFound := 0
			for _, st := range statuses {
				switch st {
				case 404:
					notFound++
				case 429:
				default:
					t.Fatalf("concurrent look-ups: %v", statuses)
				}
			}
			var keyIDs []uint
			if err := e.a.Store.DB().Model(&models.APIKey{}).Where("merchant_id = ?", e.bakery.ID).Pluck("id", &keyIDs).Error; err != nil || len(keyIDs) != 1 {
				t.Fatalf("bakery's key: %v %v", keyIDs, err)
			}
			var counted []string
			if err := e.a.Store.DB().Model(&models.KV{}).Where("key LIKE ?", "fail:code-fail:%|key:"+fmt.Sprint(keyIDs[0])).Pluck("value", &counted).Error; err != nil {
				t.Fatal(err)
			}
			if len(counted) != 1 || counted[0] != fmt.Sprint(notFound) {
				t.Fatalf("%d look-ups answered 404, counter %q", notFound, counted)
			}
			// Fill the budget, then a respelled header is the same key.
			for i := notFound; i < 20; i++ {
				e.call(t, e.bakeryKey, "GET", "/api/v1/vouchers/AAAA-BBBB-CCCC-DDDD-FFFF", "", "")
			}
			req := httptest.NewRequest("GET", "/api/v1/vouchers/AAAA-BBBB-CCCC-DDDD-EEEE", nil)
			req.Header.Set("Authorization", "bearer   "+e.bakeryKey)
			if res := apptest.NewClient(t, e.a.HTTP).Do(req); res.Status != 429 {
				t.Fatalf("respelled Authorization header after 20 failures: %d", res.Status)
			}
		})
	}
}
