package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"trostpflaster/handlers"
	"trostpflaster/models"
)

// stripePayments implements handlers.Payments with stripe-go through a
// client of its own (never stripe-go's package-level key or backends), so
// tests can point it at stripe-mock via STRIPE_API_BASE.
type stripePayments struct {
	api *client.API
	now func() time.Time
}

// newStripePayments builds the Stripe adapter, or returns nil when no secret
// key is configured (the app then runs without Stripe).
func newStripePayments(cfg Config, log *slog.Logger) *stripePayments {
	if !cfg.StripeEnabled() {
		return nil
	}
	backend := func(t stripe.SupportedBackend) stripe.Backend {
		// One config per backend: GetBackendWithConfig fills in defaults
		// (the URL among them) on the struct it is given.
		bc := &stripe.BackendConfig{
			HTTPClient:        &http.Client{Timeout: 30 * time.Second},
			LeveledLogger:     stripeLogger{log},
			MaxNetworkRetries: stripe.Int64(2),
		}
		if cfg.StripeAPIBase != "" {
			bc.URL = stripe.String(cfg.StripeAPIBase)
		}
		return stripe.GetBackendWithConfig(t, bc)
	}
	api := &client.API{}
	api.Init(cfg.StripeSecretKey, &stripe.Backends{
		API:     backend(stripe.APIBackend),
		Connect: backend(stripe.ConnectBackend),
		Uploads: backend(stripe.UploadsBackend),
	})
	return &stripePayments{api: api, now: time.Now}
}

func (p *stripePayments) CreateConnectedAccount(ctx context.Context, in handlers.ConnectedAccountInput) (string, error) {
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
	acct, err := p.api.Accounts.New(params)
	if err != nil {
		return "", fmt.Errorf("stripe: create account: %w", err)
	}
	return acct.ID, nil
}

func (p *stripePayments) CreateOnboardingLink(ctx context.Context, accountID, refreshURL, returnURL string) (string, error) {
	params := &stripe.AccountLinkParams{
		Account:    stripe.String(accountID),
		RefreshURL: stripe.String(refreshURL),
		ReturnURL:  stripe.String(returnURL),
		Type:       stripe.String(string(stripe.AccountLinkTypeAccountOnboarding)),
	}
	params.Context = ctx
	link, err := p.api.AccountLinks.New(params)
	if err != nil {
		return "", fmt.Errorf("stripe: create account link: %w", err)
	}
	return link.URL, nil
}

func (p *stripePayments) ConnectedAccount(ctx context.Context, accountID string) (*models.StripeAccountState, error) {
	params := &stripe.AccountParams{}
	params.Context = ctx
	acct, err := p.api.Accounts.GetByID(accountID, params)
	if err != nil {
		return nil, fmt.Errorf("stripe: retrieve account: %w", err)
	}
	st := handlers.StripeAccountStateOf(acct)
	// Whole seconds, like event.created: an account.updated event from the
	// same second as this fetch still applies.
	st.AsOf = p.now().UTC().Truncate(time.Second)
	return &st, nil
}

// stripeLogger sends stripe-go's own log lines to slog (errors as warnings:
// the caller logs the failure that matters).
type stripeLogger struct{ log *slog.Logger }

func (l stripeLogger) Debugf(string, ...any) {}
func (l stripeLogger) Infof(string, ...any)  {}
func (l stripeLogger) Warnf(f string, v ...any) {
	l.log.Warn(fmt.Sprintf(f, v...), "component", "stripe")
}
func (l stripeLogger) Errorf(f string, v ...any) {
	l.log.Warn(fmt.Sprintf(f, v...), "component", "stripe")
}

// paymentsOrNil keeps a nil *stripePayments from becoming a non-nil
// interface value (handlers check Payments == nil).
func paymentsOrNil(p *stripePayments) handlers.Payments {
	if p == nil {
		return nil
	}
	return p
}
