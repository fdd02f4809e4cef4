package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// giftEnv is a seeded app with an API key for the demo company and a second,
// unrelated company with its own key.
type giftEnv struct {
	a        *app.App
	company  *models.Company
	key      string
	otherCo  *models.Company
	otherKey string
	cafe     *models.Merchant // approved, Köln
	bakery   *models.Merchant
	draft    *models.Merchant // not approved
}

func newGiftEnv(t *testing.T, dialect string) *giftEnv {
	t.Helper()
	a := apptest.NewSeededApp(t, dialect)
	ctx := t.Context()
	e := &giftEnv{a: a}
	var err error
	if e.company, err = a.Store.CompanyBySlug(ctx, "beispiel-verlag"); err != nil {
		t.Fatal(err)
	}
	if e.key, _, err = a.Store.CreateAPIKey(ctx, &e.company.ID, nil, "help desk", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	_, e.otherCo = apptest.MustCompany(t, a.Store, "Andere Firma")
	if _, err := a.Store.GrantCredit(ctx, e.otherCo.ID, 100_00, "", "", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if e.otherKey, _, err = a.Store.CreateAPIKey(ctx, &e.otherCo.ID, nil, "other", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	e.cafe, _ = a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	e.bakery, _ = a.Store.MerchantBySlug(ctx, "baeckerei-sonnenkorn")
	_, e.draft = apptest.MustMerchant(t, a.Store, "Noch Nicht Frei", "Köln")
	return e
}

// api sends a JSON API request with a key.
func (e *giftEnv) api(t *testing.T, key, method, path, idem, body string) *apptest.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	return apptest.NewClient(t, e.a.HTTP).Do(req)
}

type giftJSON struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	ClaimURL     string `json:"claim_url"`
	AmountCents  int64  `json:"amount_cents"`
	BalanceCents int64  `json:"balance_cents"`
	ExpiresAt    string `json:"expires_at"`
	Merchants    []struct {
		ID   uint   `json:"id"`
		City string `json:"city"`
	} `json:"merchants"`
	MerchantID *uint `json:"merchant_id"`
}

func decode[T any](t *testing.T, res *apptest.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(res.Body), &v); err != nil {
		t.Fatalf("decode %q: %v", res.Body, err)
	}
	return v
}

func giftBody(merchantIDs string, amount int64, extra string) string {
	return fmt.Sprintf(`{"recipient_email":"Kundin@Example.com","recipient_name":"Kim Kundin","amount_cents":%d,"currency":"EUR","merchant_ids":[%s],"message":"Entschuldigung!","reference":"T-1","notify":"email"%s}`, amount, merchantIDs, extra)
}

func verifyLedger(t *testing.T, s *models.Store) {
	t.Helper()
	problems, err := s.VerifyLedger(t.Context())
	if err != nil || len(problems) > 0 {
		t.Fatalf("ledger: %v %v", err, problems)
	}
}

func TestGiftAPI(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			s := e.a.Store
			cafe := fmt.Sprint(e.cafe.ID)

			res := e.api(t, e.key, "POST", "/api/v1/gifts", "ticket-1", giftBody(cafe, 15_00, ""))
			if res.Status != 201 {
				t.Fatalf("create: %d %s", res.Status, res.Body)
			}
			g := decode[giftJSON](t, res)
			if g.Status != "sent" || g.AmountCents != 15_00 || len(g.ID) != 16 || g.MerchantID == nil || *g.MerchantID != e.cafe.ID {
				t.Fatalf("gift %+v", g)
			}
			if !strings.HasPrefix(g.ClaimURL, "http://127.0.0.1:8080/c/") || len(strings.TrimPrefix(g.ClaimURL, "http://127.0.0.1:8080/c/")) < 22 {
				t.Fatalf("claim url %q", g.ClaimURL)
			}
			if !strings.HasPrefix(g.ExpiresAt, "20") || !strings.Contains(g.ExpiresAt, "-12-31T22:59:59Z") {
				t.Fatalf("expires %q", g.ExpiresAt)
			}
			// The claim token is not stored in clear.
			var n int64
			token := strings.TrimPrefix(g.ClaimURL, "http://127.0.0.1:8080/c/")
			s.DB().Model(&models.Gift{}).Where("claim_hash = ? OR public_id = ?", token, token).Count(&n)
			if n != 0 {
				t.Fatal("claim token stored in clear")
			}

			// Replays return the same gift; another body under the key is 409.
			again := e.api(t, e.key, "POST", "/api/v1/gifts", "ticket-1", giftBody(cafe, 15_00, ""))
			if again.Status != 200 || decode[giftJSON](t, again).ID != g.ID || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay: %d %s", again.Status, again.Body)
			}
			if res := e.api(t, e.key, "POST", "/api/v1/gifts", "ticket-1", giftBody(cafe, 16_00, "")); res.Status != 409 || !strings.Contains(res.Header.Get("Content-Type"), "problem+json") {
				t.Fatalf("changed body: %d %s", res.Status, res.Body)
			}
			// The same key at another company is another company's business.
			if res := e.api(t, e.otherKey, "POST", "/api/v1/gifts", "ticket-1", giftBody(cafe, 15_00, "")); res.Status != 201 {
				t.Fatalf("other company, same key: %d %s", res.Status, res.Body)
			}

			bad := []struct {
				name, idem, ctype, body string
				status                  int
				field                   string
			}{
				{"no idempotency key", "", "application/json", giftBody(cafe, 10_00, ""), 400, ""},
				{"idempotency key too long", strings.Repeat("k", 201), "application/json", giftBody(cafe, 10_00, ""), 400, ""},
				{"form body", "b1", "application/x-www-form-urlencoded", "amount_cents=100", 415, ""},
				{"malformed JSON", "b2", "application/json", `{"amount_cents": `, 400, ""},
				{"amount as text", "b3", "application/json", `{"amount_cents":"12,50","merchant_ids":[` + cafe + `],"notify":"none"}`, 422, "amount_cents"},
				{"zero amount", "b4", "application/json", giftBody(cafe, 0, ""), 422, "amount_cents"},
				{"huge amount", "b5", "application/json", giftBody(cafe, 5000_00, ""), 422, "amount_cents"},
				{"bad e-mail", "b6", "application/json", `{"recipient_email":"nope","amount_cents":500,"merchant_ids":[` + cafe + `],"notify":"email"}`, 422, "recipient_email"},
				{"e-mail required to notify", "b7", "application/json", `{"amount_cents":500,"merchant_ids":[` + cafe + `],"notify":"email"}`, 422, "recipient_email"},
				{"unknown merchant", "b9", "application/json", giftBody("999999", 10_00, ""), 422, "merchant_ids"},
				{"unapproved merchant", "b10", "application/json", giftBody(fmt.Sprint(e.draft.ID), 10_00, ""), 422, "merchant_ids"},
				{"six merchants", "b11", "application/json", giftBody("1,2,3,4,5,6", 10_00, ""), 422, "merchant_ids"},
				{"no merchant", "b12", "application/json", giftBody("", 10_00, ""), 422, "merchant_ids"},
				{"unknown place", "b13", "application/json", `{"amount_cents":500,"near":"Atlantis","notify":"none"}`, 422, "near"},
				{"negative merchant id", "b15", "application/json", giftBody("-1", 10_00, ""), 422, "merchant_ids"},
				{"not enough credit", "b16", "application/json", giftBody(cafe, 900_00, ""), 402, ""},
			}
			for _, tc := range bad {
				req := httptest.NewRequest("POST", "/api/v1/gifts", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", tc.ctype)
				req.Header.Set("Authorization", "Bearer "+e.key)
				if tc.idem != "" {
					req.Header.Set("Idempotency-Key", tc.idem)
				}
				res := apptest.NewClient(t, e.a.HTTP).Do(req)
				if res.Status != tc.status {
					t.Errorf("%s: status %d, want %d: %s", tc.name, res.Status, tc.status, res.Body)
					continue
				}
				if !strings.Contains(res.Header.Get("Content-Type"), "application/problem+json") {
					t.Errorf("%s: content type %q", tc.name, res.Header.Get("Content-Type"))
				}
				if tc.field != "" && !strings.Contains(res.Body, `"`+tc.field+`"`) {
					t.Errorf("%s: problem does not name %s: %s", tc.name, tc.field, res.Body)
				}
			}
			// A bad currency or delivery is 422 naming the field (the later JSON key wins).
			for _, tc := range []struct{ extra, field string }{{`,"currency":"USD"`, "currency"}, {`,"notify":"fax"`, "notify"}} {
				res := e.api(t, e.key, "POST", "/api/v1/gifts", "f-"+tc.field, giftBody(cafe, 10_00, tc.extra))
				if res.Status != 422 || !strings.Contains(res.Body, `"`+tc.field+`"`) {
					t.Errorf("%s: %d %s", tc.field, res.Status, res.Body)
				}
			}
			if res := e.api(t, "", "POST", "/api/v1/gifts", "x", giftBody(cafe, 10_00, "")); res.Status != 401 {
				t.Errorf("no key: %d", res.Status)
			}

			// Near a postcode: the nearest approved partners, for the customer to choose.
			res = e.api(t, e.key, "POST", "/api/v1/gifts", "near-1", `{"recipient_name":"Nora","amount_cents":1000,"near":"53111","notify":"none"}`)
			if res.Status != 201 {
				t.Fatalf("near: %d %s", res.Status, res.Body)
			}
			near := decode[giftJSON](t, res)
			if len(near.Merchants) != models.GiftNearMerchants || near.MerchantID != nil {
				t.Fatalf("near merchants %+v", near)
			}
			for _, m := range near.Merchants {
				if m.City != "Bonn" {
					t.Errorf("near 53111 offers a partner in %s", m.City)
				}
			}

			// Read one, list with filters and cursor.
			if res := e.api(t, e.key, "GET", "/api/v1/gifts/"+g.ID, "", ""); res.Status != 200 || decode[giftJSON](t, res).ID != g.ID {
				t.Fatalf("get: %d %s", res.Status, res.Body)
			}
			if res := e.api(t, e.key, "GET", "/api/v1/gifts/nosuchgift", "", ""); res.Status != 404 {
				t.Fatalf("unknown: %d", res.Status)
			}
			seen := map[string]bool{}
			path := "/api/v1/gifts?limit=1"
			for path != "" {
				res := e.api(t, e.key, "GET", path, "", "")
				if res.Status != 200 {
					t.Fatalf("list: %d %s", res.Status, res.Body)
				}
				page := decode[struct {
					Data       []giftJSON `json:"data"`
					NextCursor string     `json:"next_cursor"`
				}](t, res)
				for _, x := range page.Data {
					if seen[x.ID] {
						t.Fatalf("%s listed twice", x.ID)
					}
					seen[x.ID] = true
				}
				path = ""
				if page.NextCursor != "" {
					path = "/api/v1/gifts?limit=1&cursor=" + url.QueryEscape(page.NextCursor)
				}
			}
			if len(seen) != 2 {
				t.Fatalf("listed %d gifts, want 2 (own company only)", len(seen))
			}
			res = e.api(t, e.key, "GET", "/api/v1/gifts?reference=T-1&status=sent", "", "")
			if list := decode[struct{ Data []giftJSON }](t, res); len(list.Data) != 1 || list.Data[0].ID != g.ID {
				t.Fatalf("filtered list: %s", res.Body)
			}
			for _, q := range []string{"status=nope", "cursor=%21%21", "limit=1000"} {
				if res := e.api(t, e.key, "GET", "/api/v1/gifts?"+q, "", ""); res.Status != 422 {
					t.Errorf("list %s: %d", q, res.Status)
				}
			}

			// Balance: 500 € seeded, 15 € + 10 € reserved.
			res = e.api(t, e.key, "GET", "/api/v1/company/balance", "", "")
			bal := decode[map[string]any](t, res)
			if bal["available_cents"] != float64(475_00) || bal["reserved_cents"] != float64(25_00) || bal["currency"] != "EUR" {
				t.Fatalf("balance %s", res.Body)
			}

			// Tenant isolation: the other company sees and cancels nothing of ours.
			for _, p := range []string{"GET /api/v1/gifts/" + g.ID, "POST /api/v1/gifts/" + g.ID + "/cancel"} {
				method, path, _ := strings.Cut(p, " ")
				if res := e.api(t, e.otherKey, method, path, "", ""); res.Status != 404 {
					t.Errorf("other company %s: %d", p, res.Status)
				}
			}
			if res := e.api(t, e.otherKey, "GET", "/api/v1/gifts", "", ""); strings.Contains(res.Body, g.ID) {
				t.Error("other company lists our gift")
			}

			// Cancel before claim: the amount returns to the credit; twice is 409.
			res = e.api(t, e.key, "POST", "/api/v1/gifts/"+g.ID+"/cancel", "", "")
			if res.Status != 200 || decode[giftJSON](t, res).Status != "cancelled" || decode[giftJSON](t, res).BalanceCents != 0 {
				t.Fatalf("cancel: %d %s", res.Status, res.Body)
			}
			if res := e.api(t, e.key, "POST", "/api/v1/gifts/"+g.ID+"/cancel", "", ""); res.Status != 409 {
				t.Fatalf("cancel twice: %d", res.Status)
			}
			if b, _ := s.AccountBalance(t.Context(), models.AccountCompanyCredit(e.company.ID)); b != 490_00 {
				t.Fatalf("credit after cancel %d", b)
			}
			// After a claim, cancelling is 409.
			s.DB().Model(&models.Gift{}).Where("public_id = ?", near.ID).Update("status", models.GiftClaimed)
			if res := e.api(t, e.key, "POST", "/api/v1/gifts/"+near.ID+"/cancel", "", ""); res.Status != 409 {
				t.Fatalf("cancel after claim: %d %s", res.Status, res.Body)
			}
			verifyLedger(t, s)

			// VerifyLedger notices a gift whose balance disagrees with its account.
			s.DB().Model(&models.Gift{}).Where("public_id = ?", near.ID).Update("balance_cents", 1)
			problems, _ := s.VerifyLedger(t.Context())
			if len(problems) == 0 || problems[len(problems)-1].Check != "gift_balance" {
				t.Fatalf("tampered gift not found: %v", problems)
			}
		})
	}
}

// TestGiftConcurrentSends fires real concurrent requests at a running
// server: a credit covering 40 gifts gives exactly 40 gifts.
func TestGiftConcurrentSends(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			s := e.a.Store
			ctx := t.Context()
			_, co := apptest.MustCompany(t, s, "Ansturm GmbH")
			if _, err := s.GrantCredit(ctx, co.ID, 40*5_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			key, _, _ := s.CreateAPIKey(ctx, &co.ID, nil, "k", models.ActorCLI)
			base := apptest.Serve(t, e.a)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
			post := func(idem string) (int, string) {
				return postGiftHTTP(client, base, key, idem, giftBody(fmt.Sprint(e.cafe.ID), 5_00, ""))
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			counts := map[int]int{}
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, body := post(fmt.Sprintf("send-%d", i))
					mu.Lock()
					defer mu.Unlock()
					counts[st]++
					if st != 201 && st != 402 {
						t.Errorf("status %d: %s", st, body)
					}
				}()
			}
			wg.Wait()
			if counts[201] != 40 || counts[402] != 60 {
				t.Fatalf("statuses %v", counts)
			}
			if b, _ := s.AccountBalance(ctx, models.AccountCompanyCredit(co.ID)); b != 0 {
				t.Fatalf("credit left %d", b)
			}
			verifyLedger(t, s)

			// 40 concurrent replays of one key: one gift.
			if _, err := s.GrantCredit(ctx, co.ID, 10_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			ids := map[string]int{}
			statuses := map[int]int{}
			for range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, body := post("the-one")
					mu.Lock()
					defer mu.Unlock()
					statuses[st]++
					if st == 200 || st == 201 {
						var g giftJSON
						_ = json.Unmarshal([]byte(body), &g)
						ids[g.ID]++
					} else {
						t.Errorf("replay status %d: %s", st, body)
					}
				}()
			}
			wg.Wait()
			if len(ids) != 1 || statuses[201] != 1 || statuses[200] != 39 {
				t.Fatalf("replays: ids %v statuses %v", ids, statuses)
			}
			var n int64
			s.DB().Model(&models.Gift{}).Where("company_id = ?", co.ID).Count(&n)
			if n != 41 {
				t.Fatalf("%d gifts, want 41", n)
			}
			if b, _ := s.AccountBalance(ctx, models.AccountCompanyCredit(co.ID)); b != 5_00 {
				t.Fatalf("credit after replays %d", b)
			}
			verifyLedger(t, s)
		})
	}
}

// postGiftHTTP sends POST /api/v1/gifts to a served app over real HTTP (for
// concurrency tests) and returns the status and body; a transport error is
// status 0 with the error as body.
func postGiftHTTP(client *http.Client, base, key, idem, body string) (int, string) {
	req, _ := http.NewRequest("POST", base+"/api/v1/gifts", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Idempotency-Key", idem)
	res, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
