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

func TestMerchantKeyManagement(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	ctx := t.Context()
	c := apptest.NewClient(t, a.HTTP)
	c.Head["Accept-Language"] = "de"
	c.Login(ownerEmail, ownerPassword)

	if res := c.PostForm("/merchant/keys", url.Values{"name": {""}}); res.Status != 422 {
		t.Fatalf("empty name: %d", res.Status)
	}
	res := c.PostForm("/merchant/keys", url.Values{"name": {"<script>Webshop</script>"}})
	if res.Status != 200 || !strings.Contains(res.Body, "nur dieses eine Mal") || strings.Contains(res.Body, "<script>Webshop") {
		t.Fatalf("create: %d\n%s", res.Status, res.Body)
	}
	var key string
	for _, f := range strings.FieldsFunc(res.Body, func(r rune) bool { return r == '<' || r == '>' }) {
		if strings.HasPrefix(f, models.APIKeyPrefix) && len(f) > 40 {
			key = f
		}
	}
	if key == "" {
		t.Fatalf("key not shown:\n%s", res.Body)
	}
	if r := apiGet(t, a, "/api/v1/merchant", key); r.Status != 200 || !strings.Contains(r.Body, ownerSlug) {
		t.Fatalf("new key: %d %s", r.Status, r.Body)
	}
	list := c.Get("/merchant/keys")
	if list.Status != 200 || strings.Contains(list.Body, key) || !strings.Contains(list.Body, key[:9]) {
		t.Fatalf("list shows the key or lacks its prefix: %d\n%s", list.Status, list.Body)
	}

	// Merchant B's owner cannot revoke A's key.
	own, _ := a.Store.MerchantBySlug(ctx, ownerSlug)
	ks, _ := a.Store.MerchantAPIKeys(ctx, own.ID)
	if len(ks) != 1 {
		t.Fatalf("%d keys", len(ks))
	}
	ub, mb := apptest.MustMerchant(t, a.Store, "Laden Bee", "Köln")
	cb := apptest.NewClient(t, a.HTTP)
	cb.Login(ub.Email, "correct horse battery")
	if r := cb.PostForm(fmt.Sprintf("/merchant/keys/%d/revoke", ks[0].ID), nil); r.Status != 404 {
		t.Fatalf("foreign revoke: %d", r.Status)
	}
	if r := cb.Get("/merchant/keys"); r.Status != 200 || strings.Contains(r.Body, key[:9]) {
		t.Fatalf("B sees A's keys: %d", r.Status)
	}
	if r := cb.PostForm(fmt.Sprintf("/merchant/keys/%d/revoke?m=%s", ks[0].ID, ownerSlug), nil); r.Status != 404 {
		t.Fatalf("foreign revoke via ?m=: %d", r.Status)
	}
	if r := apiGet(t, a, "/api/v1/merchant", key); r.Status != 200 {
		t.Fatal("A's key stopped working after B's attempts")
	}
	_ = mb

	if r := c.PostForm(fmt.Sprintf("/merchant/keys/%d/revoke", ks[0].ID), nil); r.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := apiGet(t, a, "/api/v1/merchant", key); r.Status != 401 {
		t.Fatalf("revoked key: %d", r.Status)
	}
	if r := c.Get("/merchant/keys"); !strings.Contains(r.Body, "widerrufen") {
		t.Fatal("revoked key not marked")
	}
	if r := c.PostForm("/merchant/keys/abc/revoke", nil); r.Status != 404 {
		t.Fatalf("bad id: %d", r.Status)
	}
}
