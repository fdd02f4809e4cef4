package models_test

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"trostpflaster/models"
	"trostpflaster/models/storetest"
)

// TestLedgerPropertyRandomHistory drives random sequences of top-ups, gifts,
// claims, redemptions, reversals, cancellations, expiries and settlements
// through the store and checks every ledger invariant after each step, on
// SQLite and PostgreSQL. Seeds are fixed so a failure is reproducible.
func TestLedgerPropertyRandomHistory(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		for _, seed := range []int64{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/seed=%d", storetest.Name(d), seed), func(t *testing.T) {
				t.Parallel()
				runRandomHistory(t, d, seed, 200)
			})
		}
	}
}

func runRandomHistory(t *testing.T, dialect string, seed int64, steps int) {
	s := storetest.NewStore(t, dialect)
	ctx := t.Context()
	rng := rand.New(rand.NewSource(seed))
	admin, co := storetest.MustCompany(t, s, "Zufall AG")
	var merchants []*models.Merchant
	for i := 0; i < 3; i++ {
		_, m := storetest.MustMerchant(t, s, fmt.Sprintf("Laden %d", i), "Köln")
		s.DB().Model(&models.Merchant{}).Where("id = ?", m.ID).Updates(map[string]any{
			"status": models.MerchantApproved, "stripe_account_id": fmt.Sprintf("acct_%d", m.ID), "payouts_enabled": true})
		merchants = append(merchants, m)
	}
	sender := models.GiftSender{CompanyID: co.ID, UserID: &admin.ID}
	var gifts, claimed []*models.Gift
	var redemptions []models.Redemption
	var topups []*models.Topup
	var paidPayouts []models.Payout
	refunded, reversed := map[uint]int64{}, map[uint]int64{}
	ops := map[string]int{}
	for step := 0; step < steps; step++ {
		var op string
		var err error
		switch k := rng.Intn(13); {
		case k == 0:
			op = "topup"
			_, err = s.GrantCredit(ctx, co.ID, int64(rng.Intn(200_00)+1), "", "", models.ActorCLI)
		case k <= 2:
			op = "gift"
			m := merchants[rng.Intn(len(merchants))]
			var g *models.Gift
			g, _, err = s.SendGift(ctx, nil, sender, models.GiftInput{RecipientEmail: "r@example.com", AmountCents: int64(rng.Intn(60_00) + 1_00),
				MerchantIDs: []uint{m.ID}, Notify: models.NotifyNone})
			if err == nil {
				gifts = append(gifts, g)
			}
		case k == 3 && len(gifts) > 0:
			op = "claim"
			g := gifts[rng.Intn(len(gifts))]
			_, _, err = s.ClaimGift(ctx, s.GiftClaimToken(g), *g.MerchantID)
			if err == nil {
				claimed = append(claimed, g)
			}
		case (k == 4 || k == 8) && len(claimed) > 0:
			op = "redeem"
			g := claimed[rng.Intn(len(claimed))]
			var r *models.Redemption
			r, _, _, err = s.Redeem(ctx, *g.MerchantID, s.VoucherCode(g), models.RedeemInput{AmountCents: int64(rng.Intn(30_00) + 1),
				IdempotencyKey: fmt.Sprintf("k%d", step)})
			if err == nil {
				redemptions = append(redemptions, *r)
			}
		case k == 5 && len(redemptions) > 0:
			op = "reverse"
			r := redemptions[rng.Intn(len(redemptions))]
			_, _, err = s.ReverseRedemption(ctx, r.MerchantID, r.PublicID, models.ActorCLI)
		case k == 6 && len(gifts) > 0:
			op = "cancel"
			g := gifts[rng.Intn(len(gifts))]
			_, err = s.CancelGift(ctx, models.GiftCanceller{CompanyID: co.ID, UserID: &admin.ID}, g.PublicID)
		case k == 7 && len(gifts) > 0 && rng.Intn(3) == 0:
			op = "expire"
			g := gifts[rng.Intn(len(gifts))]
			s.DB().Model(&models.Gift{}).Where("id = ?", g.ID).Update("expires_at", time.Now().Add(-time.Minute))
			_, err = s.RunLifecycle(ctx, 0)
		case k == 9:
			op = "stripe-topup"
			var tu *models.Topup
			tu, err = s.CreateTopup(ctx, co.ID, int64(rng.Intn(300_00)+models.TopupMinCents), models.ActorCLI)
			if err == nil {
				_, err = s.CompleteTopup(ctx, tu.PublicID, "cs_"+tu.PublicID, "pi_"+tu.PublicID, tu.AmountCents)
				topups = append(topups, tu)
			}
		case k == 10 && len(topups) > 0:
			op = "stripe-refund"
			tu := topups[rng.Intn(len(topups))]
			refunded[tu.ID] += int64(rng.Intn(80_00) + 1) // Stripe's running total, may exceed the payment
			_, err = s.BookChargeRefund(ctx, models.ChargeRefund{PaymentIntentID: "pi_" + tu.PublicID, ChargeID: "ch_" + tu.PublicID,
				AmountRefunded: refunded[tu.ID], LastRefundID: fmt.Sprintf("re_%d", step)})
		case k == 11:
			op = "refund-request"
			var rf *models.CreditRefund
			rf, err = s.RequestCreditRefund(ctx, co.ID, int64(rng.Intn(100_00)+1), "", models.ActorCLI)
			if err != nil {
				break
			}
			switch rng.Intn(4) {
			case 0:
				err = s.DeclineCreditRefund(ctx, rf.PublicID, "", models.ActorCLI)
			case 1:
				err = s.CreditNoteRefund(ctx, rf.PublicID, "GS-1", models.ActorCLI)
			case 2, 3:
				var jobs []models.RefundJob
				jobs, err = s.PrepareStripeRefund(ctx, rf.PublicID, models.ActorCLI)
				for _, j := range jobs {
					if err != nil {
						break
					}
					if rng.Intn(4) == 0 {
						err = s.FailRefundPart(ctx, j.Part.ID, "refused")
					} else {
						err = s.ConfirmRefundPart(ctx, j.Part.ID, "re_"+j.Part.Key)
					}
				}
			}
		case k == 12 && len(paidPayouts) > 0:
			op = "transfer-reversal"
			p := paidPayouts[rng.Intn(len(paidPayouts))]
			reversed[p.ID] += int64(rng.Intn(20_00) + 1)
			_, err = s.BookTransferReversal(ctx, models.TransferReversed{TransferID: "tr_" + p.PublicID, TransferGroup: "settlement-" + p.PublicID,
				AmountReversed: reversed[p.ID], LastReversalID: fmt.Sprintf("trr_%d", step)})
			if err == nil && rng.Intn(2) == 0 {
				var rvs []models.TransferReversal
				s.DB().Where("released_at IS NULL").Find(&rvs)
				if len(rvs) > 0 {
					err = s.ReleaseTransferReversal(ctx, rvs[rng.Intn(len(rvs))].ID, models.ActorCLI)
				}
			}
		default:
			op = "settle"
			var jobs []models.PayoutJob
			jobs, err = s.PrepareSettlement(ctx, 1)
			if len(jobs) == 0 {
				op = "settle-nothing"
			}
			for _, j := range jobs {
				if rng.Intn(3) == 0 {
					err = s.FailPayout(ctx, j.Payout.ID, "refused")
				} else {
					err = s.ConfirmPayout(ctx, j.Payout.ID, "tr_"+j.Payout.PublicID)
					if err == nil {
						paidPayouts = append(paidPayouts, j.Payout)
					}
				}
				if err != nil {
					break
				}
			}
		}
		if err != nil && !expectedRefusal(err) {
			t.Fatalf("step %d %s: unexpected error %v", step, op, err)
		}
		if err == nil {
			ops[op]++
		}
		if problems, verr := s.VerifyLedger(ctx); verr != nil || len(problems) > 0 {
			t.Fatalf("step %d %s broke the books: %v %v", step, op, verr, problems)
		}
	}
	t.Logf("applied: %v", ops)
	if ops["gift"] == 0 || ops["redeem"] == 0 || ops["settle"] == 0 {
		t.Fatalf("history too thin to mean anything: %v", ops)
	}
}

// expectedRefusal is what a random history legitimately runs into.
func expectedRefusal(err error) bool {
	var v models.ValidationErrors
	return errors.As(err, &v) || errors.Is(err, models.ErrInsufficientBalance) || errors.Is(err, models.ErrConflict) ||
		errors.Is(err, models.ErrExpired) || errors.Is(err, models.ErrNotFound)
}
