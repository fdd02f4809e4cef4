package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// inviteLink invites email as staff through the owner's team page and
// returns the link from the queued mail.
func inviteLink(t *testing.T, a *app.App, owner *apptest.Client, q, email string) string {
	t.Helper()
	res := owner.PostForm("/merchant/staff/invite"+q, url.Values{"email": {email}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("invite %s: %d\n%s", email, res.Status, res.Body)
	}
	var ml models.Mail
	if err := a.DB.Where("to_addr = ?", strings.ToLower(email)).Order("id DESC").First(&ml).Error; err != nil {
		t.Fatal(err)
	}
	for _, l := range apptest.Links(ml.Text) {
		if strings.Contains(l, "/invite/") {
			u, _ := url.Parse(l)
			return u.Path
		}
	}
	t.Fatalf("no invite link in %q", ml.Text)
	return ""
}

func TestOnboardingStaffInvite(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	owner, _, m := onbOwner(t, a, "Café Teamgeist")
	q := "?m=" + m.Slug

	// A new person: sets name and password, is logged in as staff.
	link := inviteLink(t, a, owner, q, "Neu@Teamgeist.example")
	var inv models.MerchantInvite
	a.DB.First(&inv)
	if strings.Contains(link, inv.TokenHash) || inv.Email != "neu@teamgeist.example" {
		t.Errorf("invite stored %+v", inv)
	}
	if res := owner.PostForm("/merchant/staff/invite"+q, url.Values{"email": {"kein-mail"}}); res.Status != http.StatusUnprocessableEntity {
		t.Errorf("bad invite address: %d", res.Status)
	}
	guest := apptest.NewClient(t, a.HTTP)
	if res := guest.Get(link); res.Status != http.StatusOK || !strings.Contains(res.Body, "Café Teamgeist") {
		t.Fatalf("invite page: %d", res.Status)
	}
	if res := guest.PostForm(link, url.Values{"name": {"Nele Neu"}, "password": {"kurz"}, "confirm": {"kurz"}}); res.Status != http.StatusUnprocessableEntity {
		t.Errorf("short password: %d", res.Status)
	}
	res := guest.PostForm(link, url.Values{"name": {"Nele Neu"}, "password": {onbPassword}, "confirm": {onbPassword}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("accept: %d\n%s", res.Status, res.Body)
	}
	staffUser, err := a.Store.UserByEmail(t.Context(), "neu@teamgeist.example")
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := a.Store.Memberships(t.Context(), staffUser.ID)
	if len(ms) != 1 || ms[0].Role != models.RoleMerchantStaff || *ms[0].MerchantID != m.ID {
		t.Fatalf("memberships %+v", ms)
	}
	// The link works once.
	if res := apptest.NewClient(t, a.HTTP).Get(link); res.Status != http.StatusGone {
		t.Errorf("used link: %d", res.Status)
	}
	if res := apptest.NewClient(t, a.HTTP).Get("/invite/not-a-token"); res.Status != http.StatusNotFound {
		t.Errorf("unknown link: %d", res.Status)
	}

	// Staff see the dashboard but change nothing of the owner's.
	if res := guest.Get("/dashboard"); res.Status != http.StatusOK || !strings.Contains(res.Body, "Café Teamgeist") || strings.Contains(res.Body, `id="edit-profile"`) {
		t.Errorf("staff dashboard: %d", res.Status)
	}
	for _, path := range []string{"/merchant/profile", "/merchant/profile/offer", "/merchant/capacity", "/merchant/staff", "/merchant/stripe"} {
		if res := guest.Get(path + q); res.Status != http.StatusForbidden {
			t.Errorf("staff GET %s: %d", path, res.Status)
		}
	}
	for _, s := range goodSteps {
		if res := guest.PostForm("/merchant/profile/"+s.step+q, copyForm(s.form)); res.Status != http.StatusForbidden {
			t.Errorf("staff POST %s: %d", s.step, res.Status)
		}
	}
	if res := guest.PostForm("/merchant/capacity"+q, url.Values{"paused": {"1"}}); res.Status != http.StatusForbidden {
		t.Errorf("staff capacity: %d", res.Status)
	}
	if res := postMultipart(t, guest, "/merchant/profile/logo"+q, "logo", "l.png", testPNG(t, 10, 10)); res.Status != http.StatusForbidden {
		t.Errorf("staff logo: %d", res.Status)
	}
	if res := guest.PostForm("/merchant/staff/invite"+q, url.Values{"email": {"freund@example.com"}}); res.Status != http.StatusForbidden {
		t.Errorf("staff invite: %d", res.Status)
	}
	if got := reloadMerchant(t, a, m.ID); got.Description != "" || got.GiftsPaused {
		t.Errorf("staff changed the profile")
	}

	// An existing account: logged in with the invited address, it just accepts;
	// logged in as someone else, it is refused.
	other, _ := apptest.MustCompany(t, a.Store, "Firma Andere")
	link2 := inviteLink(t, a, owner, q, other.Email)
	if res := guest.Get(link2); !strings.Contains(res.Body, "anderen Adresse") {
		t.Errorf("wrong user sees no hint")
	}
	if res := guest.PostForm(link2, nil); res.Status != http.StatusForbidden {
		t.Errorf("wrong user accepts: %d", res.Status)
	}
	oc := apptest.NewClient(t, a.HTTP)
	if res := oc.Get(link2); !strings.Contains(res.Body, "/login?next=/invite/") {
		t.Errorf("existing account is not asked to log in")
	}
	oc.Login(other.Email, onbPassword)
	if res := oc.PostForm(link2, nil); res.Status != http.StatusSeeOther {
		t.Fatalf("existing user accepts: %d", res.Status)
	}
	if res := owner.PostForm("/merchant/staff/invite"+q, url.Values{"email": {other.Email}}); res.Status != http.StatusUnprocessableEntity {
		t.Errorf("inviting a member again: %d", res.Status)
	}
	if res := owner.Get("/merchant/staff" + q); !strings.Contains(res.Body, "Nele Neu") || !strings.Contains(res.Body, other.Email) {
		t.Errorf("team page lacks members")
	}

	// Expired invitations are refused.
	link3 := inviteLink(t, a, owner, q, "spaet@teamgeist.example")
	a.DB.Model(&models.MerchantInvite{}).Where("email = ?", "spaet@teamgeist.example").Update("expires_at", time.Now().Add(-time.Minute))
	if res := apptest.NewClient(t, a.HTTP).Get(link3); res.Status != http.StatusGone {
		t.Errorf("expired link: %d", res.Status)
	}

	// The owner removes staff; the owner cannot be removed.
	if res := owner.PostForm(fmt.Sprintf("/merchant/staff/%d/remove%s", staffUser.ID, q), nil); res.Status != http.StatusSeeOther {
		t.Fatalf("remove: %d", res.Status)
	}
	if res := guest.Get("/dashboard"); strings.Contains(res.Body, "Café Teamgeist") {
		t.Errorf("removed staff still sees the merchant")
	}
	ownerUser, _ := a.Store.UserByEmail(t.Context(), "cafe-teamgeist@example.com")
	if res := owner.PostForm(fmt.Sprintf("/merchant/staff/%d/remove%s", ownerUser.ID, q), nil); res.Status != http.StatusNotFound {
		t.Errorf("removing the owner: %d", res.Status)
	}
}

// TestOnboardingTenantIsolation: the owner and staff of merchant A reach
// nothing of merchant B by any URL: not by ?m=, not by ids in paths.
func TestOnboardingTenantIsolation(t *testing.T) {
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.NewApp(t, apptest.BaseEnv(t, d))
			ca, _, ma := onbOwner(t, a, "Laden Alpha")
			cb, _, mb := onbOwner(t, a, "Laden Beta")
			qa, qb := "?m="+ma.Slug, "?m="+mb.Slug
			completeProfile(t, cb, qb)
			if res := postMultipart(t, cb, "/merchant/profile/logo"+qb, "logo", "b.png", testPNG(t, 20, 20)); res.Status != http.StatusSeeOther {
				t.Fatalf("b logo: %d", res.Status)
			}
			// B has staff and an open invitation; A has staff too.
			linkB := inviteLink(t, a, cb, qb, "staff@beta.example")
			guestB := apptest.NewClient(t, a.HTTP)
			guestB.PostForm(linkB, url.Values{"name": {"Bea Beta"}, "password": {onbPassword}, "confirm": {onbPassword}})
			inviteLink(t, a, cb, qb, "offen@beta.example")
			linkA := inviteLink(t, a, ca, qa, "staff@alpha.example")
			staffA := apptest.NewClient(t, a.HTTP)
			staffA.PostForm(linkA, url.Values{"name": {"Alf Alpha"}, "password": {onbPassword}, "confirm": {onbPassword}})
			staffB, _ := a.Store.UserByEmail(t.Context(), "staff@beta.example")
			var openB models.MerchantInvite
			a.DB.Where("email = ?", "offen@beta.example").First(&openB)
			before := reloadMerchant(t, a, mb.ID)

			for _, cl := range []*apptest.Client{ca, staffA} {
				for _, path := range []string{"/merchant/profile" + qb, "/merchant/profile/offer" + qb, "/merchant/profile/review" + qb,
					"/merchant/capacity" + qb, "/merchant/staff" + qb, "/partner/" + mb.Slug, "/partner/" + mb.Slug + "/logo",
					fmt.Sprintf("/admin/merchants/%d", mb.ID)} {
					if res := cl.Get(path); res.Status != http.StatusNotFound {
						t.Errorf("GET %s: %d", path, res.Status)
					}
				}
				posts := map[string]url.Values{
					"/merchant/profile/business" + qb:                                copyForm(goodSteps[0].form),
					"/merchant/profile/offer" + qb:                                   {"mode": {"steps"}, "steps": {"5"}, "redeem": {"store"}},
					"/merchant/profile/submit" + qb:                                  nil,
					"/merchant/profile/logo/delete" + qb:                             nil,
					"/merchant/capacity" + qb:                                        {"paused": {"1"}},
					"/merchant/staff/invite" + qb:                                    {"email": {"spion@example.com"}},
					fmt.Sprintf("/merchant/staff/%d/remove%s", staffB.ID, qb):        nil,
					fmt.Sprintf("/merchant/staff/invites/%d/revoke%s", openB.ID, qb): nil,
					fmt.Sprintf("/admin/merchants/%d/reject", mb.ID):                 {"reason": {"nur so"}},
				}
				for path, form := range posts {
					if res := cl.PostForm(path, form); res.Status != http.StatusNotFound {
						t.Errorf("POST %s: %d", path, res.Status)
					}
				}
				if res := postMultipart(t, cl, "/merchant/profile/logo"+qb, "logo", "a.png", testPNG(t, 30, 30)); res.Status != http.StatusNotFound {
					t.Errorf("logo upload into B: %d", res.Status)
				}
			}
			// A's owner acting on its own merchant with B's ids in the path: 404.
			for path, form := range map[string]url.Values{
				fmt.Sprintf("/merchant/staff/%d/remove%s", staffB.ID, qa):        nil,
				fmt.Sprintf("/merchant/staff/invites/%d/revoke%s", openB.ID, qa): nil,
			} {
				if res := ca.PostForm(path, form); res.Status != http.StatusNotFound {
					t.Errorf("POST %s: %d", path, res.Status)
				}
			}
			after := reloadMerchant(t, a, mb.ID)
			if after.Name != before.Name || after.OfferStepList != before.OfferStepList || after.GiftsPaused || after.LogoHash != before.LogoHash || after.Status != models.MerchantDraft {
				t.Errorf("B changed: %+v", after)
			}
			staff, _ := a.Store.MerchantStaff(t.Context(), mb.ID)
			if len(staff.Members) != 2 || len(staff.Invites) != 1 {
				t.Errorf("B's team changed: %d members, %d invites", len(staff.Members), len(staff.Invites))
			}
			if res := cb.Get("/merchant/staff" + qb); strings.Contains(res.Body, "spion@") || strings.Contains(res.Body, "Alpha") {
				t.Errorf("B's team page shows A's data")
			}
		})
	}
}

func TestOnboardingCapacity(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	c, _, m := onbOwner(t, a, "Weinhandel Pause")
	q := "?m=" + m.Slug
	completeProfile(t, c, q)
	c.PostForm("/merchant/profile/submit"+q, nil)
	admin := adminClient(t, a)
	if res := admin.PostForm(fmt.Sprintf("/admin/merchants/%d/approve", m.ID), nil); res.Status != http.StatusSeeOther {
		t.Fatalf("approve: %d", res.Status)
	}
	ctx := t.Context()
	now := time.Now()

	for _, bad := range []url.Values{{"cap": {"-1"}}, {"cap": {"viele"}}, {"cap": {"1000001"}},
		{"paused": {"1"}, "paused_until": {"2001-01-01"}}, {"paused": {"1"}, "paused_until": {"morgen"}}} {
		if res := c.PostForm("/merchant/capacity"+q, bad); res.Status != http.StatusUnprocessableEntity {
			t.Errorf("capacity %v: %d", bad, res.Status)
		}
	}
	if res := c.PostForm("/merchant/capacity"+q, url.Values{"cap": {"2"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("cap: %d", res.Status)
	}
	for issued, want := range map[int64]bool{0: true, 1: true, 2: false} {
		if ok, err := a.Store.MerchantAcceptsGifts(ctx, m.ID, now, issued); err != nil || ok != want {
			t.Errorf("cap 2, %d issued: %v %v", issued, ok, err)
		}
	}
	until := now.AddDate(0, 0, 14).Format("2006-01-02")
	if res := c.PostForm("/merchant/capacity"+q, url.Values{"cap": {""}, "paused": {"1"}, "paused_until": {until}}); res.Status != http.StatusSeeOther {
		t.Fatalf("pause: %d", res.Status)
	}
	if ok, _ := a.Store.MerchantAcceptsGifts(ctx, m.ID, now, 0); ok {
		t.Error("paused merchant accepts gifts")
	}
	if ok, _ := a.Store.MerchantAcceptsGifts(ctx, m.ID, now.AddDate(0, 0, 16), 1000); !ok {
		t.Error("pause does not end; or empty cap is not unlimited")
	}
	if _, err := a.Store.ChoosableMerchant(ctx, m.ID); err != models.ErrNotFound {
		t.Errorf("paused merchant choosable: %v", err)
	}
	// Paused merchants stay listed, marked as paused.
	anon := apptest.NewClient(t, a.HTTP)
	if res := anon.Get("/partners"); !strings.Contains(res.Body, "/partner/"+m.Slug) || !strings.Contains(res.Body, "Nimmt gerade keine neuen Gutscheine an") {
		t.Errorf("paused card")
	}
	if res := anon.Get("/partner/" + m.Slug); !strings.Contains(res.Body, `id="partner-paused"`) {
		t.Errorf("paused profile")
	}
	if res := c.PostForm("/merchant/capacity"+q, url.Values{}); res.Status != http.StatusSeeOther {
		t.Fatalf("unpause: %d", res.Status)
	}
	if _, err := a.Store.ChoosableMerchant(ctx, m.ID); err != nil {
		t.Errorf("unpaused: %v", err)
	}
	if _, err := a.Store.ChoosableMerchant(ctx, 99999); err != models.ErrNotFound {
		t.Errorf("unknown: %v", err)
	}
}
