package stripe

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// CreateRefund refunds part of a top-up's payment intent (reason
// requested_by_customer; metadata trostpflaster_refund = the key).
func (c *Client) CreateRefund(ctx context.Context, paymentIntentID string, amountCents int64, idempotencyKey string) (string, error) {
	params := &stripe.RefundParams{
		PaymentIntent: stripe.String(paymentIntentID),
		Amount:        stripe.Int64(amountCents),
		Reason:        stripe.String(string(stripe.RefundReasonRequestedByCustomer)),
	}
	params.Context = ctx
	params.SetIdempotencyKey(idempotencyKey)
	params.AddMetadata("trostpflaster_refund", idempotencyKey)
	r, err := c.api.Refunds.New(params)
	if err != nil {
		return "", callFailed("refund", err)
	}
	return r.ID, nil
}
