package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

func TestOnboardingReviewRules(t *testing.T) {
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.NewApp(t, apptest.BaseEnv(t, d))
			c, owner, m := merchantOwner(t, a, "Radladen Rückmeldung")
			q := "?m=" + m.Slug
			admin := adminClient(t, a)
			decide := func(action string, form url.Values) *apptest.Response {
				return admin.PostForm(fmt.Sprintf("/admin/merchants/%d/%s", m.ID, action), form)
			}

			// Incomplete: cannot be submitted, and a draft cannot be approved.
			res := c.PostForm("/merchant/profile/submit"+q, nil)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, `id="missing"`) ||
				!strings.Contains(res.Body, "Beschreibung") || !strings.Contains(res.Body, "Gutscheinangebot") {
				t.Fatalf("incomplete submit: %d\n%s", res.Status, res.Body)
			}
			if res := decide("approve", nil); res.Status != http.StatusConflict {
				t.Errorf("approve draft: %d", res.Status)
			}
			// Pending but incomplete (say, changed behind the wizard's back): approval refuses.
			a.DB.Model(&models.Merchant{}).Where("id = ?", m.ID).Update("status", models.MerchantPending)
			if res := decide("approve", nil); res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, `id="missing"`) {
				t.Errorf("approve incomplete: %d", res.Status)
			}
			if got := reloadMerchant(t, a, m.ID); got.Status != models.MerchantPending {
				t.Fatalf("status %s", got.Status)
			}
			a.DB.Model(&models.Merchant{}).Where("id = ?", m.ID).Update("status", models.MerchantDraft)

			completeProfile(t, c, q)
			if res := c.PostForm("/merchant/profile/submit"+q, nil); res.Status != http.StatusSeeOther {
				t.Fatalf("submit: %d", res.Status)
			}
			// Reject needs a reason; the reason is mailed to the owner.
			if res := decide("reject", url.Values{"reason": {""}}); res.Status != http.StatusUnprocessableEntity {
				t.Errorf("reject without reason: %d", res.Status)
			}
			reason := "Bitte ergänze ein Foto deines Ladens im Logo-Schritt."
			if res := decide("reject", url.Values{"reason": {reason}}); res.Status != http.StatusSeeOther {
				t.Fatalf("reject: %d\n%s", res.Status, res.Body)
			}
			var mails []models.Mail
			a.DB.Where("to_addr = ?", owner.Email).Order("id").Find(&mails)
			if len(mails) != 1 || !strings.Contains(mails[0].Text, reason) || mails[0].Status != models.MailQueued {
				t.Fatalf("rejection mail: %+v", mails)
			}
			if got := reloadMerchant(t, a, m.ID); got.Status != models.MerchantRejected || got.ReviewNote != reason {
				t.Errorf("after reject: %s %q", got.Status, got.ReviewNote)
			}
			if res := c.Get("/merchant/profile/review" + q); !strings.Contains(res.Body, reason) {
				t.Errorf("owner does not see the reason")
			}
			// Resubmit, approve, suspend, reactivate.
			if res := c.PostForm("/merchant/profile/submit"+q, nil); res.Status != http.StatusSeeOther {
				t.Fatalf("resubmit: %d", res.Status)
			}
			if res := decide("approve", nil); res.Status != http.StatusSeeOther {
				t.Fatalf("approve: %d", res.Status)
			}
			if res := decide("approve", nil); res.Status != http.StatusConflict {
				t.Errorf("approve twice: %d", res.Status)
			}
			anon := apptest.NewClient(t, a.HTTP)
			if res := anon.Get("/partner/" + m.Slug); res.Status != http.StatusOK {
				t.Errorf("approved profile: %d", res.Status)
			}
			if _, err := a.Store.ChoosableMerchant(t.Context(), m.ID); err != nil {
				t.Errorf("approved not choosable: %v", err)
			}
			if res := decide("suspend", url.Values{"reason": {"Beschwerden über nicht eingelöste Gutscheine."}}); res.Status != http.StatusSeeOther {
				t.Fatalf("suspend: %d\n%s", res.Status, res.Body)
			}
			if res := anon.Get("/partner/" + m.Slug); res.Status != http.StatusNotFound {
				t.Errorf("suspended profile public: %d", res.Status)
			}
			if res := anon.Get("/partners"); strings.Contains(res.Body, "/partner/"+m.Slug) {
				t.Errorf("suspended merchant listed")
			}
			if _, err := a.Store.ChoosableMerchant(t.Context(), m.ID); err != models.ErrNotFound {
				t.Errorf("suspended choosable: %v", err)
			}
			// A suspended shop cannot edit its profile.
			if res := c.PostForm("/merchant/profile/business"+q, copyForm(goodSteps[0].form)); res.Status != http.StatusUnprocessableEntity {
				t.Errorf("suspended edit: %d", res.Status)
			}
			if res := decide("reactivate", nil); res.Status != http.StatusSeeOther {
				t.Fatalf("reactivate: %d", res.Status)
			}
			if res := anon.Get("/partner/" + m.Slug); res.Status != http.StatusOK {
				t.Errorf("reactivated: %d", res.Status)
			}
			var actions []string
			a.DB.Model(&models.AuditLog{}).Where("subject_type = ? AND subject_id = ? AND action IN ?", "merchant", m.ID,
				[]string{"merchant.approved", "merchant.rejected", "merchant.suspended", "merchant.reactivated"}).Order("id").Pluck("action", &actions)
			if strings.Join(actions, ",") != "merchant.rejected,merchant.approved,merchant.suspended,merchant.reactivated" {
				t.Errorf("audit: %v", actions)
			}
			a.DB.Where("to_addr = ?", owner.Email).Order("id").Find(&mails)
			if len(mails) != 4 {
				t.Errorf("mails to owner: %d", len(mails))
			}

			// Nobody but platform admins reaches /admin: 404.
			company, _ := apptest.MustCompany(t, a.Store, "Firma Neugier")
			cc := apptest.NewClient(t, a.HTTP)
			cc.Login(company.Email, testPassword)
			for _, cl := range []*apptest.Client{c, cc} {
				for _, path := range []string{"/admin/merchants", fmt.Sprintf("/admin/merchants/%d", m.ID)} {
					if res := cl.Get(path); res.Status != http.StatusNotFound {
						t.Errorf("non-admin GET %s: %d", path, res.Status)
					}
				}
				if res := cl.PostForm(fmt.Sprintf("/admin/merchants/%d/suspend", m.ID), url.Values{"reason": {"weil ich es kann"}}); res.Status != http.StatusNotFound {
					t.Errorf("non-admin suspend: %d", res.Status)
				}
			}
			if res := anon.Get("/admin/merchants"); res.Status != http.StatusSeeOther {
				t.Errorf("anonymous /admin: %d", res.Status)
			}
			if got := reloadMerchant(t, a, m.ID); got.Status != models.MerchantApproved {
				t.Errorf("status after non-admin attempts: %s", got.Status)
			}
		})
	}
}

// An unknown tab in the review queue's address opens the queue, not an
// error page; the real tabs still work.
func TestReviewQueueUnknownTab(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	c := apptest.NewClient(t, a.HTTP)
	c.Login("admin@trostpflaster.example", "demo-admin-2026")
	if res := c.Get("/admin/merchants?status=bogus"); res.Status != 303 || res.Header.Get("Location") != "/admin/merchants" {
		t.Fatalf("unknown tab: %d %q", res.Status, res.Header.Get("Location"))
	}
	if res := c.Get("/admin/merchants?status=approved"); res.Status != 200 || !strings.Contains(res.Body, "Café Rheinblick") {
		t.Fatalf("approved tab: %d", res.Status)
	}
}
