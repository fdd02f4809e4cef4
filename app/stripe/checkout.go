package stripe

import (
	"context"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"trostpflaster/models"
)

// CreateCheckoutSession starts a Checkout payment (card or SEPA debit) for a
// company top-up: client_reference_id and metadata topup_id are the
// top-up's public id, the idempotency key "trostpflaster-checkout-<id>".
func (c *Client) CreateCheckoutSession(ctx context.Context, in models.CheckoutInput) (string, string, error) {
	params := &stripe.CheckoutSessionParams{
		Mode:               stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID:  stripe.String(in.TopupID),
		SuccessURL:         stripe.String(in.SuccessURL),
		CancelURL:          stripe.String(in.CancelURL),
		PaymentMethodTypes: stripe.StringSlice([]string{"card", "sepa_debit"}),
		LineItems: []*stripe.CheckoutSessionLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionLineItemPriceDataParams{
				Currency:   stripe.String(strings.ToLower(in.Currency)),
				UnitAmount: stripe.Int64(in.AmountCents),
				ProductData: &stripe.CheckoutSessionLineItemPriceDataProductDataParams{
					Name: stripe.String("Trostpflaster-Guthaben"),
				},
			},
		}},
	}
	params.Context = ctx
	params.AddMetadata("topup_id", in.TopupID)
	params.SetIdempotencyKey("trostpflaster-checkout-" + in.TopupID)
	sess, err := c.api.CheckoutSessions.New(params)
	if err != nil {
		return "", "", callFailed("checkout session", err)
	}
	return sess.ID, sess.URL, nil
}
