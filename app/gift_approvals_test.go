package app_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// TestGiftAgentLimitsAndApproval runs the agents' and admin's web flow:
// within the limit a gift goes out at once; above it waits with its amount
// reserved; the admin approves (mail queued) or declines with a note (money
// back, the agent sees the note).
func TestGiftAgentLimitsAndApproval(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newGiftEnv(t, d)
			s := e.a.Store
			ctx := t.Context()
			credit := func() int64 { b, _ := s.AccountBalance(ctx, models.AccountCompanyCredit(e.company.ID)); return b }
			agent := apptest.NewClient(t, e.a.HTTP)
			agent.Login("agent1@beispiel-verlag.example", "demo-agent-2026")
			admin := apptest.NewClient(t, e.a.HTTP)
			admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")

			if r := agent.Get("/gifts/new"); r.Status != 200 || !strings.Contains(r.Body, "Café Rheinblick") || !strings.Contains(r.Body, `name="idem"`) {
				t.Fatalf("form: %d", r.Status)
			}
			send := func(c *apptest.Client, idem, amount, email string) *apptest.Response {
				return c.PostForm("/gifts", url.Values{"idem": {idem}, "recipient_name": {"Kim"}, "recipient_email": {email},
					"amount": {amount}, "mode": {"one"}, "merchant_id": {fmt.Sprint(e.cafe.ID)}, "message": {"Sorry!"}, "reason_code": {"late_delivery"}, "lang": {"de"}})
			}
			// Bad input re-renders the form with 422 and the field's message.
			if r := send(agent, "w0", "zwölf", "kim@example.com"); r.Status != 422 || !strings.Contains(r.Body, "nicht gültig") {
				t.Fatalf("bad amount: %d", r.Status)
			}
			if r := send(agent, "w0", "2000", "kim@example.com"); r.Status != 422 || !strings.Contains(r.Body, "zwischen 1 € und 1.000 €") {
				t.Fatalf("huge amount: %d", r.Status)
			}

			// Within 25 €: sent at once, mail queued.
			within := giftIDFromLocation(t, send(agent, "w1", "20,00", "kim@example.com"))
			g, _ := s.GiftByPublicID(ctx, e.company.ID, within)
			if g.Status != models.GiftSent || queuedTo(t, s, "kim@example.com") != 1 {
				t.Fatalf("within limit: %s, %d mails", g.Status, queuedTo(t, s, "kim@example.com"))
			}
			// A double submit of the same form sends one gift.
			if again := giftIDFromLocation(t, send(agent, "w1", "20,00", "kim@example.com")); again != within {
				t.Fatalf("double submit sent %s and %s", within, again)
			}
			show := agent.Get("/gifts/" + within)
			if show.Status != 200 || !strings.Contains(show.Body, `id="claim-url"`) || !strings.Contains(show.Body, "data:image/png;base64,") || !strings.Contains(show.Body, "data-copy") {
				t.Fatalf("gift page: %d\n%s", show.Status, show.Body)
			}

			// Above 25 €: waits, amount reserved, no mail yet, no link shown.
			before := credit()
			above := giftIDFromLocation(t, send(agent, "w2", "30", "lea@example.com"))
			g, _ = s.GiftByPublicID(ctx, e.company.ID, above)
			if g.Status != models.GiftPendingApproval || credit() != before-30_00 || queuedTo(t, s, "lea@example.com") != 0 {
				t.Fatalf("above limit: %s credit %d mails %d", g.Status, before-credit(), queuedTo(t, s, "lea@example.com"))
			}
			if r := agent.Get("/gifts/" + above); strings.Contains(r.Body, `id="claim-url"`) || !strings.Contains(r.Body, "Wartet auf Freigabe") {
				t.Fatal("pending gift shows its link")
			}
			// Agents have no admin pages.
			for _, p := range []string{"/gifts/approvals", "/company/limits"} {
				if r := agent.Get(p); r.Status != 404 {
					t.Errorf("agent %s: %d", p, r.Status)
				}
			}
			if r := agent.PostForm("/gifts/"+above+"/approve", nil); r.Status != 404 {
				t.Errorf("agent approves: %d", r.Status)
			}

			// The admin approves: sent, mail queued.
			if r := admin.Get("/gifts/approvals"); r.Status != 200 || !strings.Contains(r.Body, "approval-"+above) {
				t.Fatalf("approvals: %d", r.Status)
			}
			if r := admin.PostForm("/gifts/"+above+"/approve", url.Values{"note": {"Passt."}}); r.Status != 303 {
				t.Fatalf("approve: %d %s", r.Status, r.Body)
			}
			g, _ = s.GiftByPublicID(ctx, e.company.ID, above)
			if g.Status != models.GiftSent || queuedTo(t, s, "lea@example.com") != 1 {
				t.Fatalf("approved: %s, %d mails", g.Status, queuedTo(t, s, "lea@example.com"))
			}
			if r := admin.PostForm("/gifts/"+above+"/approve", nil); r.Status != 409 {
				t.Errorf("approve twice: %d", r.Status)
			}
			// The agent is told, with the admin's note; the recipient's mail has
			// an HTML part with the claim button next to the plain text.
			var told []models.Mail
			s.DB().Where("to_addr = ?", "agent1@beispiel-verlag.example").Find(&told)
			if len(told) != 1 || !strings.Contains(told[0].Subject, "Freigegeben") || !strings.Contains(told[0].Text, "Passt.") ||
				!strings.Contains(told[0].Text, "/gifts/"+above) || strings.Contains(told[0].Text, "lea@example.com") {
				t.Fatalf("agent's approval mail: %+v", told)
			}
			var toLea models.Mail
			s.DB().Where("to_addr = ?", "lea@example.com").First(&toLea)
			if !strings.Contains(toLea.HTML, `href="http`) || !strings.Contains(toLea.HTML, "/c/") || !strings.Contains(toLea.HTML, "Geschenk ansehen") || toLea.Text == "" {
				t.Fatalf("recipient mail parts: text %d bytes, html %q", len(toLea.Text), toLea.HTML)
			}

			// Declined with a note: cancelled, money back, the agent sees the note.
			before = credit()
			third := giftIDFromLocation(t, send(agent, "w3", "40", "max@example.com"))
			if r := admin.PostForm("/gifts/"+third+"/decline", url.Values{"note": {"Bitte erst Rücksprache halten."}}); r.Status != 303 {
				t.Fatalf("decline: %d", r.Status)
			}
			g, _ = s.GiftByPublicID(ctx, e.company.ID, third)
			if g.Status != models.GiftCancelled || credit() != before || queuedTo(t, s, "max@example.com") != 0 {
				t.Fatalf("declined: %s credit %d", g.Status, credit()-before)
			}
			if r := agent.Get("/gifts/" + third); !strings.Contains(r.Body, "Bitte erst Rücksprache halten.") {
				t.Error("agent does not see the note")
			}
			s.DB().Where("to_addr = ?", "agent1@beispiel-verlag.example").Order("id").Find(&told)
			if len(told) != 2 || !strings.Contains(told[1].Subject, "Nicht freigegeben") || !strings.Contains(told[1].Text, "Bitte erst Rücksprache halten.") {
				t.Fatalf("agent's decline mail: %+v", told)
			}

			// Monthly budget: the admin gives agent2 30 € a month; 20 € goes,
			// the next 20 € waits.
			agent2, _ := s.UserByEmail(ctx, "agent2@beispiel-verlag.example")
			if r := admin.PostForm(fmt.Sprintf("/company/limits/%d", agent2.ID), url.Values{"max_per_gift": {""}, "monthly_budget": {"30,00 €"}}); r.Status != 303 {
				t.Fatalf("set limits: %d %s", r.Status, r.Body)
			}
			if r := admin.PostForm(fmt.Sprintf("/company/limits/%d", agent2.ID), url.Values{"monthly_budget": {"viel"}}); r.Status != 422 {
				t.Errorf("bad limit: %d", r.Status)
			}
			if r := admin.Get("/company/limits"); !strings.Contains(r.Body, "30,00 €") {
				t.Error("limits page does not show the budget")
			}
			b := apptest.NewClient(t, e.a.HTTP)
			b.Login("agent2@beispiel-verlag.example", "demo-agent-2026")
			first := giftIDFromLocation(t, send(b, "b1", "20", "kim@example.com"))
			second := giftIDFromLocation(t, send(b, "b2", "20", "ole@example.com"))
			g1, _ := s.GiftByPublicID(ctx, e.company.ID, first)
			g2, _ := s.GiftByPublicID(ctx, e.company.ID, second)
			if g1.Status != models.GiftSent || g2.Status != models.GiftPendingApproval {
				t.Fatalf("budget: %s, %s", g1.Status, g2.Status)
			}
			// Agents cancel only their own gifts; admins any.
			if r := b.PostForm("/gifts/"+within+"/cancel", nil); r.Status != 403 {
				t.Errorf("agent cancels another's gift: %d", r.Status)
			}
			if r := admin.PostForm("/gifts/"+second+"/cancel", nil); r.Status != 303 {
				t.Errorf("admin cancels: %d", r.Status)
			}

			// The "already received a gesture" hint: kim got two, from two agents.
			if r := b.Get("/gifts/recent?recipient_email=" + url.QueryEscape(" KIM@example.com ")); !strings.Contains(r.Body, "schon 2 Trostpflaster") {
				t.Errorf("recent hint: %s", r.Body)
			}
			if r := b.Get("/gifts/recent?recipient_email=neu%40example.com"); !strings.Contains(r.Body, "Keine Trostpflaster") {
				t.Error("no hint for a new address")
			}
			if r := agent.Get("/gifts"); r.Status != 200 || !strings.Contains(r.Body, "/gifts/"+first) {
				t.Error("list lacks the company's gifts")
			}

			// Tenant isolation on the web: another company's admin reaches nothing.
			otherAdmin := apptest.NewClient(t, e.a.HTTP)
			otherAdmin.Login("andere-firma@example.com", "correct horse battery")
			for _, p := range []string{"/gifts/" + within, "/gifts/" + g2.PublicID} {
				if r := otherAdmin.Get(p); r.Status != 404 {
					t.Errorf("other company GET %s: %d", p, r.Status)
				}
			}
			for _, p := range []string{"/gifts/" + within + "/cancel", "/gifts/" + first + "/approve", "/gifts/" + first + "/decline", fmt.Sprintf("/company/limits/%d", agent2.ID)} {
				if r := otherAdmin.PostForm(p, nil); r.Status != 404 {
					t.Errorf("other company POST %s: %d", p, r.Status)
				}
			}
			if r := otherAdmin.Get("/gifts"); strings.Contains(r.Body, within) {
				t.Error("other company lists our gifts")
			}
			if r := otherAdmin.Get("/gifts/recent?recipient_email=kim%40example.com"); !strings.Contains(r.Body, "Keine Trostpflaster") {
				t.Error("other company sees our recipient history")
			}
			// Not a company member: no gift pages.
			partner := apptest.NewClient(t, e.a.HTTP)
			partner.Login("inhaber@sonnenkorn.example", "demo-partner-2026")
			if r := partner.Get("/gifts/new"); r.Status != 404 {
				t.Errorf("merchant opens gift form: %d", r.Status)
			}
			verifyLedger(t, s)
		})
	}
}
