package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

func TestOnboardingCapacity(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	c, _, m := merchantOwner(t, a, "Weinhandel Pause")
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
