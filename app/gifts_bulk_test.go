package app_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

type bulkJSON struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Total       int    `json:"total"`
	Sent        int    `json:"sent"`
	AmountCents int64  `json:"amount_cents"`
	GiftsURL    string `json:"gifts_url"`
}

type bulkProblemJSON struct {
	Status     int      `json:"status"`
	Code       string   `json:"code"`
	Detail     string   `json:"detail"`
	Columns    []string `json:"columns"`
	ErrorCount int      `json:"error_count"`
	Errors     []struct {
		Row    int    `json:"row"`
		Field  string `json:"field"`
		Code   string `json:"code"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// bulkAPI posts a bulk body with a content type.
func (e *giftEnv) bulkAPI(t *testing.T, key, path, idem, ctype string, body []byte) *apptest.Response {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+key)
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	return apptest.NewClient(t, e.a.HTTP).Do(req)
}

type bulkCounts struct{ gifts, mails, batches, ledgerTx int64 }

func (e *giftEnv) bulkCounts(t *testing.T) bulkCounts {
	t.Helper()
	db := e.a.DB
	var c bulkCounts
	db.Model(&models.Gift{}).Count(&c.gifts)
	db.Model(&models.Mail{}).Count(&c.mails)
	db.Model(&models.BulkBatch{}).Count(&c.batches)
	db.Model(&models.LedgerTransaction{}).Count(&c.ledgerTx)
	return c
}

func (e *giftEnv) credit(t *testing.T) int64 {
	t.Helper()
	n, err := e.a.Store.AccountBalance(t.Context(), models.AccountCompanyCredit(e.company.ID))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBulkAPI(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			ctx := t.Context()
			before := e.bulkCounts(t)
			credit0 := e.credit(t)

			// CSV with BOM and ";": one partner by slug, by id, a choice, near a postcode, no mail.
			csv := "\ufeffrecipient_email;recipient_name;amount;merchant;near;message;reference;notify\r\n" +
				"kim@example.com;Kim Kundin;12,50;cafe-rheinblick;;Entschuldigung!;T-1;email\r\n" +
				fmt.Sprintf("alex@example.com;Alex;7.50;%d;;;T-2;\r\n", e.bakery.ID) +
				"sam@example.com;Sam;10;cafe-rheinblick|baeckerei-sonnenkorn;;;T-3;email\r\n" +
				"jo@example.com;Jo;5;;50667;;T-4;email\r\n" +
				";Ohne Mail;3,00;cafe-rheinblick;;;T-5;none\r\n"
			res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "batch-1", "text/csv", []byte(csv))
			if res.Status != 202 {
				t.Fatalf("csv: %d %s", res.Status, res.Body)
			}
			b := decode[bulkJSON](t, res)
			if b.Status != "sending" || b.Total != 5 || b.Sent != 0 || b.AmountCents != 38_00 || b.GiftsURL != "/api/v1/gifts/bulk/"+b.ID+"/gifts" {
				t.Fatalf("batch %+v", b)
			}
			// Accepted: the total is reserved at once, the gifts come from the job queue.
			if got := e.credit(t); got != credit0-38_00 {
				t.Fatalf("credit %d, want %d", got, credit0-38_00)
			}
			if c := e.bulkCounts(t); c.gifts != before.gifts {
				t.Fatalf("gifts before the job ran: +%d", c.gifts-before.gifts)
			}
			bal := e.api(t, e.key, "GET", "/api/v1/company/balance", "", "")
			if !strings.Contains(bal.Body, fmt.Sprintf(`"available_cents":%d`, credit0-38_00)) {
				t.Fatalf("balance while sending: %s", bal.Body)
			}
			verifyLedger(t, e.a.Store)
			if n := e.a.RunBulk(ctx); n != 1 {
				t.Fatalf("bulk job finished %d batches", n)
			}
			if n := e.a.RunBulk(ctx); n != 0 {
				t.Fatalf("second bulk run finished %d batches", n)
			}
			after := e.bulkCounts(t)
			if after.gifts-before.gifts != 5 || after.mails-before.mails != 4 {
				t.Fatalf("gifts +%d mails +%d", after.gifts-before.gifts, after.mails-before.mails)
			}
			if got := e.credit(t); got != credit0-38_00 {
				t.Fatalf("credit %d, want %d", got, credit0-38_00)
			}
			verifyLedger(t, e.a.Store)

			// The gifts are ordinary gifts: listed, claimable, with offers.
			list := e.api(t, e.key, "GET", b.GiftsURL, "", "")
			gl := decode[struct {
				Data []giftJSON `json:"data"`
			}](t, list)
			if list.Status != 200 || len(gl.Data) != 5 {
				t.Fatalf("batch gifts: %d %s", list.Status, list.Body)
			}
			offers := map[int]int{}
			for _, g := range gl.Data {
				if g.Status != "sent" || g.ClaimURL == "" {
					t.Fatalf("gift %+v", g)
				}
				offers[len(g.Merchants)]++
				if claim := apptest.NewClient(t, e.a.HTTP).Get(strings.TrimPrefix(g.ClaimURL, "http://127.0.0.1:8080")); claim.Status != 200 {
					t.Fatalf("claim page %d", claim.Status)
				}
			}
			if offers[1] != 3 || offers[2] != 1 || offers[3] != 1 { // near offers GiftNearMerchants partners
				t.Fatalf("offers per gift %v", offers)
			}
			var mail models.Mail
			e.a.DB.Where("to_addr = ?", "kim@example.com").First(&mail)
			if !strings.Contains(mail.Text, "/c/") || !strings.Contains(mail.Text, "Entschuldigung!") || mail.Status != models.MailQueued {
				t.Fatalf("mail %+v", mail)
			}
			if n := e.a.DeliverMails(ctx); n < 1 {
				t.Fatalf("worker delivered %d mails", n)
			}

			// Progress; another company's key sees nothing.
			if res := e.api(t, e.key, "GET", "/api/v1/gifts/bulk/"+b.ID, "", ""); res.Status != 200 || decode[bulkJSON](t, res).Sent != 5 || decode[bulkJSON](t, res).Status != "sent" {
				t.Fatalf("progress: %d %s", res.Status, res.Body)
			}
			for _, p := range []string{"/api/v1/gifts/bulk/" + b.ID, "/api/v1/gifts/bulk/" + b.ID + "/gifts"} {
				if res := e.api(t, e.otherKey, "GET", p, "", ""); res.Status != 404 {
					t.Fatalf("other company %s: %d", p, res.Status)
				}
			}

			// Replay: same batch; another body under the key: 409.
			again := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "batch-1", "text/csv", []byte(csv))
			if again.Status != 200 || decode[bulkJSON](t, again).ID != b.ID || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay: %d %s", again.Status, again.Body)
			}
			if res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "batch-1", "text/csv", []byte(csv+"x@example.com;X;1;cafe-rheinblick;;;;\r\n")); res.Status != 409 {
				t.Fatalf("changed body: %d %s", res.Status, res.Body)
			}
			if n := e.bulkCounts(t).gifts; n != after.gifts {
				t.Fatalf("replays created %d gifts", n-after.gifts)
			}

			// JSON with the fields of POST /api/v1/gifts.
			js := fmt.Sprintf(`{"gifts":[{"recipient_email":"a@example.com","amount_cents":500,"merchant_ids":[%d],"notify":"email","language":"en"},`+
				`{"recipient_email":"b@example.com","amount_cents":600,"near":"Köln","reference":"J-2"}]}`, e.cafe.ID)
			res = e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "json-1", "application/json", []byte(js))
			if res.Status != 202 || decode[bulkJSON](t, res).Total != 2 {
				t.Fatalf("json: %d %s", res.Status, res.Body)
			}
			e.a.RunBulk(ctx)
			var en models.Gift
			e.a.DB.Where("recipient_email = ?", "a@example.com").First(&en)
			if en.Lang != "en" || en.Notify != "email" || en.Status != models.GiftSent {
				t.Fatalf("json gift %+v", en)
			}
			verifyLedger(t, e.a.Store)

			// Invalid rows: 422 listing each, nothing written.
			mid := e.bulkCounts(t)
			credit1 := e.credit(t)
			badCSV := "recipient_email,amount,merchant,message\n" +
				"ok@example.com,5,cafe-rheinblick,fine\n" +
				"not-an-email,5,cafe-rheinblick,\n" +
				"c@example.com,12;50,cafe-rheinblick,\n" +
				"d@example.com,5,gibts-nicht,\n" +
				"e@example.com,5,cafe-rheinblick,\"=HYPERLINK(\"\"http://evil\"\")\"\n" +
				fmt.Sprintf("f@example.com,5,%d,\n", e.draft.ID) +
				"g@example.com,5000,cafe-rheinblick,\n" +
				"h@example.com,-5,cafe-rheinblick,\n" +
				"i@example.com,5,,\n"
			res = e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "bad-1", "text/csv", []byte(badCSV))
			if res.Status != 422 || !strings.Contains(res.Header.Get("Content-Type"), "problem+json") {
				t.Fatalf("bad rows: %d %s", res.Status, res.Body)
			}
			p := decode[bulkProblemJSON](t, res)
			want := map[string]string{"3/recipient_email": "invalid_email", "4/amount": "bulk_amount", "5/merchant": "bulk_merchant_unknown",
				"6/message": "bulk_formula", "7/merchant": "bulk_merchant_unknown", "8/amount": "gift_amount_range", "9/amount": "bulk_formula", "10/merchant": "required"}
			got := map[string]string{}
			for _, x := range p.Errors {
				got[fmt.Sprintf("%d/%s", x.Row, x.Field)] = x.Code
				if x.Detail == "" {
					t.Errorf("row %d %s: no detail", x.Row, x.Field)
				}
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("error %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			if p.ErrorCount != len(want) || len(got) != len(want) {
				t.Errorf("errors %v", got)
			}
			if c := e.bulkCounts(t); c != mid || e.credit(t) != credit1 {
				t.Fatalf("invalid batch wrote something: %+v vs %+v", c, mid)
			}

			// Whole-file problems.
			latin1 := []byte("recipient_email;recipient_name;amount;merchant\nk@example.com;J\xfcrgen M\xfcller;5;cafe-rheinblick\n")
			files := []struct {
				name, ctype string
				body        []byte
				status      int
				code        string
			}{
				{"windows-1252", "text/csv", latin1, 422, "bulk_encoding"},
				{"utf-16", "text/csv", []byte("\xff\xfer\x00"), 422, "bulk_encoding"},
				{"missing columns", "text/csv", []byte("recipient_email;recipient_name\na@example.com;A\n"), 422, "bulk_columns"},
				{"header only", "text/csv", []byte("recipient_email;amount;merchant\n"), 422, "bulk_empty"},
				{"unclosed quote", "text/csv", []byte("recipient_email;amount;merchant\n\"a@example.com;5;x\n"), 422, "bulk_malformed"},
				{"over 10 MB", "text/csv", bytes.Repeat([]byte("a"), models.BulkMaxBytes+1), 413, "payload_too_large"},
				{"xml", "application/xml", []byte("<gifts/>"), 415, ""},
				{"empty json", "application/json", []byte(`{"gifts":[]}`), 422, "validation_failed"},
			}
			for _, f := range files {
				res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "file-"+f.name, f.ctype, f.body)
				if res.Status != f.status || (f.code != "" && decode[bulkProblemJSON](t, res).Code != f.code) {
					t.Errorf("%s: %d %s", f.name, res.Status, res.Body)
				}
			}
			if res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "file-cols", "text/csv", []byte("recipient_email;recipient_name\na@example.com;A\n")); !strings.Contains(res.Body, "amount | amount_cents") || !strings.Contains(res.Body, "merchant | near") {
				t.Errorf("missing columns not named: %s", res.Body)
			}
			if c := e.bulkCounts(t); c != mid {
				t.Fatalf("file errors wrote something: %+v vs %+v", c, mid)
			}

			// Dry run: validation only, no key needed, nothing stored.
			res = e.bulkAPI(t, e.key, "/api/v1/gifts/bulk?dry_run=true", "", "text/csv", []byte(badCSV))
			dr := decode[struct {
				Valid      bool  `json:"valid"`
				Total      int   `json:"total"`
				ValidRows  int   `json:"valid_rows"`
				Amount     int64 `json:"amount_cents"`
				ErrorCount int   `json:"error_count"`
			}](t, res)
			if res.Status != 200 || dr.Valid || dr.Total != 9 || dr.ValidRows != 1 || dr.Amount != 5_00 || dr.ErrorCount != 8 {
				t.Fatalf("dry run: %d %s", res.Status, res.Body)
			}
			if res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "", "text/csv", []byte(csv)); res.Status != 400 {
				t.Fatalf("no key: %d", res.Status)
			}

			// Not enough credit for the total: 402 and nothing written.
			var big strings.Builder
			big.WriteString("recipient_email,amount_cents,merchant\n")
			for i := range 200 {
				fmt.Fprintf(&big, "r%d@example.com,1000,cafe-rheinblick\n", i) // 2,000 € > the credit left
			}
			res = e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "too-much", "text/csv", []byte(big.String()))
			if res.Status != 402 || decode[bulkProblemJSON](t, res).Code != "insufficient_balance" {
				t.Fatalf("insufficient: %d %s", res.Status, res.Body)
			}
			if c := e.bulkCounts(t); c != mid || e.credit(t) != credit1 {
				t.Fatalf("402 wrote something: %+v vs %+v", c, mid)
			}
			var rows int64
			e.a.DB.Model(&models.BulkRow{}).Count(&rows)
			if rows != 0 {
				t.Fatalf("%d bulk rows left (they hold recipient addresses)", rows)
			}
			bal = e.api(t, e.key, "GET", "/api/v1/company/balance", "", "")
			if !strings.Contains(bal.Body, fmt.Sprintf(`"available_cents":%d`, credit1)) {
				t.Fatalf("balance %s", bal.Body)
			}
			verifyLedger(t, e.a.Store)
		})
	}
}

// uploadCSV posts a file as the web form does (multipart with the CSRF token).
func uploadCSV(t *testing.T, c *apptest.Client, name string, data []byte) *apptest.Response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("_csrf", c.CSRF()); err != nil {
		t.Fatal(err)
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	req := httptest.NewRequest("POST", "/gifts/bulk", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.Do(req)
}

func TestBulkWeb(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			agent := apptest.NewClient(t, e.a.HTTP)
			agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
			if res := agent.Get("/gifts/bulk"); res.Status != 200 || !strings.Contains(res.Body, `enctype="multipart/form-data"`) || !strings.Contains(res.Body, "amount_cents") {
				t.Fatalf("form: %d", res.Status)
			}
			if res := agent.Get("/gifts/bulk/sample.csv"); res.Status != 200 || !strings.HasPrefix(res.Body, "\ufeffrecipient_email;") {
				t.Fatalf("sample: %d %q", res.Status, res.Body)
			}
			before := e.bulkCounts(t)

			// Whole-file problems re-render the form with 422 and a message.
			for _, f := range []struct {
				name string
				data []byte
				msg  string
			}{
				{"latin1.csv", []byte("recipient_email;amount;merchant\nj@example.com;5;caf\xe9\n"), "UTF-8"},
				{"cols.csv", []byte("email;betrag\na@example.com;5\n"), "amount | amount_cents"},
				{"big.csv", bytes.Repeat([]byte("x"), models.BulkMaxBytes+10), "10 MB"},
			} {
				res := uploadCSV(t, agent, f.name, f.data)
				if res.Status != 422 || !strings.Contains(res.Body, f.msg) || !strings.Contains(res.Body, "bulk-file-error") {
					t.Errorf("%s: %d", f.name, res.Status)
				}
			}
			// Only bad rows: the errors right away (422), nothing stored.
			res := uploadCSV(t, agent, "bad.csv", []byte("recipient_email,amount,merchant\n@evil.com,5,cafe-rheinblick\nx@example.com,abc,cafe-rheinblick\n"))
			if res.Status != 422 || !strings.Contains(res.Body, "bulk-error-table") || strings.Contains(res.Body, "bulk-send") {
				t.Fatalf("bad rows: %d", res.Status)
			}
			if c := e.bulkCounts(t); c != before {
				t.Fatalf("file errors wrote something")
			}

			// A good upload with one bad row: preview, then one click sends the valid rows.
			good := "recipient_email;recipient_name;amount;merchant;reference\n" +
				"eins@example.com;Eins;10,00;cafe-rheinblick;W-1\n" +
				"zwei@example.com;Zwei;5.50;baeckerei-sonnenkorn;W-2\n" +
				"drei@example.com;Drei;=1+1;cafe-rheinblick;W-3\n"
			res = uploadCSV(t, agent, "gute.csv", []byte(good))
			if res.Status != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/gifts/bulk/") {
				t.Fatalf("upload: %d %s", res.Status, res.Body)
			}
			loc := res.Header.Get("Location")
			preview := agent.Get(loc)
			for _, want := range []string{`id="bulk-valid">2<`, `id="bulk-errors">1<`, "15,50", "bulk-send", "<td>4</td>", "<code>amount</code>"} {
				if !strings.Contains(preview.Body, want) {
					t.Fatalf("preview lacks %q:\n%s", want, preview.Body)
				}
			}
			if c := e.bulkCounts(t); c.gifts != before.gifts || c.batches != before.batches+1 {
				t.Fatalf("preview sent something: %+v", c)
			}
			credit0 := e.credit(t)
			// Another company never sees the batch.
			other := apptest.NewClient(t, e.a.HTTP)
			other.Login("andere-firma@example.com", "correct horse battery")
			if res := other.Get(loc); res.Status != 404 {
				t.Fatalf("other company preview: %d", res.Status)
			}
			if res := other.PostForm(loc+"/send", nil); res.Status != 404 {
				t.Fatalf("other company send: %d", res.Status)
			}
			// Double submit: the second click sends nothing more.
			first := agent.PostForm(loc+"/send", url.Values{})
			second := agent.PostForm(loc+"/send", url.Values{})
			if first.Status != 303 || second.Status != 303 {
				t.Fatalf("send: %d %d", first.Status, second.Status)
			}
			sending := agent.Get(loc)
			if !strings.Contains(sending.Body, `hx-trigger="every 2s"`) || strings.Contains(sending.Body, `id="bulk-send"`) || e.credit(t) != credit0-15_50 {
				t.Fatalf("sending page:\n%s", sending.Body)
			}
			e.a.RunBulk(t.Context())
			c := e.bulkCounts(t)
			if c.gifts-before.gifts != 2 || c.mails-before.mails != 2 || e.credit(t) != credit0-15_50 {
				t.Fatalf("after send: %+v (before %+v)", c, before)
			}
			done := agent.Get(loc)
			if !strings.Contains(done.Body, `id="bulk-sent">2<`) || strings.Contains(done.Body, `id="bulk-send"`) || strings.Contains(done.Body, "every 2s") {
				t.Fatalf("result page:\n%s", done.Body)
			}
			var g models.Gift
			e.a.DB.Where("recipient_email = ?", "eins@example.com").First(&g)
			if g.Status != models.GiftSent || g.SenderUserID == nil || g.Reference != "W-1" {
				t.Fatalf("gift %+v", g)
			}
			verifyLedger(t, e.a.Store)

			// Above the agent's limits (25 € per gift) the whole batch is refused.
			res = uploadCSV(t, agent, "gross.csv", []byte("recipient_email;amount;merchant\nv@example.com;30;cafe-rheinblick\nw@example.com;5;cafe-rheinblick\n"))
			if res.Status != 303 {
				t.Fatalf("upload over limit: %d", res.Status)
			}
			over := res.Header.Get("Location")
			mid := e.bulkCounts(t)
			res = agent.PostForm(over+"/send", nil)
			if res.Status != 422 || !strings.Contains(res.Body, "Rahmen") || !strings.Contains(res.Body, `id="bulk-send"`) {
				t.Fatalf("over limit: %d", res.Status)
			}
			if c := e.bulkCounts(t); c != mid {
				t.Fatalf("over-limit batch wrote something")
			}
			// The monthly budget (200 €) counts the batch as a whole too.
			var many strings.Builder
			many.WriteString("recipient_email;amount;merchant\n")
			for i := range 9 {
				fmt.Fprintf(&many, "m%d@example.com;24;baeckerei-sonnenkorn\n", i) // 216 € in all
			}
			res = uploadCSV(t, agent, "monat.csv", []byte(many.String()))
			if res = agent.PostForm(res.Header.Get("Location")+"/send", nil); res.Status != 422 {
				t.Fatalf("over budget: %d", res.Status)
			}
			// Another agent cannot send someone else's preview.
			agent2 := apptest.NewClient(t, e.a.HTTP)
			agent2.Login("agent2@beispiel-verlag.example", "demo-agent-2026")
			if res := agent2.PostForm(over+"/send", nil); res.Status != 404 {
				t.Fatalf("other agent send: %d", res.Status)
			}
			if c := e.bulkCounts(t); c.gifts != mid.gifts {
				t.Fatalf("refused batches wrote gifts")
			}
			verifyLedger(t, e.a.Store)
		})
	}
}

// TestBulkLarge sends 2,000 gifts from one CSV: every gift, mail and ledger
// transaction is there, the mails are spread over the queue, and the
// batch's rows are gone.
func TestBulkLarge(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			ctx := t.Context()
			if _, err := e.a.Store.GrantCredit(ctx, e.company.ID, 10_000_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			// A webhook endpoint gets gift.sent for every gift, as for single sends.
			admin, err := e.a.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.a.Store.AddWebhookEndpoint(ctx, e.company.ID, admin.ID, "https://helpdesk.example/hook", false); err != nil {
				t.Fatal(err)
			}
			before := e.bulkCounts(t)
			credit0 := e.credit(t)
			const n = 2000
			var sb strings.Builder
			sb.WriteString("recipient_email,recipient_name,amount,merchant,reference\n")
			var total int64
			for i := range n {
				cents := int64(100 + i%900)
				total += cents
				m := "cafe-rheinblick"
				if i%3 == 0 {
					m = "cafe-rheinblick|baeckerei-sonnenkorn"
				}
				fmt.Fprintf(&sb, "kunde%d@example.com,Kunde %d,%d.%02d,%s,L-%d\n", i, i, cents/100, cents%100, m, i)
			}
			res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "large", "text/csv", []byte(sb.String()))
			if res.Status != 202 {
				t.Fatalf("large: %d %s", res.Status, res.Body)
			}
			if n := e.a.RunBulk(ctx); n != 1 {
				t.Fatalf("bulk job finished %d batches", n)
			}
			b := decode[bulkJSON](t, e.api(t, e.key, "GET", "/api/v1/gifts/bulk/"+decode[bulkJSON](t, res).ID, "", ""))
			c := e.bulkCounts(t)
			if b.Total != n || b.Sent != n || b.AmountCents != total || c.gifts-before.gifts != n || c.mails-before.mails != n {
				t.Fatalf("batch %+v, counts %+v vs %+v", b, c, before)
			}
			// One gift.sent transaction per gift, plus the reservation.
			if c.ledgerTx-before.ledgerTx != n+1 {
				t.Fatalf("ledger transactions +%d", c.ledgerTx-before.ledgerTx)
			}
			if e.credit(t) != credit0-total {
				t.Fatalf("credit %d, want %d", e.credit(t), credit0-total)
			}
			var hooks, distinct int64
			e.a.DB.Model(&models.WebhookDelivery{}).Where("event_type = ?", models.HookGiftSent).Count(&hooks)
			e.a.DB.Model(&models.Gift{}).Where("company_id = ? AND reference LIKE 'L-%'", e.company.ID).Distinct("public_id").Count(&distinct)
			if hooks != n || distinct != n {
				t.Fatalf("hooks %d, distinct gifts %d", hooks, distinct)
			}
			var rows int64
			e.a.DB.Model(&models.BulkRow{}).Count(&rows)
			if rows != 0 {
				t.Fatalf("%d bulk rows left", rows)
			}
			// Mails are spread out: only the first part is due now.
			var due int64
			e.a.DB.Model(&models.Mail{}).Where("next_attempt <= ?", e.a.Store.Now()).Count(&due)
			if due >= n {
				t.Fatalf("all %d bulk mails due at once", due)
			}
			bal, err := e.a.Store.CompanyBalance(ctx, e.company.ID)
			if err != nil || bal.ReservedCents < total {
				t.Fatalf("balance %+v %v", bal, err)
			}
			verifyLedger(t, e.a.Store)
		})
	}
}

// TestBulkJobs covers the job side: partner caps and holidays are row
// errors (counting the batch's own rows) and are checked again when
// sending; a batch leased by a running job is left alone until the lease
// runs out; two jobs at once write every gift once; previews expire and
// their rows (recipient addresses) are deleted.
func TestBulkJobs(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			ctx := t.Context()
			db := e.a.DB

			// The bakery takes two more gifts this month; the café is on holiday.
			if err := db.Model(&models.Merchant{}).Where("id = ?", e.bakery.ID).Update("monthly_gift_cap", 2).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Model(&models.Merchant{}).Where("id = ?", e.cafe.ID).Update("gifts_paused", true).Error; err != nil {
				t.Fatal(err)
			}
			capCSV := "recipient_email;amount;merchant\n" +
				"a@example.com;5;baeckerei-sonnenkorn\nb@example.com;5;baeckerei-sonnenkorn\nc@example.com;5;baeckerei-sonnenkorn\n" +
				"d@example.com;5;cafe-rheinblick\n"
			res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk?dry_run=true", "", "text/csv", []byte(capCSV))
			p := decode[bulkProblemJSON](t, res)
			got := map[string]string{}
			for _, x := range p.Errors {
				got[fmt.Sprintf("%d/%s", x.Row, x.Field)] = x.Code
			}
			if res.Status != 200 || len(got) != 2 || got["4/merchant"] != "bulk_merchant_cap" || got["5/merchant"] != "bulk_merchant_unavailable" {
				t.Fatalf("caps: %d %v", res.Status, got)
			}
			db.Model(&models.Merchant{}).Where("id = ?", e.cafe.ID).Update("gifts_paused", false)

			// A web preview made before the partner's cap filled up is refused when sent.
			agent := apptest.NewClient(t, e.a.HTTP)
			agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
			up := uploadCSV(t, agent, "zwei.csv", []byte("recipient_email;amount;merchant\nx@example.com;5;baeckerei-sonnenkorn\ny@example.com;5;baeckerei-sonnenkorn\n"))
			if up.Status != 303 {
				t.Fatalf("upload: %d", up.Status)
			}
			if res := e.api(t, e.key, "POST", "/api/v1/gifts", "fill-cap", giftBody(fmt.Sprint(e.bakery.ID), 5_00, "")); res.Status != 201 {
				t.Fatalf("single gift: %d %s", res.Status, res.Body)
			}
			credit0 := e.credit(t)
			if res := agent.PostForm(up.Header.Get("Location")+"/send", nil); res.Status != 422 || !strings.Contains(res.Body, "Vorschau") {
				t.Fatalf("stale preview: %d", res.Status)
			}
			if e.credit(t) != credit0 {
				t.Fatal("stale preview reserved credit")
			}

			// A batch leased by a running job waits until the lease is over.
			body := "recipient_email;amount;merchant\n"
			for i := range 30 {
				body += fmt.Sprintf("k%d@example.com;1;cafe-rheinblick\n", i)
			}
			res = e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "leased", "text/csv", []byte(body))
			if res.Status != 202 {
				t.Fatalf("submit: %d %s", res.Status, res.Body)
			}
			id := decode[bulkJSON](t, res).ID
			db.Model(&models.BulkBatch{}).Where("public_id = ?", id).Update("locked_until", e.a.Store.Now().Add(time.Minute))
			if n := e.a.RunBulk(ctx); n != 0 {
				t.Fatalf("leased batch run by another job")
			}
			db.Model(&models.BulkBatch{}).Where("public_id = ?", id).Update("locked_until", e.a.Store.Now().Add(-time.Second))
			// Two jobs at once (two instances): every gift exactly once.
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() { defer wg.Done(); e.a.RunBulk(ctx) }()
			}
			wg.Wait()
			e.a.RunBulk(ctx)
			var n int64
			db.Model(&models.Gift{}).Where("idempotency_key LIKE ?", "bulk:"+id+":%").Count(&n)
			b, err := e.a.Store.BulkBatchByPublicID(ctx, e.company.ID, id)
			if err != nil || n != 30 || b.Status != models.BulkSent || b.SentCount != 30 {
				t.Fatalf("after two jobs: %d gifts, batch %+v %v", n, b, err)
			}
			verifyLedger(t, e.a.Store)

			// An unsent preview expires after a day; its rows are deleted.
			up = uploadCSV(t, agent, "alt.csv", []byte("recipient_email;amount;merchant\nalt@example.com;5;cafe-rheinblick\n"))
			old := strings.TrimPrefix(up.Header.Get("Location"), "/gifts/bulk/")
			db.Model(&models.BulkBatch{}).Where("public_id = ?", old).Update("created_at", e.a.Store.Now().Add(-models.BulkPreviewTTL-time.Minute))
			e.a.RunBulk(ctx)
			var rows int64
			ob, err := e.a.Store.BulkBatchByPublicID(ctx, e.company.ID, old)
			db.Model(&models.BulkRow{}).Where("batch_id = ?", ob.ID).Count(&rows)
			if err != nil || ob.Status != models.BulkExpired || rows != 0 {
				t.Fatalf("expired preview: %+v %v, %d rows", ob, err, rows)
			}
			if res := agent.PostForm("/gifts/bulk/"+old+"/send", nil); res.Status != 303 || e.credit(t) != credit0-30_00 {
				t.Fatalf("send expired preview: %d", res.Status)
			}
			if page := agent.Get("/gifts/bulk/" + old); !strings.Contains(page.Body, "abgelaufen") || strings.Contains(page.Body, `id="bulk-send"`) {
				t.Fatalf("expired preview page:\n%s", page.Body)
			}
		})
	}
}

// Bulk rows follow the company's reason list and per-customer cap like
// single sends: an unknown or deactivated reason and a recipient over the
// cap (earlier gifts plus the batch's own earlier rows) are row errors.
func TestBulkReasonsAndCustomerCap(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			db := e.a.DB
			if err := db.Create(&models.GiftSettings{CompanyID: e.company.ID, CapCount: 2, CapDays: 30}).Error; err != nil {
				t.Fatal(err)
			}
			// One earlier gesture to kundin@: one more is allowed, the second is over the cap.
			if res := e.api(t, e.key, "POST", "/api/v1/gifts", "earlier-a", giftBody(fmt.Sprint(e.bakery.ID), 5_00, "")); res.Status != 201 {
				t.Fatalf("single gift: %d %s", res.Status, res.Body)
			}
			csv := "recipient_email;amount;merchant;reason_code\n" +
				"kundin@example.com;5;cafe-rheinblick;late_delivery\n" + // row 2: second gesture, fine
				"KUNDIN@example.com;5;cafe-rheinblick;defect\n" + // row 3: third → over the cap
				"b@example.com;5;cafe-rheinblick;gibtsnicht\n" + // row 4: unknown reason
				"c@example.com;5;cafe-rheinblick;\n" // row 5: no reason, fine
			res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk?dry_run=true", "", "text/csv", []byte(csv))
			p := decode[bulkProblemJSON](t, res)
			got := map[string]string{}
			for _, x := range p.Errors {
				got[fmt.Sprintf("%d/%s", x.Row, x.Field)] = x.Code
			}
			if len(got) != 2 || got["3/recipient_email"] != models.MsgGiftCustomerCap || got["4/reason_code"] != models.MsgGiftReason {
				t.Fatalf("row errors: %d %v", res.Status, got)
			}
			before := e.bulkCounts(t)
			if res := e.bulkAPI(t, e.key, "/api/v1/gifts/bulk", "capped", "text/csv", []byte(csv)); res.Status != 422 {
				t.Fatalf("submit with row errors: %d %s", res.Status, res.Body)
			}
			if after := e.bulkCounts(t); after != before {
				t.Fatalf("rejected batch wrote: %+v → %+v", before, after)
			}
		})
	}
}

// A spreadsheet, PDF or image uploaded instead of the CSV is named as such
// (422 on the file field), not taken for a Windows-1252 CSV.
func TestBulkUploadOfNonCSVFile(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	for name, body := range map[string][]byte{
		"gifts.xlsx": []byte("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"),
		"logo.png":   []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		"scan.pdf":   []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
	} {
		res := uploadCSV(t, c, name, body)
		if res.Status != 422 || !strings.Contains(res.Body, "Das ist keine CSV-Datei") || strings.Contains(res.Body, "Windows-1252") {
			t.Errorf("%s: %d, want 422 'keine CSV-Datei'", name, res.Status)
		}
	}
	latin1 := []byte("recipient_email;recipient_name;amount;merchant\nk@example.com;J\xfcrgen;5;cafe-rheinblick\n")
	if res := uploadCSV(t, c, "latin1.csv", latin1); res.Status != 422 || !strings.Contains(res.Body, "Windows-1252") {
		t.Errorf("latin-1 CSV: %d, want the encoding advice", res.Status)
	}
}
