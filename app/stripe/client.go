// Package stripe is the Stripe adapter: the only package that imports
// stripe-go. It implements the payment ports the domain declares in
// models/ports.go — Checkout (checkout.go), Connect (connect.go), Transfers
// (transfers.go), Refunds (refunds.go) and PaymentEvents (webhooks.go:
// signature check and decoding of events into domain events) — and turns
// stripe-go's errors into the domain's ErrPaymentRefused and
// ErrPaymentOutcomeUnknown.
//
// Inside this package the name stripe refers to stripe-go (the imported
// package), as in the code it was moved from.
package stripe

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"trostpflaster/models"
)

// Client calls the Stripe API through a client of its own (never
// stripe-go's package-level key or backends), so tests can point it at
// stripe-mock via STRIPE_API_BASE. It implements models.Checkout,
// models.Connect, models.Transfers and models.Refunds.
type Client struct {
	api *client.API
	now func() time.Time
}

// New builds the Stripe client, or returns nil when no secret key is
// configured (the app then runs without Stripe). apiBase, when set,
// replaces Stripe's API URL (stripe-mock).
func New(secretKey, apiBase string, log *slog.Logger) *Client {
	if secretKey == "" {
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
		if apiBase != "" {
			bc.URL = stripe.String(apiBase)
		}
		return stripe.GetBackendWithConfig(t, bc)
	}
	api := &client.API{}
	api.Init(secretKey, &stripe.Backends{
		API:     backend(stripe.APIBackend),
		Connect: backend(stripe.ConnectBackend),
		Uploads: backend(stripe.UploadsBackend),
	})
	return &Client{api: api, now: time.Now}
}

// callError is a failed Stripe call as the domain sees it: refused
// (models.ErrPaymentRefused) or with an unknown outcome
// (models.ErrPaymentOutcomeUnknown). Its text is "stripe: <call>: " and
// Stripe's error, which the settlement and refund runs store for the
// operator.
type callError struct {
	err     error
	refused bool
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

func (e *callError) Is(target error) bool {
	if e.refused {
		return target == models.ErrPaymentRefused
	}
	return target == models.ErrPaymentOutcomeUnknown
}

// callFailed classifies a stripe-go error. Stripe answering 4xx (other than
// 429, rate limiting) refused the request, and with the idempotency key
// nothing happened; network trouble, a rate limit or a Stripe outage (5xx)
// leave the outcome unknown, so the caller repeats the call with the same
// key.
func callFailed(call string, err error) error {
	var se *stripe.Error
	refused := errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != 429
	return &callError{err: fmt.Errorf("stripe: %s: %w", call, err), refused: refused}
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
