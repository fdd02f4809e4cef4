package models_test

import (
	"strings"
	"testing"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// ledger verify notices the refund and reversal invariants breaking: a
// refund beyond the top-up, a reserve that does not match its requests, and
// a reversal recorded without its booking.
func TestVerifyRefundAndReversalInvariants(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			t.Parallel()
			s := storetest.NewStore(t, d)
			ctx := t.Context()
			_, co := storetest.MustCompany(t, s, "Prüf AG")
			tu, err := s.CreateTopup(ctx, co.ID, 50_00, models.ActorCLI)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CompleteTopup(ctx, tu.PublicID, "cs_1", "pi_1", 50_00); err != nil {
				t.Fatal(err)
			}
			if _, err := s.BookChargeRefund(ctx, models.ChargeRefund{PaymentIntentID: "pi_1", ChargeID: "ch_1", AmountRefunded: 20_00}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RequestCreditRefund(ctx, co.ID, 10_00, "", models.ActorCLI); err != nil {
				t.Fatal(err)
			}
			check := func(want ...string) {
				t.Helper()
				ps, err := s.VerifyLedger(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got := ""
				for _, p := range ps {
					got += p.String() + "\n"
				}
				for _, w := range want {
					if !strings.Contains(got, w) {
						t.Errorf("verify misses %s:\n%s", w, got)
					}
				}
				if len(want) == 0 && got != "" {
					t.Errorf("unexpected problems:\n%s", got)
				}
			}
			check()
			var part models.StripeRefund
			s.DB().Where("topup_id = ?", tu.ID).First(&part)
			s.DB().Model(&part).Update("amount_cents", 60_00)
			s.DB().Model(&models.CreditRefund{}).Where("company_id = ?", co.ID).Update("amount_cents", 11_00)
			check("refund_exceeds_topup", "refund_reserve")
			s.DB().Model(&part).Update("amount_cents", 20_00)
			s.DB().Model(&models.CreditRefund{}).Where("company_id = ?", co.ID).Update("amount_cents", 10_00)
			check()
			po := models.Payout{PublicID: "po_x", MerchantID: 7, AmountCents: 3_00, Currency: "EUR", Status: models.PayoutPaid, IdempotencyKey: "k", StripeTransferID: "tr_x"}
			if err := s.DB().Create(&po).Error; err != nil {
				t.Fatal(err)
			}
			if err := s.DB().Create(&models.TransferReversal{Key: "trr_x", PayoutID: po.ID, MerchantID: 7, AmountCents: 5_00, Currency: "EUR"}).Error; err != nil {
				t.Fatal(err)
			}
			check("reversal_held", "reversal_exceeds_payout")
		})
	}
}
