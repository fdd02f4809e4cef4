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
	owner, _, m := merchantOwner(t, a, "Café Teamgeist")
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
	res := guest.PostForm(link, url.Values{"name": {"Nele Neu"}, "password": {testPassword}, "confirm": {testPassword}})
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
	oc.Login(other.Email, testPassword)
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
