package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
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
	g, _, err := e.a.Store.SendGift(t.Context(), nil, e.sender, models.GiftInput{RecipientEmail: "kim@example.com", AmountCents: cents, MerchantIDs: ids, Notify: models.NotifyNone})
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

// Staff undo at the till only within their shift; the web shop's API key
// reverses for 90 days (cancelled online orders); outside: a clear 422 on
// the till, a 409 problem on the API, and nothing moves.
func TestUndoOnlyWithinShift(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			ctx := t.Context()
			staff, err := e.a.Store.CreateUser(ctx, models.NewUser{Email: "kasse@sonnenkorn.example", Name: "Kasse", Password: "correct horse battery"})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.a.Store.AddMember(ctx, staff.ID, nil, &e.bakery.ID, models.RoleMerchantStaff); err != nil {
				t.Fatal(err)
			}
			g, token := e.gift(t, 50_00, e.bakery)
			code := e.claim(t, token, e.bakery)

			owner := apptest.NewClient(t, e.a.HTTP)
			owner.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
			cashier := apptest.NewClient(t, e.a.HTTP)
			cashier.Login("kasse@sonnenkorn.example", "correct horse battery")

			redeemAt := func(c *apptest.Client, amount, key string) string {
				t.Helper()
				res := c.PostForm("/merchant/redeem", url.Values{"code": {code}, "amount": {amount}, "key": {key}})
				rid := regexp.MustCompile(`/merchant/redemptions/(rd_[a-z0-9]+)/reversal`).FindStringSubmatch(res.Body)
				if res.Status != 200 || rid == nil {
					t.Fatalf("redeem: %d", res.Status)
				}
				return rid[1]
			}
			balance := func() int64 {
				var after models.Gift
				e.a.DB.First(&after, g.ID)
				return after.BalanceCents
			}

			// The empty till screen offers to undo the person's own last redemption.
			r1 := redeemAt(cashier, "5,00", "k1")
			form := cashier.Get("/merchant/redeem")
			if !strings.Contains(form.Body, `id="last-redemption"`) || !strings.Contains(form.Body, "/merchant/redemptions/"+r1+"/reversal") {
				t.Fatal("the cashier's till does not offer the last redemption")
			}
			if p := owner.Get("/merchant/redeem"); strings.Contains(p.Body, r1) {
				t.Fatal("the owner's till offers the cashier's redemption")
			}
			// Someone else's redemption is not part of one's shift.
			res := owner.PostForm("/merchant/redemptions/"+r1+"/reversal", nil)
			if res.Status != 422 || !strings.Contains(res.Body, "nicht aus Ihrer aktuellen Schicht") || balance() != 45_00 {
				t.Fatalf("owner undoing the cashier's redemption: %d, balance %d", res.Status, balance())
			}
			if res := cashier.PostForm("/merchant/redemptions/"+r1+"/reversal", nil); res.Status != 200 || balance() != 50_00 {
				t.Fatalf("undo within the shift: %d, balance %d", res.Status, balance())
			}
			if res := cashier.PostForm("/merchant/redemptions/"+r1+"/reversal", nil); res.Status != 409 || !strings.Contains(res.Body, "schon erledigt") {
				t.Fatalf("second undo: %d", res.Status)
			}

			// 13 hours later the shift is over: the till refuses, nothing moves.
			r2 := redeemAt(cashier, "7,50", "k2")
			e.a.DB.Model(&models.Redemption{}).Where("public_id = ?", r2).Update("created_at", time.Now().UTC().Add(-13*time.Hour))
			if p := cashier.Get("/merchant/redeem"); strings.Contains(p.Body, `id="last-redemption"`) {
				t.Fatal("a redemption from the last shift is still offered")
			}
			res = cashier.PostForm("/merchant/redemptions/"+r2+"/reversal", nil)
			if res.Status != 422 || !strings.Contains(res.Body, "nicht aus Ihrer aktuellen Schicht") || balance() != 42_50 {
				t.Fatalf("undo after the shift: %d, balance %d", res.Status, balance())
			}
			var r models.Redemption
			e.a.DB.Where("public_id = ?", r2).First(&r)
			if r.ReversedAt != nil {
				t.Fatal("refused undo marked the redemption reversed")
			}

			// The shop's API key still reverses it (a cancelled online order) …
			if res := e.call(t, e.bakeryKey, "POST", "/api/v1/redemptions/"+r2+"/reversal", "", ""); res.Status != 200 || !strings.Contains(res.Body, `"balance_cents":5000`) {
				t.Fatalf("API reversal after the shift: %d %s", res.Status, res.Body)
			}
			// … within 90 days, not after.
			res = e.call(t, e.bakeryKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "online-1", redeemBody(10_00))
			var online struct{ ID string }
			json.Unmarshal([]byte(res.Body), &online)
			e.a.DB.Model(&models.Redemption{}).Where("public_id = ?", online.ID).Update("created_at", time.Now().UTC().Add(-89*24*time.Hour))
			res = e.call(t, e.bakeryKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "online-2", redeemBody(10_00))
			var old struct{ ID string }
			json.Unmarshal([]byte(res.Body), &old)
			e.a.DB.Model(&models.Redemption{}).Where("public_id = ?", old.ID).Update("created_at", time.Now().UTC().Add(-91*24*time.Hour))
			res = e.call(t, e.bakeryKey, "POST", "/api/v1/redemptions/"+old.ID+"/reversal", "", "")
			var p struct{ Code, Title, Detail string }
			json.Unmarshal([]byte(res.Body), &p)
			if res.Status != 409 || res.Header.Get("Content-Type") != "application/problem+json" || p.Code != "reversal_window_closed" || !strings.Contains(p.Detail, "90 days") {
				t.Fatalf("API reversal after 91 days: %d %s", res.Status, res.Body)
			}
			if balance() != 30_00 {
				t.Fatalf("balance %d after a refused reversal", balance())
			}
			if res := e.call(t, e.bakeryKey, "POST", "/api/v1/redemptions/"+online.ID+"/reversal", "", ""); res.Status != 200 || !strings.Contains(res.Body, `"balance_cents":4000`) {
				t.Fatalf("API reversal after 89 days: %d %s", res.Status, res.Body)
			}
			verifyLedger(t, e.a.Store)
		})
	}
}

// The till may use the camera (own origin only); every other page may not.
// The scanner script and the vendored decoder are served first-party; the
// typed-code form stays as it was.
func TestTillCameraHeaders(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	_, token := e.gift(t, 10_00, e.bakery)
	till := apptest.NewClient(t, e.a.HTTP)
	till.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
	page := till.Get("/merchant/redeem")
	if page.Status != 200 || page.Header.Get("Permissions-Policy") != "camera=(self), microphone=(), geolocation=()" {
		t.Fatalf("till: %d Permissions-Policy %q", page.Status, page.Header.Get("Permissions-Policy"))
	}
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("CSP %q", csp)
	}
	if !strings.Contains(page.Body, `<script src="/static/js/scan.js" defer></script>`) || !strings.Contains(page.Body, `id="scan-start" hidden`) ||
		!strings.Contains(page.Body, `id="f-code"`) || !strings.Contains(page.Body, `action="/merchant/redeem/lookup`) {
		t.Fatal("till page lacks the scanner or the typed-code form")
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(page.Body) || strings.Contains(page.Body, " style=") {
		t.Fatal("inline script or style on the till page")
	}
	for _, p := range []string{"/static/js/scan.js", "/static/vendor/jsQR.js"} {
		if res := till.Get(p); res.Status != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
			t.Fatalf("%s: %d %s", p, res.Status, res.Header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/", "/c/" + token, "/partners"} {
		if res := apptest.NewClient(t, e.a.HTTP).Get(p); res.Header.Get("Permissions-Policy") != "camera=(), microphone=(), geolocation=()" {
			t.Fatalf("%s: Permissions-Policy %q", p, res.Header.Get("Permissions-Policy"))
		}
	}
}
