package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

type reportMonthJSON struct {
	Month          string `json:"month"`
	Label          string `json:"label"`
	SentCount      int64  `json:"sent_count"`
	SentCents      int64  `json:"sent_cents"`
	ClaimedCount   int64  `json:"claimed_count"`
	ClaimedCents   int64  `json:"claimed_cents"`
	RedeemedCents  int64  `json:"redeemed_cents"`
	ExpiredCount   int64  `json:"expired_count"`
	CancelledCount int64  `json:"cancelled_count"`
}

type reportPartnerJSON struct {
	ID            uint   `json:"id"`
	Name          string `json:"name"`
	OfferedCount  int64  `json:"offered_count"`
	ClaimedCount  int64  `json:"claimed_count"`
	ClaimedCents  int64  `json:"claimed_cents"`
	RedeemedCents int64  `json:"redeemed_cents"`
}

type reportJSON struct {
	Scope    string              `json:"scope"`
	Currency string              `json:"currency"`
	Months   []reportMonthJSON   `json:"months"`
	Totals   reportMonthJSON     `json:"totals"`
	Partners []reportPartnerJSON `json:"partners"`
	Budgets  []struct {
		UserID             uint   `json:"user_id"`
		UsedCents          int64  `json:"used_cents"`
		MonthlyBudgetCents *int64 `json:"monthly_budget_cents"`
	} `json:"budgets"`
	PendingApprovals int64            `json:"pending_approvals"`
	PendingURL       string           `json:"pending_url"`
	Feedback         map[string]int64 `json:"feedback"`
}

func (r reportJSON) month(t *testing.T, key string) reportMonthJSON {
	t.Helper()
	for _, m := range r.Months {
		if m.Month == key {
			return m
		}
	}
	t.Fatalf("no month %s in %+v", key, r.Months)
	return reportMonthJSON{}
}

func getReport(t *testing.T, c *apptest.Client) reportJSON {
	t.Helper()
	res := c.Get("/company/report.json")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("report.json: %d %s", res.Status, res.Body)
	}
	var r reportJSON
	if err := json.Unmarshal([]byte(res.Body), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCompanyReport builds a history over two months (Berlin calendar
// months, with events just across the UTC/Berlin month boundaries): sends,
// a choice gift, claims, partial redemptions, a reversal, a cancel, an
// expiry, an approval still waiting and feedback, plus another company's
// gift; it checks every figure of the admin's and the agent's report and
// the other company's.
func TestCompanyReport(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			ctx := t.Context()
			s := e.a.Store
			agent, _ := s.UserByEmail(ctx, "agent1@beispiel-verlag.example")
			asAgent := models.GiftSender{CompanyID: e.company.ID, UserID: &agent.ID}
			send := func(by models.GiftSender, cents int64, ms ...*models.Merchant) (*models.Gift, string) {
				t.Helper()
				var ids []uint
				for _, m := range ms {
					ids = append(ids, m.ID)
				}
				g, _, err := s.SendGift(ctx, nil, by, models.GiftInput{RecipientEmail: "kim@example.com", AmountCents: cents, MerchantIDs: ids, Notify: models.NotifyNone})
				if err != nil {
					t.Fatal(err)
				}
				return g, s.GiftClaimToken(g)
			}
			redeem := func(key, code, idem string, cents int64) string {
				t.Helper()
				res := e.call(t, key, "POST", "/api/v1/vouchers/"+code+"/redemptions", idem, redeemBody(cents))
				if res.Status != 201 {
					t.Fatalf("redeem: %d %s", res.Status, res.Body)
				}
				var out struct{ ID string }
				json.Unmarshal([]byte(res.Body), &out)
				return out.ID
			}
			set := func(model any, id uint, col string, at time.Time) {
				t.Helper()
				if err := e.a.DB.Model(model).Where("id = ?", id).Update(col, at.UTC()).Error; err != nil {
					t.Fatal(err)
				}
			}

			now := time.Now().In(berlin)
			thisStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, berlin)
			prevStart := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, berlin)
			prevMid := prevStart.AddDate(0, 0, 10)
			thisKey, prevKey := thisStart.Format("2006-01"), prevStart.Format("2006-01")

			// Last month (admin): g1 20 € at the café, claimed, 5 € and 3 €
			// redeemed, the 3 € reversed; g2 30 € with a choice, claimed at
			// the bakery and used up; g3 15 € sent and cancelled.
			g1, t1 := send(e.sender, 20_00, e.cafe)
			code1 := e.claim(t, t1, e.cafe)
			redeem(e.cafeKey, code1, "g1-a", 5_00)
			rev := redeem(e.cafeKey, code1, "g1-b", 3_00)
			if res := e.call(t, e.cafeKey, "POST", "/api/v1/redemptions/"+rev+"/reversal", "", ""); res.Status != 200 {
				t.Fatalf("reversal: %d %s", res.Status, res.Body)
			}
			g2, t2 := send(e.sender, 30_00, e.cafe, e.bakery)
			code2 := e.claim(t, t2, e.bakery)
			redeem(e.bakeryKey, code2, "g2-a", 30_00)
			if _, err := s.GiveFeedback(ctx, t2, "yes"); err != nil {
				t.Fatal(err)
			}
			g3, _ := send(e.sender, 15_00, e.cafe)
			if _, err := s.CancelGift(ctx, e.sender, g3.PublicID); err != nil {
				t.Fatal(err)
			}
			// 00:30 on the 1st in Berlin is still the previous month in UTC.
			set(&models.Gift{}, g1.ID, "sent_at", prevStart.Add(30*time.Minute))
			for _, g := range []*models.Gift{g1, g2, g3} {
				set(&models.Gift{}, g.ID, "created_at", prevMid)
				if g != g1 {
					set(&models.Gift{}, g.ID, "sent_at", prevMid)
				}
			}
			set(&models.Gift{}, g1.ID, "claimed_at", prevMid.Add(time.Hour))
			set(&models.Gift{}, g2.ID, "claimed_at", prevMid.Add(time.Hour))
			set(&models.Gift{}, g2.ID, "feedback_at", prevMid.Add(2*time.Hour))
			set(&models.Gift{}, g3.ID, "cancelled_at", thisStart.Add(-30*time.Minute))
			if err := e.a.DB.Model(&models.Redemption{}).Where("gift_id IN ?", []uint{g1.ID, g2.ID}).Update("created_at", prevMid.Add(3*time.Hour).UTC()).Error; err != nil {
				t.Fatal(err)
			}

			// This month: 2 € more from g1; the agent sends g4 20 € (within the
			// limit, claimed, 12,50 € redeemed, feedback "no") and g5 30 €
			// (above the limit: waits); the admin sends g6 10 € (not claimed)
			// and g7 25 €, which expires.
			redeem(e.cafeKey, code1, "g1-c", 2_00)
			_, t4 := send(asAgent, 20_00, e.bakery)
			code4 := e.claim(t, t4, e.bakery)
			redeem(e.bakeryKey, code4, "g4-a", 12_50)
			if _, err := s.GiveFeedback(ctx, t4, "no"); err != nil {
				t.Fatal(err)
			}
			if g5, _ := send(asAgent, 30_00, e.bakery); g5.Status != models.GiftPendingApproval {
				t.Fatalf("g5 %s", g5.Status)
			}
			g6, _ := send(e.sender, 10_00, e.cafe)
			// 00:30 on the 1st in Berlin: this month, though UTC says the last.
			if early := thisStart.Add(30 * time.Minute); early.Before(time.Now()) {
				set(&models.Gift{}, g6.ID, "sent_at", early)
			}
			g7, _ := send(e.sender, 25_00, e.cafe)
			set(&models.Gift{}, g7.ID, "expires_at", time.Now().Add(-time.Hour))
			if r := e.a.RunLifecycle(ctx); r.Expired != 1 {
				t.Fatalf("lifecycle: %+v", r)
			}

			// Another company's gift at the same café.
			_, other := apptest.MustCompany(t, s, "Andere Firma")
			otherAdmin, _ := s.UserByEmail(ctx, "andere-firma@example.com")
			if _, err := s.GrantCredit(ctx, other.ID, 100_00, "", "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			send(models.GiftSender{CompanyID: other.ID, UserID: &otherAdmin.ID}, 10_00, e.cafe)
			verifyLedger(t, s)

			admin := apptest.NewClient(t, e.a.HTTP)
			admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
			r := getReport(t, admin)
			if r.Scope != "company" || r.Currency != "EUR" || len(r.Months) != 12 || r.Months[11].Month != thisKey || r.Months[10].Month != prevKey {
				t.Fatalf("report frame: %s %s %+v", r.Scope, r.Currency, r.Months)
			}
			wantPrev := reportMonthJSON{Month: prevKey, SentCount: 3, SentCents: 65_00, ClaimedCount: 2, ClaimedCents: 50_00, RedeemedCents: 35_00, CancelledCount: 1}
			wantThis := reportMonthJSON{Month: thisKey, SentCount: 3, SentCents: 55_00, ClaimedCount: 1, ClaimedCents: 20_00, RedeemedCents: 14_50, ExpiredCount: 1}
			wantTotal := reportMonthJSON{SentCount: 6, SentCents: 120_00, ClaimedCount: 3, ClaimedCents: 70_00, RedeemedCents: 49_50, ExpiredCount: 1, CancelledCount: 1}
			for _, c := range []struct{ got, want reportMonthJSON }{{r.month(t, prevKey), wantPrev}, {r.month(t, thisKey), wantThis}, {r.Totals, wantTotal}} {
				c.got.Label = ""
				if c.got != c.want {
					t.Errorf("month\n got %+v\nwant %+v", c.got, c.want)
				}
			}
			for _, m := range r.Months[:10] {
				if m.SentCount+m.ClaimedCount+m.RedeemedCents+m.ExpiredCount+m.CancelledCount != 0 {
					t.Errorf("older month has figures: %+v", m)
				}
			}
			wantPartners := []reportPartnerJSON{
				{ID: e.bakery.ID, Name: e.bakery.Name, OfferedCount: 2, ClaimedCount: 2, ClaimedCents: 50_00, RedeemedCents: 42_50},
				{ID: e.cafe.ID, Name: e.cafe.Name, OfferedCount: 5, ClaimedCount: 1, ClaimedCents: 20_00, RedeemedCents: 7_00},
			}
			if fmt.Sprint(r.Partners) != fmt.Sprint(wantPartners) {
				t.Errorf("partners\n got %+v\nwant %+v", r.Partners, wantPartners)
			}
			if r.PendingApprovals != 1 || r.PendingURL != "/gifts/approvals" || r.Feedback["yes"] != 1 || r.Feedback["no"] != 1 || r.Feedback["partly"] != 0 {
				t.Errorf("pending %d %s, feedback %v", r.PendingApprovals, r.PendingURL, r.Feedback)
			}
			used := map[uint]int64{}
			for _, b := range r.Budgets {
				used[b.UserID] = b.UsedCents
			}
			if len(r.Budgets) != 3 || used[agent.ID] != 20_00 {
				t.Errorf("budgets: %+v", r.Budgets)
			}

			// The page shows the same figures as tables (German money format).
			page := admin.Get("/company/report")
			for _, want := range []string{`id="stat-sent">120,00 €`, `id="stat-redeemed">49,50 €`, `id="stat-pending">1`,
				`<tr data-month="` + prevKey + `">`, `<td class="num">65,00 €</td>`, `<td class="num">35,00 €</td>`,
				`<tr data-partner="` + fmt.Sprint(e.bakery.ID) + `">`, `<td class="num">42,50 €</td>`,
				`id="chart-months"`, `src="/static/js/charts.js"`, `id="feedback-yes">1`, `value="2000"`} {
				if !strings.Contains(page.Body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if page.Status != 200 {
				t.Fatalf("page: %d", page.Status)
			}
			if dash := admin.Get("/dashboard"); !strings.Contains(dash.Body, `href="/company/report"`) {
				t.Error("dashboard does not link the report")
			}

			// CSV: exact lines.
			csv := admin.Get("/company/report/months.csv")
			if csv.Status != 200 || !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") ||
				!strings.Contains(csv.Body, prevKey+";3;6500;65,00;2;5000;50,00;3500;35,00;0;1;EUR\n") ||
				!strings.Contains(csv.Body, thisKey+";3;5500;55,00;1;2000;20,00;1450;14,50;1;0;EUR\n") ||
				!strings.Contains(csv.Body, "total;6;12000;120,00;3;7000;70,00;4950;49,50;1;1;EUR\n") {
				t.Fatalf("months CSV: %d\n%s", csv.Status, csv.Body)
			}

			// The agent sees their own gifts and budget only.
			ag := apptest.NewClient(t, e.a.HTTP)
			ag.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
			ra := getReport(t, ag)
			wantAgent := reportMonthJSON{Month: thisKey, SentCount: 1, SentCents: 20_00, ClaimedCount: 1, ClaimedCents: 20_00, RedeemedCents: 12_50}
			got := ra.month(t, thisKey)
			got.Label = ""
			if ra.Scope != "agent" || got != wantAgent || ra.Totals.SentCount != 1 {
				t.Errorf("agent month %s %+v", ra.Scope, got)
			}
			if len(ra.Partners) != 1 || ra.Partners[0].ID != e.bakery.ID || ra.Partners[0].RedeemedCents != 12_50 || ra.Partners[0].OfferedCount != 1 {
				t.Errorf("agent partners %+v", ra.Partners)
			}
			if len(ra.Budgets) != 1 || ra.Budgets[0].UserID != agent.ID || ra.Budgets[0].UsedCents != 20_00 || ra.Budgets[0].MonthlyBudgetCents == nil || *ra.Budgets[0].MonthlyBudgetCents != 200_00 {
				t.Errorf("agent budgets %+v", ra.Budgets)
			}
			if ra.PendingApprovals != 1 || ra.Feedback["yes"] != 0 || ra.Feedback["no"] != 1 {
				t.Errorf("agent pending %d feedback %v", ra.PendingApprovals, ra.Feedback)
			}
			agentPage := ag.Get("/company/report")
			if agentPage.Status != 200 || !strings.Contains(agentPage.Body, `id="stat-sent">20,00 €`) ||
				!strings.Contains(agentPage.Body, fmt.Sprintf(`data-user="%d"`, agent.ID)) || strings.Contains(agentPage.Body, fmt.Sprintf(`data-user="%d"`, *e.sender.UserID)) {
				t.Errorf("agent page: %d", agentPage.Status)
			}
			if csv := ag.Get("/company/report/months.csv"); !strings.Contains(csv.Body, "total;1;2000;20,00;1;2000;20,00;1250;12,50;0;0;EUR\n") {
				t.Errorf("agent CSV:\n%s", csv.Body)
			}

			// The other company sees its own gift only.
			oc := apptest.NewClient(t, e.a.HTTP)
			oc.Login("andere-firma@example.com", "correct horse battery")
			ro := getReport(t, oc)
			if ro.Totals.SentCount != 1 || ro.Totals.SentCents != 10_00 || ro.Totals.RedeemedCents != 0 || len(ro.Partners) != 1 || ro.Partners[0].OfferedCount != 1 ||
				ro.PendingApprovals != 0 || len(ro.Budgets) != 1 || ro.Budgets[0].UserID != otherAdmin.ID || ro.Feedback["yes"]+ro.Feedback["no"] != 0 {
				t.Errorf("other company: %+v", ro)
			}
			if csv := oc.Get("/company/report/partners.csv"); strings.Contains(csv.Body, e.bakery.Name) || strings.Count(csv.Body, "\n") != 2 {
				t.Errorf("other company partners CSV:\n%s", csv.Body)
			}
		})
	}
}

// TestCompanyReportAccessAndCSV: the JSON needs a log-in and a company
// membership (401/404 as problem JSON), the pages and CSVs a company
// membership, and partner names cannot smuggle spreadsheet formulas.
func TestCompanyReportAccessAndCSV(t *testing.T) {
	t.Parallel()
	e := newVoucherEnv(t, "sqlite")
	ctx := t.Context()
	_, token := e.gift(t, 20_00, e.cafe)
	code := e.claim(t, token, e.cafe)
	if res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "x1", redeemBody(7_50)); res.Status != 201 {
		t.Fatal(res.Body)
	}
	evil := `=HYPERLINK("http://evil.example","klick")`
	if err := e.a.DB.Model(&models.Merchant{}).Where("id = ?", e.cafe.ID).Updates(map[string]any{"name": evil, "city": "+49 Köln"}).Error; err != nil {
		t.Fatal(err)
	}

	anon := apptest.NewClient(t, e.a.HTTP)
	res := anon.Get("/company/report.json")
	if res.Status != 401 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("anonymous JSON: %d %s %s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	for _, p := range []string{"/company/report", "/company/report/months.csv", "/company/report/partners.csv"} {
		if res := anon.Get(p); res.Status != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("anonymous %s: %d", p, res.Status)
		}
	}
	owner := apptest.NewClient(t, e.a.HTTP) // a partner's owner: no company
	owner.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
	if res := owner.Get("/company/report.json"); res.Status != 404 || res.Header.Get("Content-Type") != "application/problem+json" || strings.Contains(res.Body, "HYPERLINK") {
		t.Fatalf("non-member JSON: %d %s", res.Status, res.Body)
	}
	for _, p := range []string{"/company/report", "/company/report/months.csv", "/company/report/partners.csv"} {
		if res := owner.Get(p); res.Status != 404 {
			t.Errorf("non-member %s: %d", p, res.Status)
		}
	}

	admin := apptest.NewClient(t, e.a.HTTP)
	admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	res = admin.Get("/company/report/partners.csv")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "partners.csv") {
		t.Fatalf("partners CSV: %d", res.Status)
	}
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(res.Body, "\ufeff")), "\n") // the BOM is for Excel
	want := fmt.Sprintf(`%d;"'=HYPERLINK(""http://evil.example"",""klick"")";'+49 Köln;1;1;2000;20,00;750;7,50;EUR`, e.cafe.ID)
	if len(lines) != 2 || lines[0] != "partner_id;partner;city;offered_count;claimed_count;claimed_cents;claimed;redeemed_cents;redeemed;currency" || lines[1] != want {
		t.Fatalf("partners CSV:\n%s\nwant line\n%s", res.Body, want)
	}
	if strings.Contains(res.Body, ";=") || strings.Contains(res.Body, `;"=`) || strings.Contains(res.Body, ";+") {
		t.Fatal("a formula cell survived")
	}
	// The page escapes the name and the agent may export their own figures.
	if page := admin.Get("/company/report"); page.Status != 200 || strings.Contains(page.Body, `"http://evil.example"`) || !strings.Contains(page.Body, "=HYPERLINK(&#34;http://evil.example&#34;") {
		t.Fatalf("page with a hostile partner name: %d", page.Status)
	}
	agent := apptest.NewClient(t, e.a.HTTP)
	agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
	if res := agent.Get("/company/report/partners.csv"); res.Status != 200 || strings.Count(res.Body, "\n") != 1 {
		t.Fatalf("agent partners CSV (no gifts of their own): %d\n%s", res.Status, res.Body)
	}
	// English labels and month names.
	en := apptest.NewClient(t, e.a.HTTP)
	en.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	en.PostForm("/lang", url.Values{"lang": {"en"}, "back": {"/company/report"}})
	page := en.Get("/company/report")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	month := time.Now().In(berlin).Month().String()[:3]
	if !strings.Contains(page.Body, "Per partner") || !strings.Contains(page.Body, `id="stat-redeemed">€7.50`) || !strings.Contains(page.Body, month+" ") {
		t.Fatalf("English page lacks labels or month %q", month)
	}
	if r := getReport(t, en); r.Months[11].Label != month+" "+fmt.Sprint(time.Now().In(berlin).Year()) {
		t.Fatalf("English month label %q", r.Months[11].Label)
	}
	_ = ctx
}
