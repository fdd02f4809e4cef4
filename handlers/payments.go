package handlers

import (
	"context"
	"errors"

	"trostpflaster/models"
)

// Payments is what the handlers need from Stripe. app implements it with
// stripe-go (app/stripe.go); it is nil when STRIPE_SECRET_KEY is not set,
// and pages then say that Stripe is not configured.
type Payments interface {
	// CreateConnectedAccount creates an Express account (country DE,
	// capability transfers) for a merchant and returns its id. The
	// idempotency key makes a retried call return the same account.
	CreateConnectedAccount(ctx context.Context, in ConnectedAccountInput) (string, error)
	// CreateOnboardingLink creates a single-use account_onboarding Account
	// Link and returns its URL.
	CreateOnboardingLink(ctx context.Context, accountID, refreshURL, returnURL string) (string, error)
	// ConnectedAccount fetches the account's current state (AsOf = now).
	ConnectedAccount(ctx context.Context, accountID string) (*models.StripeAccountState, error)
	// CreateCheckoutSession starts a Stripe Checkout payment for a company
	// top-up (client_reference_id = the top-up's public id) and returns the
	// session id and the URL to send the payer to.
	CreateCheckoutSession(ctx context.Context, in CheckoutInput) (id, url string, err error)
}

// CheckoutInput describes a top-up payment.
type CheckoutInput struct {
	TopupID     string
	AmountCents int64
	Currency    string
	SuccessURL  string
	CancelURL   string
}

// ConnectedAccountInput describes the merchant an account is created for.
type ConnectedAccountInput struct {
	MerchantID     uint
	Email          string
	BusinessName   string
	BusinessURL    string // may be empty
	IdempotencyKey string
}

// ErrPaymentsUnavailable is returned when Stripe is not configured.
var ErrPaymentsUnavailable = errors.New("stripe is not configured")
