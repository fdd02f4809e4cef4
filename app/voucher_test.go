package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

type voucherEnv struct {
	a                  *app.App
	cafe, bakery       *models.Merchant
	cafeKey, bakeryKey string
	company            *models.Company
	sender             models.GiftSender
}

func newVoucherEnv(t *testing.T, dialect string) *voucherEnv {
	t.Helper()
	return setupVoucherEnv(t, apptest.NewSeededApp(t, dialect))
}

// setupVoucherEnv adds keys and credit to an app seeded with the demo data.
func setupVoucherEnv(t *testing.T, a *app.App) *voucherEnv {
	t.Helper()
	ctx := t.Context()
	e := &voucherEnv{a: a}
	e.company, _ = a.Store.CompanyBySlug(ctx, "beispiel-verlag")
	e.cafe, _ = a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	e.bakery, _ = a.Store.MerchantBySlug(ctx, "baeckerei-sonnenkorn")
	var err error
	if e.cafeKey, _, err = a.Store.CreateAPIKey(ctx, nil, &e.cafe.ID, "shop", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if e.bakeryKey, _, err = a.Store.CreateAPIKey(ctx, nil, &e.bakery.ID, "pos", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.GrantCredit(ctx, e.company.ID, 10_000_00, "", "", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	chefin, _ := a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	e.sender = models.GiftSender{CompanyID: e.company.ID, UserID: &chefin.ID}
	return e
}

// gift sends a gift offering the merchants and returns its claim token.
func (e *voucherEnv) gift(t *testing.T, cents int64, ms ...*models.Merchant) (*models.Gift, string) {
	t.Helper()
	var ids []uint
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	g, _, err := e.a.Store.SendGift(t.Context(), nil, e.sender, models.GiftInput{RecipientEmail: "kim@example.com", AmountCents: cents, MerchantIDs: ids, Notify: models.NotifyNone}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g, e.a.Store.GiftClaimToken(g)
}

func (e *voucherEnv) claim(t *testing.T, token string, m *models.Merchant) string {
	t.Helper()
	res := e.call(t, "", "POST", "/api/v1/claims/"+token, "", fmt.Sprintf(`{"merchant_id":%d}`, m.ID))
	if res.Status != 201 && res.Status != 200 {
		t.Fatalf("claim: %d %s", res.Status, res.Body)
	}
	var out struct{ Voucher struct{ Code string } }
	json.Unmarshal([]byte(res.Body), &out)
	return out.Voucher.Code
}

func (e *voucherEnv) call(t *testing.T, key, method, path, idem, body string) *apptest.Response {
	t.Helper()
	return (&giftEnv{a: e.a}).api(t, key, method, path, idem, body)
}

func redeemBody(cents int64) string {
	return fmt.Sprintf(`{"amount_cents":%d,"reference":"order-1"}`, cents)
}

func TestClaimAndRedeem(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			g, token := e.gift(t, 50_00, e.cafe, e.bakery)

			res := e.call(t, "", "GET", "/api/v1/claims/"+token, "", "")
			if res.Status != 200 || !strings.Contains(res.Body, `"status":"sent"`) || strings.Contains(res.Body, `"voucher"`) || !strings.Contains(res.Body, "Beispiel-Verlag") {
				t.Fatalf("claim JSON before: %d %s", res.Status, res.Body)
			}
			other, _ := e.a.Store.MerchantBySlug(t.Context(), "radhaus-flingern")
			if res := e.call(t, "", "POST", "/api/v1/claims/"+token, "", fmt.Sprintf(`{"merchant_id":%d}`, other.ID)); res.Status != 422 {
				t.Fatalf("partner not offered: %d", res.Status)
			}
			if res := e.call(t, "", "POST", "/api/v1/claims/"+token, "", ""); res.Status != 422 {
				t.Fatalf("no partner chosen among two: %d", res.Status)
			}
			res = e.call(t, "", "POST", "/api/v1/claims/"+token, "", fmt.Sprintf(`{"merchant_id":%d}`, e.cafe.ID))
			if res.Status != 201 {
				t.Fatalf("claim: %d %s", res.Status, res.Body)
			}
			code := e.claim(t, token, e.cafe)
			if !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$`).MatchString(code) {
				t.Fatalf("code %q", code)
			}
			if res := e.call(t, "", "POST", "/api/v1/claims/"+token, "", fmt.Sprintf(`{"merchant_id":%d}`, e.bakery.ID)); res.Status != 422 {
				t.Fatalf("re-claim for another partner: %d", res.Status)
			}
			if res := e.call(t, "", "GET", "/api/v1/claims/not-a-real-token-at-all-xx", "", ""); res.Status != 404 {
				t.Fatalf("unknown token: %d", res.Status)
			}

			// Look-ups: typed variants work; the other partner gets the same 404 as nobody.
			typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
			if res := e.call(t, e.cafeKey, "GET", "/api/v1/vouchers/"+url.PathEscape(typed), "", ""); res.Status != 200 || !strings.Contains(res.Body, `"balance_cents":5000`) {
				t.Fatalf("look-up: %d %s", res.Status, res.Body)
			}
			foreign := e.call(t, e.bakeryKey, "GET", "/api/v1/vouchers/"+code, "", "")
			unknown := e.call(t, e.bakeryKey, "GET", "/api/v1/vouchers/AAAA-BBBB-CCCC-DDDD-EEEE", "", "")
			if foreign.Status != 404 || foreign.Body != unknown.Body {
				t.Fatalf("foreign code distinguishable: %d %s vs %s", foreign.Status, foreign.Body, unknown.Body)
			}
			if res := e.call(t, "", "GET", "/api/v1/vouchers/"+code, "", ""); res.Status != 401 {
				t.Fatalf("no key: %d", res.Status)
			}

			path := "/api/v1/vouchers/" + code + "/redemptions"
			for _, bad := range []struct {
				idem, body string
				status     int
			}{
				{"", redeemBody(100), 400},
				{"k0", redeemBody(0), 422},
				{"k0", redeemBody(-5), 422},
				{"k0", `{"amount_cents":"12,50"}`, 422},
				{"k0", `{"amount_cents":`, 400},
				{"k0", redeemBody(50_01), 409},
			} {
				if res := e.call(t, e.cafeKey, "POST", path, bad.idem, bad.body); res.Status != bad.status || res.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s %q: %d %s", bad.idem, bad.body, res.Status, res.Body)
				}
			}
			res = e.call(t, e.cafeKey, "POST", path, "till-1", redeemBody(12_50))
			if res.Status != 201 || !strings.Contains(res.Body, `"balance_cents":3750`) {
				t.Fatalf("redeem: %d %s", res.Status, res.Body)
			}
			var r1 struct{ ID string }
			json.Unmarshal([]byte(res.Body), &r1)
			replay := e.call(t, e.cafeKey, "POST", path, "till-1", redeemBody(12_50))
			if replay.Status != 201 || !strings.Contains(replay.Body, r1.ID) || replay.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay: %d %s", replay.Status, replay.Body)
			}
			if res := e.call(t, e.cafeKey, "POST", path, "till-1", redeemBody(10_00)); res.Status != 409 {
				t.Fatalf("key reused with another body: %d", res.Status)
			}
			if res := e.call(t, e.bakeryKey, "POST", "/api/v1/redemptions/"+r1.ID+"/reversal", "", ""); res.Status != 404 {
				t.Fatalf("foreign reversal: %d", res.Status)
			}
			if res := e.call(t, e.cafeKey, "POST", "/api/v1/redemptions/"+r1.ID+"/reversal", "", ""); res.Status != 200 || !strings.Contains(res.Body, `"balance_cents":5000`) {
				t.Fatalf("reversal: %d %s", res.Status, res.Body)
			}
			if res := e.call(t, e.cafeKey, "POST", "/api/v1/redemptions/"+r1.ID+"/reversal", "", ""); res.Status != 409 {
				t.Fatalf("second reversal: %d", res.Status)
			}
			if res := e.call(t, e.cafeKey, "POST", path, "till-2", redeemBody(50_00)); res.Status != 201 || !strings.Contains(res.Body, `"balance_cents":0`) {
				t.Fatalf("redeem all: %d %s", res.Status, res.Body)
			}
			var after models.Gift
			e.a.DB.First(&after, g.ID)
			if after.Status != models.GiftRedeemed {
				t.Fatalf("status %s", after.Status)
			}
			payable, _ := e.a.Store.AccountBalance(t.Context(), models.AccountMerchantPayable(e.cafe.ID))
			commission, _ := e.a.Store.AccountBalance(t.Context(), models.AccountPlatformCommission)
			if payable != 47_50 || commission != 2_50 {
				t.Fatalf("payable %d commission %d (5 %% of 50 €)", payable, commission)
			}

			// Expired vouchers answer 410.
			g2, token2 := e.gift(t, 20_00, e.cafe)
			code2 := e.claim(t, token2, e.cafe)
			e.a.DB.Model(&models.Gift{}).Where("id = ?", g2.ID).Update("expires_at", time.Now().Add(-time.Minute))
			if res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code2+"/redemptions", "x", redeemBody(100)); res.Status != 410 {
				t.Fatalf("expired: %d %s", res.Status, res.Body)
			}
			verifyLedger(t, e.a.Store)
		})
	}
}

// 200 tills redeem 1 € each from one 50 € voucher at the same moment:
// exactly 50 succeed; 40 replays of one idempotency key apply once.
func TestConcurrentRedemptions(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			g, token := e.gift(t, 50_00, e.cafe)
			code := e.claim(t, token, e.cafe)
			var mu sync.Mutex
			counts := map[int]int{}
			var wg sync.WaitGroup
			for i := 0; i < 200; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", fmt.Sprintf("c-%d", i), redeemBody(1_00))
					mu.Lock()
					counts[res.Status]++
					mu.Unlock()
				}(i)
			}
			wg.Wait()
			if counts[201] != 50 || counts[409] != 150 {
				t.Fatalf("statuses %v", counts)
			}
			var after models.Gift
			e.a.DB.First(&after, g.ID)
			if after.BalanceCents != 0 || after.Status != models.GiftRedeemed {
				t.Fatalf("after: %d %s", after.BalanceCents, after.Status)
			}

			g2, token2 := e.gift(t, 30_00, e.cafe)
			code2 := e.claim(t, token2, e.cafe)
			ids := map[string]int{}
			for i := 0; i < 40; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code2+"/redemptions", "same-key", redeemBody(5_00))
					var out struct{ ID string }
					json.Unmarshal([]byte(res.Body), &out)
					mu.Lock()
					ids[fmt.Sprint(res.Status, out.ID)]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			var n int64
			e.a.DB.Model(&models.Redemption{}).Where("gift_id = ?", g2.ID).Count(&n)
			var after2 models.Gift
			e.a.DB.First(&after2, g2.ID)
			if n != 1 || after2.BalanceCents != 25_00 || len(ids) != 1 {
				t.Fatalf("replays: %d redemptions, balance %d, answers %v", n, after2.BalanceCents, ids)
			}
			verifyLedger(t, e.a.Store)
		})
	}
}

// Tills redeem from several vouchers at once, so on SQLite their
// redemptions share group commits with ones that fail: balance too low
// (409), another partner's key (404), an idempotency key reused with a
// different request (409) next to its replays (the same answer). Every 201
// is stored exactly once with its audit row, failures leave nothing, and
// the books balance.
func TestConcurrentRedemptionsOnSeveralVouchers(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			type voucher struct {
				g    *models.Gift
				code string
			}
			var vs []voucher
			for _, cents := range []int64{10_00, 10_00, 5_00, 50_00} {
				g, token := e.gift(t, cents, e.cafe)
				vs = append(vs, voucher{g, e.claim(t, token, e.cafe)})
			}
			type answer struct {
				voucher, status int
				id              string
				cents           int64
			}
			var mu sync.Mutex
			var answers []answer
			var wg sync.WaitGroup
			post := func(v int, key, idem string, cents int64) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := e.call(t, key, "POST", "/api/v1/vouchers/"+vs[v].code+"/redemptions", idem, redeemBody(cents))
					var out struct{ ID string }
					json.Unmarshal([]byte(res.Body), &out)
					mu.Lock()
					answers = append(answers, answer{v, res.Status, out.ID, cents})
					mu.Unlock()
				}()
			}
			foreign := map[int]int{}
			for i := 0; i < 25; i++ {
				for v := 0; v < 3; v++ {
					post(v, e.cafeKey, fmt.Sprintf("v%d-%d", v, i), 1_00)
				}
				if i%5 == 0 {
					post(i%3, e.bakeryKey, fmt.Sprintf("foreign-%d", i), 1_00)
					foreign[i%3]++
				}
				if i%2 == 0 {
					post(3, e.cafeKey, "shared", 2_00+int64(i%4)*50) // 2,00 € or 3,00 €
				}
			}
			wg.Wait()

			created := map[string]answer{}
			statuses := map[int]map[int]int{}
			shared := map[int64][]answer{}
			for _, a := range answers {
				if statuses[a.voucher] == nil {
					statuses[a.voucher] = map[int]int{}
				}
				statuses[a.voucher][a.status]++
				if a.voucher == 3 {
					shared[a.cents] = append(shared[a.cents], a)
				} else if a.status == 201 {
					if _, dup := created[a.id]; dup || a.id == "" {
						t.Fatalf("redemption id %q answered twice", a.id)
					}
					created[a.id] = a
				}
			}
			for v, want := range []int{10, 10, 5} {
				if statuses[v][201] != want || statuses[v][409] != 25-want || statuses[v][404] != foreign[v] || len(statuses[v]) != 3 {
					t.Fatalf("voucher %d: statuses %v", v, statuses[v])
				}
			}
			// The shared key: one request body won, its replays got its
			// redemption, the other body got 409.
			var stored []models.Redemption
			e.a.DB.Where("gift_id = ?", vs[3].g.ID).Find(&stored)
			if len(stored) != 1 {
				t.Fatalf("shared key stored %d times", len(stored))
			}
			for cents, as := range shared {
				for _, a := range as {
					if cents == stored[0].AmountCents && (a.status != 201 || a.id != stored[0].PublicID) ||
						cents != stored[0].AmountCents && a.status != 409 {
						t.Fatalf("shared key, %d cents (stored %d): %d %s", cents, stored[0].AmountCents, a.status, a.id)
					}
				}
			}
			created[stored[0].PublicID] = answer{voucher: 3, status: 201, id: stored[0].PublicID, cents: stored[0].AmountCents}

			for v, vc := range vs {
				var rs []models.Redemption
				e.a.DB.Where("gift_id = ?", vc.g.ID).Find(&rs)
				var sum int64
				for _, r := range rs {
					if a, ok := created[r.PublicID]; !ok || a.voucher != v || a.cents != r.AmountCents {
						t.Fatalf("voucher %d: stored redemption %s (%d cents) was not answered 201", v, r.PublicID, r.AmountCents)
					}
					sum += r.AmountCents
				}
				var audits int64
				e.a.DB.Model(&models.AuditLog{}).Where("action = ? AND subject_id = ?", "voucher.redeemed", vc.g.ID).Count(&audits)
				var after models.Gift
				e.a.DB.First(&after, vc.g.ID)
				if int(audits) != len(rs) || after.BalanceCents != vc.g.AmountCents-sum {
					t.Fatalf("voucher %d: %d redemptions, %d audit rows, balance %d of %d after %d", v, len(rs), audits, after.BalanceCents, vc.g.AmountCents, sum)
				}
			}
			var total int64
			e.a.DB.Model(&models.Redemption{}).Count(&total)
			if int(total) != len(created) {
				t.Fatalf("%d redemptions stored, %d answered 201", total, len(created))
			}
			verifyLedger(t, e.a.Store)
		})
	}
}

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

func TestVoucherPagesAndTill(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	_, token := e.gift(t, 50_00, e.bakery, e.cafe)
	customer := apptest.NewClient(t, e.a.HTTP)
	page := customer.Get("/c/" + token)
	if page.Status != 200 || !strings.Contains(page.Body, "Sie haben die Wahl") || !strings.Contains(page.Body, `id="choose-baeckerei-sonnenkorn"`) {
		t.Fatalf("claim page: %d", page.Status)
	}
	if res := customer.PostForm("/c/"+token+"/claim", url.Values{"merchant_id": {"999999"}}); res.Status != 422 {
		t.Fatalf("bad choice: %d", res.Status)
	}
	if res := customer.PostForm("/c/"+token+"/claim", url.Values{"merchant_id": {fmt.Sprint(e.bakery.ID)}}); res.Status != http.StatusSeeOther {
		t.Fatalf("choose: %d %s", res.Status, res.Body)
	}
	page = customer.Get("/c/" + token)
	code := regexp.MustCompile(`id="voucher-code">([0-9A-Z-]+)<`).FindStringSubmatch(page.Body)
	if page.Status != 200 || code == nil || !strings.Contains(page.Body, "data:image/png;base64,") || !strings.Contains(page.Body, "50,00 €") || page.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("voucher page: %d", page.Status)
	}
	if p := customer.Get("/c/" + token + "?print=1"); p.Status != 200 || !strings.Contains(p.Body, "print-view") {
		t.Fatal("print view")
	}

	// The bakery's owner redeems 12,50 € at the till, typing the code sloppily.
	till := apptest.NewClient(t, e.a.HTTP)
	till.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
	if res := till.Get("/merchant/redeem"); res.Status != 200 {
		t.Fatalf("till: %d", res.Status)
	}
	// Nothing typed: the till asks for the code (422 on the field), not "unknown code".
	if res := till.PostForm("/merchant/redeem/lookup", url.Values{"code": {"  "}}); res.Status != 422 || !strings.Contains(res.Body, `aria-invalid="true"`) {
		t.Fatalf("empty lookup: %d", res.Status)
	}
	typed := strings.ToLower(strings.ReplaceAll(code[1], "-", " "))
	res := till.PostForm("/merchant/redeem/lookup", url.Values{"code": {typed}})
	if res.Status != 200 || !strings.Contains(res.Body, "50,00 €") {
		t.Fatalf("lookup: %d", res.Status)
	}
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(res.Body)
	if res := till.PostForm("/merchant/redeem", url.Values{"code": {code[1]}, "amount": {"abc"}, "key": {key[1]}}); res.Status != 422 {
		t.Fatalf("bad amount: %d", res.Status)
	}
	res = till.PostForm("/merchant/redeem", url.Values{"code": {code[1]}, "amount": {"12,50"}, "key": {key[1]}})
	if res.Status != 200 || !strings.Contains(res.Body, `id="receipt-balance">37,50 €`) {
		t.Fatalf("redeem: %d", res.Status)
	}
	// A double submit of the same form redeems once.
	till.PostForm("/merchant/redeem", url.Values{"code": {code[1]}, "amount": {"12,50"}, "key": {key[1]}})
	if p := customer.Get("/c/" + token); !strings.Contains(p.Body, `id="voucher-balance">37,50 €`) {
		t.Fatal("customer page does not show the new balance")
	}
	rid := regexp.MustCompile(`/merchant/redemptions/(rd_[a-z0-9]+)/reversal`).FindStringSubmatch(res.Body)
	if res := till.PostForm("/merchant/redemptions/"+rid[1]+"/reversal", nil); res.Status != 200 || !strings.Contains(res.Body, "50,00 €") {
		t.Fatalf("undo: %d", res.Status)
	}
	// Another shop's till does not know the code.
	other := apptest.NewClient(t, e.a.HTTP)
	other.PostForm("/signup/merchant", signupForm("merchant", map[string]string{"email": "x@shop.example"}))
	if res := other.PostForm("/merchant/redeem/lookup", url.Values{"code": {code[1]}}); res.Status != 404 {
		t.Fatalf("foreign till: %d", res.Status)
	}
	verifyLedger(t, e.a.Store)

	// Neither claim token nor voucher code is in the database files.
	e.a.Close()
	path := strings.TrimPrefix(e.a.Cfg.DatabaseURL, "sqlite:")
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		norm, _ := models.NormalizeCode(code[1])
		if bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte(code[1])) || bytes.Contains(b, []byte(norm)) {
			t.Fatalf("%s holds a claim token or voucher code in clear", f)
		}
	}
}

// After use the recipient is asked "Did this make up for it?"; the answer
// reaches the company (API and webhook), once, and never the partner.
func TestFeedbackReachesTheCompanyOnly(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	ctx := t.Context()
	chefin, _ := e.a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	hook, err := e.a.Store.AddWebhookEndpoint(ctx, e.company.ID, chefin.ID, "https://desk.example/hook", false)
	if err != nil {
		t.Fatal(err)
	}
	g, token := e.gift(t, 20_00, e.cafe)
	code := e.claim(t, token, e.cafe)
	customer := apptest.NewClient(t, e.a.HTTP)
	if res := customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"yes"}}); res.Status != 409 {
		t.Fatalf("feedback before use: %d", res.Status)
	}
	if res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "f1", redeemBody(5_00)); res.Status != 201 {
		t.Fatal(res.Body)
	}
	if page := customer.Get("/c/" + token); !strings.Contains(page.Body, `id="feedback"`) {
		t.Fatal("no feedback question after use")
	}
	if res := customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"maybe"}}); res.Status != 422 {
		t.Fatalf("bad answer: %d", res.Status)
	}
	if res := customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"partly"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("feedback: %d", res.Status)
	}
	customer.PostForm("/c/"+token+"/feedback", url.Values{"feedback": {"no"}})
	var after models.Gift
	e.a.DB.First(&after, g.ID)
	if after.Feedback != "partly" {
		t.Fatalf("feedback %q", after.Feedback)
	}
	companyKey, _, _ := e.a.Store.CreateAPIKey(ctx, &e.company.ID, nil, "desk", models.ActorCLI)
	if res := e.call(t, companyKey, "GET", "/api/v1/gifts/"+g.PublicID, "", ""); !strings.Contains(res.Body, `"feedback":"partly"`) {
		t.Fatalf("company API: %s", res.Body)
	}
	if res := e.call(t, e.cafeKey, "GET", "/api/v1/vouchers/"+code, "", ""); strings.Contains(res.Body, "feedback") || strings.Contains(res.Body, "partly") {
		t.Fatalf("partner sees feedback: %s", res.Body)
	}
	var n int64
	e.a.DB.Model(&models.WebhookDelivery{}).Where("endpoint_id = ? AND event_type = ? AND payload LIKE ?", hook.ID, models.HookGiftFeedback, "%partly%").Count(&n)
	if n != 1 {
		t.Fatalf("%d feedback webhooks", n)
	}
}

// A merchant's own commission rate overrides the region's.
func TestMerchantCommissionOverride(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	e.a.DB.Model(&models.Merchant{}).Where("id = ?", e.bakery.ID).Update("commission_bp", 250)
	_, token := e.gift(t, 20_00, e.bakery)
	code := e.claim(t, token, e.bakery)
	if res := e.call(t, e.bakeryKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "o1", redeemBody(10_00)); res.Status != 201 {
		t.Fatal(res.Body)
	}
	payable, _ := e.a.Store.AccountBalance(t.Context(), models.AccountMerchantPayable(e.bakery.ID))
	if payable != 9_75 {
		t.Fatalf("payable %d, want 975 (2,5 %% commission)", payable)
	}
}
