package app_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"trostpflaster/app/apptest"
	"trostpflaster/app/stripe"
	"trostpflaster/models"
)

func transferReversedEvent(id, transfer, group string, reversed int64, reversalID string) []byte {
	obj := map[string]any{"id": transfer, "object": "transfer", "amount_reversed": reversed, "currency": "eur", "transfer_group": group, "reversed": true}
	if reversalID != "" {
		obj["reversals"] = map[string]any{"object": "list", "data": []any{map[string]any{"id": reversalID, "object": "transfer_reversal"}}}
	}
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"type": "transfer.reversed", "livemode": false, "data": map[string]any{"object": obj}})
	return b
}

// transfer.reversed books money back from a paid payout into a held
// account, once per reversal (running total), and the operator releases it
// to the merchant's payable from the reconciliation page.
func TestTransferReversedWebhook(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newSettlementEnv(t, d)
			a, ctx := e.a, t.Context()
			cafe, p := paidPayout(t, e, "Bon 1")
			held := func() int64 { b, _ := a.Store.AccountBalance(ctx, models.AccountMerchantHeld(cafe.ID)); return b }
			post := func(body []byte) *apptest.Response {
				t.Helper()
				return postWebhook(t, a, body, testWebhookSecret, time.Now())
			}
			// A reversal of a payout the settlement run has not confirmed
			// (unknown transfer): stored and failed for a retry.
			if r := post(transferReversedEvent("evt_tr0", "tr_unknown", "", 1_00, "trr_0")); r.Status != 500 {
				t.Fatalf("unknown transfer: %d", r.Status)
			}
			r := post(transferReversedEvent("evt_tr1", p.StripeTransferID, "settlement-"+p.PublicID, 5_00, "trr_1"))
			if r.Status != 200 || !strings.Contains(r.Body, "flagged_transfer_reversed") || held() != 5_00 {
				t.Fatalf("reversal: %d %s held %d", r.Status, r.Body, held())
			}
			post(transferReversedEvent("evt_tr1", p.StripeTransferID, "settlement-"+p.PublicID, 5_00, "trr_1"))  // duplicate
			post(transferReversedEvent("evt_tr2", p.StripeTransferID, "settlement-"+p.PublicID, 8_00, "trr_2"))  // second reversal
			post(transferReversedEvent("evt_tr1b", p.StripeTransferID, "settlement-"+p.PublicID, 5_00, "trr_1")) // late, older
			// More than the payout is capped at the payout.
			post(transferReversedEvent("evt_tr3", p.StripeTransferID, "settlement-"+p.PublicID, p.AmountCents+50_00, "trr_3"))
			if held() != p.AmountCents {
				t.Fatalf("held %d, payout %d", held(), p.AmountCents)
			}
			if out, _ := a.Store.AccountBalance(ctx, models.AccountPayoutStripe); out != 0 {
				t.Fatalf("payout:stripe %d after full reversal", out)
			}
			verifyLedger(t, a.Store)

			admin := apptest.NewClient(t, a.HTTP)
			admin.Login("admin@trostpflaster.example", "demo-admin-2026")
			page := admin.Get("/admin/reconciliation")
			if page.Status != 200 || !strings.Contains(page.Body, `id="recon-held"`) || !strings.Contains(page.Body, "trr_2") {
				t.Fatalf("reconciliation: %d", page.Status)
			}
			var rvs []models.TransferReversal
			a.DB.Order("id").Find(&rvs)
			if len(rvs) != 3 {
				t.Fatalf("reversals %d", len(rvs))
			}
			for i := 0; i < 2; i++ { // a double click releases once
				admin.PostForm(fmt.Sprintf("/admin/reconciliation/reversals/%d/release", rvs[0].ID), nil)
			}
			payable, _ := a.Store.AccountBalance(ctx, models.AccountMerchantPayable(cafe.ID))
			if payable != 5_00 || held() != p.AmountCents-5_00 {
				t.Fatalf("after release: payable %d held %d", payable, held())
			}
			verifyLedger(t, a.Store)
		})
	}
}
