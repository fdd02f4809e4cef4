package stripe

import (
	"context"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"trostpflaster/models"
)

// CreateTransfer creates a transfer to a connected account, with
// transfer_group and, when in.SourceCharge is set, source_transaction.
func (c *Client) CreateTransfer(ctx context.Context, in models.TransferInput) (string, error) {
	params := &stripe.TransferParams{
		Amount:        stripe.Int64(in.AmountCents),
		Currency:      stripe.String(strings.ToLower(in.Currency)),
		Destination:   stripe.String(in.AccountID),
		TransferGroup: stripe.String(in.Group),
	}
	if in.SourceCharge != "" {
		params.SourceTransaction = stripe.String(in.SourceCharge)
	}
	params.Context = ctx
	params.SetIdempotencyKey(in.IdempotencyKey)
	tr, err := c.api.Transfers.New(params)
	if err != nil {
		return "", callFailed("transfer", err)
	}
	return tr.ID, nil
}
