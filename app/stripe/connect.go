package stripe

import (
	"context"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v76"

	"trostpflaster/models"
)

// CreateConnectedAccount creates an Express account (country DE,
// capability transfers) for a merchant and returns its id.
func (c *Client) CreateConnectedAccount(ctx context.Context, in models.ConnectedAccountInput) (string, error) {
	params := &stripe.AccountParams{
		Type:    stripe.String(string(stripe.AccountTypeExpress)),
		Country: stripe.String("DE"),
		Capabilities: &stripe.AccountCapabilitiesParams{
			Transfers: &stripe.AccountCapabilitiesTransfersParams{Requested: stripe.Bool(true)},
		},
		BusinessProfile: &stripe.AccountBusinessProfileParams{Name: stripe.String(in.BusinessName)},
	}
	if in.Email != "" {
		params.Email = stripe.String(in.Email)
	}
	if in.BusinessURL != "" {
		params.BusinessProfile.URL = stripe.String(in.BusinessURL)
	}
	params.Context = ctx
	params.AddMetadata("merchant_id", strconv.FormatUint(uint64(in.MerchantID), 10))
	if in.IdempotencyKey != "" {
		params.SetIdempotencyKey(in.IdempotencyKey)
	}
	acct, err := c.api.Accounts.New(params)
	if err != nil {
		return "", callFailed("create account", err)
	}
	return acct.ID, nil
}

// CreateOnboardingLink creates a single-use account_onboarding Account
// Link and returns its URL.
func (c *Client) CreateOnboardingLink(ctx context.Context, accountID, refreshURL, returnURL string) (string, error) {
	params := &stripe.AccountLinkParams{
		Account:    stripe.String(accountID),
		RefreshURL: stripe.String(refreshURL),
		ReturnURL:  stripe.String(returnURL),
		Type:       stripe.String(string(stripe.AccountLinkTypeAccountOnboarding)),
	}
	params.Context = ctx
	link, err := c.api.AccountLinks.New(params)
	if err != nil {
		return "", callFailed("create account link", err)
	}
	return link.URL, nil
}

// ConnectedAccount fetches the account's current state.
func (c *Client) ConnectedAccount(ctx context.Context, accountID string) (*models.StripeAccountState, error) {
	params := &stripe.AccountParams{}
	params.Context = ctx
	acct, err := c.api.Accounts.GetByID(accountID, params)
	if err != nil {
		return nil, callFailed("retrieve account", err)
	}
	st := accountState(acct)
	// Whole seconds, like event.created: an account.updated event from the
	// same second as this fetch still applies.
	st.AsOf = c.now().UTC().Truncate(time.Second)
	return &st, nil
}

// accountState extracts what the marketplace keeps of a connected
// account. AsOf is left to the caller (event time or fetch time).
func accountState(a *stripe.Account) models.StripeAccountState {
	st := models.StripeAccountState{AccountID: a.ID, ChargesEnabled: a.ChargesEnabled,
		PayoutsEnabled: a.PayoutsEnabled, DetailsSubmitted: a.DetailsSubmitted}
	if a.Requirements != nil {
		st.CurrentlyDue = append([]string{}, a.Requirements.CurrentlyDue...)
	}
	return st
}
