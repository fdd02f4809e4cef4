package app_test

import (
	"fmt"
	"net/http"
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

// settingsClients logs in the demo company's admin and agent and the admin of
// the second company.
func settingsClients(t *testing.T, e *giftEnv) (admin, agent, other *apptest.Client) {
	t.Helper()
	admin = apptest.NewClient(t, e.a.HTTP)
	admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	agent = apptest.NewClient(t, e.a.HTTP)
	agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
	other = apptest.NewClient(t, e.a.HTTP)
	other.Login("andere-firma@example.com", "correct horse battery")
	return admin, agent, other
}

// seedGiftEnv fills a giftEnv around an app built by the test (demo data,
// keys for the demo company and a second one).
func seedGiftEnv(t *testing.T, e *giftEnv) {
	t.Helper()
	ctx := t.Context()
	if _, err := app.SeedDemo(ctx, e.a.Store, e.a.Places); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.company, err = e.a.Store.CompanyBySlug(ctx, "beispiel-verlag"); err != nil {
		t.Fatal(err)
	}
	if e.key, _, err = e.a.Store.CreateAPIKey(ctx, &e.company.ID, nil, "help desk", models.ActorCLI); err != nil {
		t.Fatal(err)
	}
	_, e.otherCo = apptest.MustCompany(t, e.a.Store, "Andere Firma")
	e.cafe, _ = e.a.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	e.bakery, _ = e.a.Store.MerchantBySlug(ctx, "baeckerei-sonnenkorn")
}

func mustStatus(t *testing.T, what string, res *apptest.Response, want int) *apptest.Response {
	t.Helper()
	if res.Status != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, res.Status, want, res.Body)
	}
	return res
}

func webGift(c *apptest.Client, idem string, merchantID uint, extra url.Values) *apptest.Response {
	v := url.Values{"idem": {idem}, "recipient_name": {"Kim"}, "recipient_email": {"kim@example.com"},
		"amount": {"10"}, "mode": {"one"}, "merchant_id": {fmt.Sprint(merchantID)}, "lang": {"de"}}
	for k, vals := range extra {
		v[k] = vals
	}
	return c.PostForm("/gifts", v)
}

func TestGiftTemplatesCRUDAndIsolation(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			s := e.a.Store
			admin, agent, other := settingsClients(t, e)

			// Agents have no settings; the gifts page links them for admins.
			mustStatus(t, "agent settings", agent.Get("/company/settings"), 404)
			mustStatus(t, "agent adds template", agent.PostForm("/company/templates", url.Values{"tpl_name": {"X"}, "tpl_text": {"Y"}}), 404)
			if r := admin.Get("/gifts"); !strings.Contains(r.Body, `href="/company/settings"`) {
				t.Fatal("no link to the settings page")
			}

			// Bad input re-renders with 422 and the field's message.
			r := mustStatus(t, "empty template", admin.PostForm("/company/templates", url.Values{"tpl_name": {"Versand"}, "tpl_text": {"  "}}), 422)
			if !strings.Contains(r.Body, `id="f-tpl_text-err"`) {
				t.Fatalf("no field error:\n%s", r.Body)
			}
			mustStatus(t, "create", admin.PostForm("/company/templates", url.Values{"tpl_name": {"Versand"}, "tpl_text": {"Ihr Paket kam zu spät – das tut uns leid."}}), 303)
			ts, _ := s.GiftTemplates(t.Context(), e.company.ID)
			if len(ts) != 1 || ts[0].Name != "Versand" {
				t.Fatalf("templates %+v", ts)
			}
			id := fmt.Sprint(ts[0].ID)
			if r := mustStatus(t, "settings", admin.Get("/company/settings"), 200); !strings.Contains(r.Body, "Ihr Paket kam zu spät") {
				t.Fatal("template not listed")
			}
			mustStatus(t, "edit form", admin.Get("/company/templates/"+id), 200)
			mustStatus(t, "update invalid", admin.PostForm("/company/templates/"+id, url.Values{"tpl_name": {""}, "tpl_text": {"x"}}), 422)
			mustStatus(t, "update", admin.PostForm("/company/templates/"+id, url.Values{"tpl_name": {"Versand spät"}, "tpl_text": {"Ihr Paket kam leider zu spät."}}), 303)

			// Another company sees none of it: 404 like an unknown id.
			mustStatus(t, "other reads", other.Get("/company/templates/"+id), 404)
			mustStatus(t, "other edits", other.PostForm("/company/templates/"+id, url.Values{"tpl_name": {"Gekapert"}, "tpl_text": {"x"}}), 404)
			mustStatus(t, "other deletes", other.PostForm("/company/templates/"+id+"/delete", nil), 404)
			if r := other.Get("/company/settings"); r.Status != 200 || strings.Contains(r.Body, "Versand spät") {
				t.Fatalf("other company's settings: %d", r.Status)
			}
			if r := mustStatus(t, "unknown", admin.Get("/company/templates/999999"), 404); r.Status != 404 {
				t.Fatal()
			}
			if tpl, _ := s.GiftTemplate(t.Context(), e.company.ID, ts[0].ID); tpl.Name != "Versand spät" {
				t.Fatalf("template changed by another company: %+v", tpl)
			}

			// The agent picks it on the form (with JS data for filling) …
			form := mustStatus(t, "form", agent.Get("/gifts/new"), 200)
			if !strings.Contains(form.Body, `data-text="Ihr Paket kam leider zu spät."`) || !strings.Contains(form.Body, `src="/static/js/gift_templates.js"`) {
				t.Fatalf("no template on the form:\n%s", form.Body)
			}
			// … and without JS an empty message is filled from it on the server.
			gid := giftIDFromLocation(t, webGift(agent, "tpl-1", e.cafe.ID, url.Values{"template_id": {id}, "message": {""}}))
			g, _ := s.GiftByPublicID(t.Context(), e.company.ID, gid)
			if g.Message != "Ihr Paket kam leider zu spät." {
				t.Fatalf("message %q", g.Message)
			}
			// An own message wins over the template.
			gid = giftIDFromLocation(t, webGift(agent, "tpl-2", e.cafe.ID, url.Values{"template_id": {id}, "message": {"Eigene Worte"}, "recipient_email": {"lea@example.com"}}))
			if g, _ := s.GiftByPublicID(t.Context(), e.company.ID, gid); g.Message != "Eigene Worte" {
				t.Fatalf("message %q", g.Message)
			}
			// Another company's template id is refused like an unknown one.
			otherAdmin, _ := s.UserByEmail(t.Context(), "andere-firma@example.com")
			ot, err := s.SaveGiftTemplate(t.Context(), e.otherCo.ID, otherAdmin.ID, 0, models.GiftTemplateInput{Name: "Vorlage B", Text: "Text von B"})
			if err != nil {
				t.Fatal(err)
			}
			mustStatus(t, "foreign template", webGift(agent, "tpl-4", e.cafe.ID, url.Values{"template_id": {fmt.Sprint(ot.ID)}, "recipient_email": {"max@example.com"}}), 422)
			if _, err := s.SaveGiftTemplate(t.Context(), e.company.ID, otherAdmin.ID, 0, models.GiftTemplateInput{Name: "Vorlage X", Text: "x"}); err == nil {
				t.Fatal("another company's admin wrote a template")
			}
			mustStatus(t, "delete", admin.PostForm("/company/templates/"+id+"/delete", nil), 303)
			mustStatus(t, "deleted", admin.Get("/company/templates/"+id), 404)
			mustStatus(t, "gone template", webGift(agent, "tpl-3", e.cafe.ID, url.Values{"template_id": {id}, "recipient_email": {"max@example.com"}}), 422)
		})
	}
}

func TestGiftReasonCodes(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			s := e.a.Store
			ctx := t.Context()
			admin, agent, other := settingsClients(t, e)
			cafe := fmt.Sprint(e.cafe.ID)

			// Defaults are there for the demo and for a new company.
			page := mustStatus(t, "settings", admin.Get("/company/settings"), 200)
			for _, want := range []string{"Lieferverzug", "Service-Panne", `id="reason-defect"`} {
				if !strings.Contains(page.Body, want) {
					t.Fatalf("settings lack %q", want)
				}
			}
			if r := other.Get("/company/settings"); !strings.Contains(r.Body, "Lieferverzug") {
				t.Fatal("new company has no default reasons")
			}
			form := mustStatus(t, "form", agent.Get("/gifts/new"), 200)
			if !strings.Contains(form.Body, `<option value="late_delivery">Lieferverzug</option>`) {
				t.Fatalf("form lacks the company's reasons:\n%s", form.Body)
			}

			// Company B adds its own reason; it is not valid for A.
			mustStatus(t, "other adds", other.PostForm("/company/reasons", url.Values{"reason_name": {"Nur bei B"}}), 303)
			res := e.api(t, e.key, "POST", "/api/v1/gifts", "r-1", giftBody(cafe, 5_00, `,"reason":"nur_bei_b"`))
			p := decode[problemJSON](t, mustStatus(t, "foreign reason", res, 422))
			if p.Errors["reason"] == "" || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("problem %+v", p)
			}
			res = e.api(t, e.otherKey, "POST", "/api/v1/gifts", "r-1", giftBody(cafe, 5_00, `,"reason":"nur_bei_b"`))
			mustStatus(t, "own reason", res, 201)

			// Web: unknown reason is 422 on the field.
			r := mustStatus(t, "web unknown reason", webGift(agent, "rw-1", e.cafe.ID, url.Values{"reason_code": {"nur_bei_b"}}), 422)
			if !strings.Contains(r.Body, "Diesen Anlass gibt es in Ihrer Liste nicht") {
				t.Fatalf("no reason error:\n%s", r.Body)
			}

			// A's admin adds one, renames and deactivates another.
			mustStatus(t, "add invalid", admin.PostForm("/company/reasons", url.Values{"reason_name": {"x"}}), 422)
			mustStatus(t, "add", admin.PostForm("/company/reasons", url.Values{"reason_name": {"Kaputte Verpackung"}, "reason_name_en": {"Damaged packaging"}}), 303)
			mustStatus(t, "duplicate", admin.PostForm("/company/reasons", url.Values{"reason_name": {"Kaputte Verpackung"}}), 422)
			rs, _ := s.GiftReasons(ctx, e.company.ID, false)
			var defect, other2 *models.GiftReason
			for i := range rs {
				switch rs[i].Code {
				case "defect":
					defect = &rs[i]
				case "kaputte_verpackung":
					other2 = &rs[i]
				}
			}
			if defect == nil || other2 == nil || other2.NameEN != "Damaged packaging" {
				t.Fatalf("reasons %+v", rs)
			}
			mustStatus(t, "deactivate", admin.PostForm(fmt.Sprintf("/company/reasons/%d", defect.ID), url.Values{"name": {"Defekt"}, "name_en": {"Defect"}}), 303)
			otherReasons, _ := s.GiftReasons(ctx, e.otherCo.ID, false)
			mustStatus(t, "edit foreign", admin.PostForm(fmt.Sprintf("/company/reasons/%d", otherReasons[0].ID), url.Values{"name": {"Gekapert"}, "active": {"1"}}), 404)

			res = e.api(t, e.key, "POST", "/api/v1/gifts", "r-2", giftBody(cafe, 5_00, `,"reason":"defect"`))
			mustStatus(t, "inactive reason", res, 422)
			res = e.api(t, e.key, "POST", "/api/v1/gifts", "r-3", giftBody(cafe, 5_00, `,"reason":"kaputte_verpackung"`))
			g := decode[struct {
				ID         string `json:"id"`
				Reason     string `json:"reason"`
				ReasonCode string `json:"reason_code"`
			}](t, mustStatus(t, "custom reason", res, 201))
			if g.Reason != "kaputte_verpackung" || g.ReasonCode != "kaputte_verpackung" {
				t.Fatalf("gift %+v", g)
			}
			// Shown on the gift page, in the list and its filter, and in the export.
			if r := admin.Get("/gifts/" + g.ID); !strings.Contains(r.Body, `<dd id="gift-reason">Kaputte Verpackung</dd>`) {
				t.Fatalf("gift page:\n%s", r.Body)
			}
			list := admin.Get("/gifts?reason=kaputte_verpackung")
			if !strings.Contains(list.Body, "/gifts/"+g.ID) || strings.Count(list.Body, `<a href="/gifts/`) != 1 {
				t.Fatalf("filtered list:\n%s", list.Body)
			}
			if !strings.Contains(admin.Get("/gifts").Body, "<td>Kaputte Verpackung</td>") {
				t.Fatal("list lacks the reason")
			}
			api := decode[struct {
				Data []struct {
					ID string `json:"id"`
				} `json:"data"`
			}](t, e.api(t, e.key, "GET", "/api/v1/gifts?reason=kaputte_verpackung", "", ""))
			if len(api.Data) != 1 || api.Data[0].ID != g.ID {
				t.Fatalf("API filter %+v", api)
			}
			csv := admin.Get("/gifts/export.csv")
			if !strings.Contains(csv.Body, ";kaputte_verpackung;") || !strings.Contains(csv.Body, ";Kaputte Verpackung;") {
				t.Fatalf("export:\n%s", csv.Body)
			}
			// A reason named like a formula stays text in the export.
			mustStatus(t, "formula reason", admin.PostForm("/company/reasons", url.Values{"reason_name": {"=HYPERLINK(1)"}}), 303)
			rs, _ = s.GiftReasons(ctx, e.company.ID, true)
			code := rs[len(rs)-1].Code
			mustStatus(t, "send formula reason", e.api(t, e.key, "POST", "/api/v1/gifts", "r-4", giftBody(cafe, 5_00, `,"reason":"`+code+`"`)), 201)
			if csv := admin.Get("/gifts/export.csv"); !strings.Contains(csv.Body, `;'=HYPERLINK(1);`) {
				t.Fatalf("formula not neutralised:\n%s", csv.Body)
			}
			// The API lists the codes.
			reasons := e.api(t, e.key, "GET", "/api/v1/company/reasons", "", "")
			if reasons.Status != 200 || !strings.Contains(reasons.Body, `"code":"kaputte_verpackung"`) || strings.Contains(reasons.Body, "nur_bei_b") {
				t.Fatalf("reasons API: %s", reasons.Body)
			}
			verifyLedger(t, s)
		})
	}
}

type problemJSON struct {
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors"`
}

func TestPreferredPartnersFirst(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			admin, agent, other := settingsClients(t, e)

			// Without a network the form has no network group.
			if r := agent.Get("/gifts/new"); strings.Contains(r.Body, `id="network-options"`) {
				t.Fatal("network group without preferred partners")
			}
			mustStatus(t, "draft merchant", admin.PostForm("/company/partners", url.Values{"merchant_id": {fmt.Sprint(e.draft.ID)}}), 422)
			mustStatus(t, "no merchant", admin.PostForm("/company/partners", url.Values{"merchant_id": {""}}), 422)
			// The bakery first, then the café: the admin's order.
			mustStatus(t, "add bakery", admin.PostForm("/company/partners", url.Values{"merchant_id": {fmt.Sprint(e.bakery.ID)}}), 303)
			mustStatus(t, "add cafe", admin.PostForm("/company/partners", url.Values{"merchant_id": {fmt.Sprint(e.cafe.ID)}}), 303)
			mustStatus(t, "add twice", admin.PostForm("/company/partners", url.Values{"merchant_id": {fmt.Sprint(e.cafe.ID)}}), 422)

			body := mustStatus(t, "form", agent.Get("/gifts/new"), 200).Body
			opts := regexp.MustCompile(`<option value="(\d+)"( data-preferred)?[^>]*>`).FindAllStringSubmatch(body[strings.Index(body, `id="f-merchant_id"`):], -1)
			if len(opts) < 4 {
				t.Fatalf("options %v", opts)
			}
			if opts[0][1] != fmt.Sprint(e.bakery.ID) || opts[1][1] != fmt.Sprint(e.cafe.ID) || opts[0][2] == "" || opts[1][2] == "" || opts[2][2] != "" {
				t.Fatalf("preferred partners not first and marked: %v", opts[:3])
			}
			if !strings.Contains(body, "★ Ihr Partnernetzwerk") || !strings.Contains(body, "Weitere Partner") {
				t.Fatal("groups not labelled")
			}
			// Each partner appears once in the single-partner list.
			if n := strings.Count(body[strings.Index(body, `id="f-merchant_id"`):strings.Index(body, `</select>`)], fmt.Sprintf(`value="%d"`, e.cafe.ID)); n != 1 {
				t.Fatalf("café listed %d times", n)
			}
			// The choice list also starts with the network.
			choice := body[strings.Index(body, `name="merchant_ids"`)-60:]
			if !strings.HasPrefix(strings.TrimSpace(choice[strings.Index(choice, "<input"):]), fmt.Sprintf(`<input type="checkbox" name="merchant_ids" value="%d"`, e.bakery.ID)) {
				t.Fatalf("choice list order: %s", choice[:200])
			}
			// Another company's form is unaffected, and it cannot remove A's entries.
			if r := other.Get("/gifts/new"); strings.Contains(r.Body, `id="network-options"`) {
				t.Fatal("network leaks to another company")
			}
			mustStatus(t, "other removes", other.PostForm(fmt.Sprintf("/company/partners/%d/delete", e.cafe.ID), nil), 404)
			mustStatus(t, "remove", admin.PostForm(fmt.Sprintf("/company/partners/%d/delete", e.bakery.ID), nil), 303)
			ps, _ := e.a.Store.PreferredPartners(t.Context(), e.company.ID)
			if len(ps) != 1 || ps[0].MerchantID != e.cafe.ID {
				t.Fatalf("network %+v", ps)
			}
		})
	}
}

func TestGiftCustomerCap(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			s := e.a.Store
			admin, agent, _ := settingsClients(t, e)
			cafe := fmt.Sprint(e.cafe.ID)

			mustStatus(t, "cap without days", admin.PostForm("/company/settings/cap", url.Values{"cap_count": {"2"}, "cap_days": {""}}), 422)
			mustStatus(t, "cap text", admin.PostForm("/company/settings/cap", url.Values{"cap_count": {"zwei"}, "cap_days": {"30"}}), 422)
			mustStatus(t, "cap", admin.PostForm("/company/settings/cap", url.Values{"cap_count": {"2"}, "cap_days": {"30"}}), 303)
			if r := admin.Get("/company/settings"); !strings.Contains(r.Body, "höchstens 2 Trostpflaster pro Person in 30 Tagen") {
				t.Fatal("cap not shown")
			}

			// 10 concurrent API sends to one address (differently spelled): exactly 2 go out.
			base := apptest.Serve(t, e.a)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 20}}
			post := func(idem, email string) (int, string) {
				body := fmt.Sprintf(`{"recipient_email":%q,"amount_cents":500,"merchant_ids":[%s],"notify":"none"}`, email, cafe)
				return postGiftHTTP(client, base, e.key, idem, body)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			counts := map[int]int{}
			for i := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					email := "kunde@example.com"
					if i%2 == 1 {
						email = " Kunde@Example.COM"
					}
					st, body := post(fmt.Sprintf("cap-%d", i), email)
					mu.Lock()
					defer mu.Unlock()
					counts[st]++
					if st == 422 && (!strings.Contains(body, `"code":"customer_cap"`) || !strings.Contains(body, `"recipient_email"`) || !strings.Contains(body, "maximum number of gestures")) {
						t.Errorf("cap problem: %s", body)
					} else if st != 201 && st != 422 {
						t.Errorf("status %d: %s", st, body)
					}
				}()
			}
			wg.Wait()
			if counts[201] != 2 || counts[422] != 8 {
				t.Fatalf("statuses %v", counts)
			}
			// Another customer is not affected.
			if st, body := post("cap-other", "jemand@example.com"); st != 201 {
				t.Fatalf("other customer: %d %s", st, body)
			}

			// The web form shows the recent gestures and the cap error.
			r := mustStatus(t, "web over cap", webGift(agent, "capw-1", e.cafe.ID, url.Values{"recipient_email": {"kunde@example.com"}}), 422)
			if !strings.Contains(r.Body, "schon die höchstmögliche Zahl an Trostpflastern") || !strings.Contains(r.Body, "schon 2 Trostpflaster") {
				t.Fatalf("web cap page:\n%s", r.Body)
			}
			if r := agent.Get("/gifts/new"); !strings.Contains(r.Body, `id="cap-hint"`) {
				t.Fatal("form lacks the cap hint")
			}

			// A cancelled gesture does not count: after a cancel one more goes out.
			var first models.Gift
			s.DB().Where("company_id = ? AND recipient_hash = ? AND status = ?", e.company.ID, s.RecipientHash("kunde@example.com"), models.GiftSent).First(&first)
			mustStatus(t, "cancel", e.api(t, e.key, "POST", "/api/v1/gifts/"+first.PublicID+"/cancel", "", ""), 200)
			giftIDFromLocation(t, webGift(agent, "capw-2", e.cafe.ID, url.Values{"recipient_email": {"kunde@example.com"}}))
			mustStatus(t, "again over cap", webGift(agent, "capw-3", e.cafe.ID, url.Values{"recipient_email": {"kunde@example.com"}}), 422)

			// Gestures older than the window do not count.
			s.DB().Model(&models.Gift{}).Where("recipient_hash = ?", s.RecipientHash("kunde@example.com")).Update("created_at", time.Now().AddDate(0, 0, -31))
			giftIDFromLocation(t, webGift(agent, "capw-4", e.cafe.ID, url.Values{"recipient_email": {"kunde@example.com"}}))

			// Switching the cap off lifts it.
			mustStatus(t, "cap off", admin.PostForm("/company/settings/cap", url.Values{"cap_count": {"0"}, "cap_days": {""}}), 303)
			if st, body := post("cap-off-1", "kunde@example.com"); st != 201 {
				t.Fatalf("cap off: %d %s", st, body)
			}
			verifyLedger(t, s)
		})
	}
}
