package models

// Ports: what the domain needs from a payment provider, by capability.
//
// The domain never talks to a provider's SDK. app/stripe implements every
// port below with Stripe's Go SDK (the only package importing it) and app
// wires it in; without STRIPE_SECRET_KEY the ports are nil and the app runs
// on invoices, with pages saying that online payment is not configured.
//
// Adding a second payout provider means: one new adapter package (say
// app/mollie) implementing Checkout, Connect, Transfers, Refunds and
// PaymentEvents, turning its SDK's errors into ErrPaymentRefused /
// ErrPaymentOutcomeUnknown and its webhook events into the PaymentEventData
// types below; plus wiring in app/server.go (which provider a deployment
// uses, its hosted pages in formActionHosts) and a webhook route whose
// handler passes the provider's signature header to VerifyEvent (today's
// reads Stripe-Signature). The domain and the ledger stay as they are, and
// handlers only see the ports. What remains Stripe-named is
// the schema: merchants' stripe_account_id, stripe_requirements and
// stripe_updated_at columns (MerchantStripe), topups' stripe_session_id,
// payouts' stripe_transfer_id, the tables stripe_refunds, stripe_charges
// and stripe_events, and the ledger accounts cash:stripe and payout:stripe. A
// second provider either reuses them as "the provider's id" or gets a
// migration of its own; until then they are a naming cost, not a design one.

import (
	"context"
	"errors"
	"time"
)

// Checkout takes a company's payment for a credit top-up on the provider's
// hosted page (card or SEPA debit).
type Checkout interface {
	// CreateCheckoutSession starts a payment for a top-up and returns the
	// session id and the URL to send the payer to. The top-up's public id
	// names the session, so a repeated call returns the same session; the
	// payment is confirmed later by a CheckoutSessionEvent, never by the
	// payer's return to SuccessURL.
	CreateCheckoutSession(ctx context.Context, in CheckoutInput) (id, url string, err error)
}

// CheckoutInput describes a top-up payment.
type CheckoutInput struct {
	TopupID     string // the top-up's public id (tu_…)
	AmountCents int64
	Currency    string // ISO 4217, any case
	SuccessURL  string
	CancelURL   string
}

// Connect gives merchants an account at the provider that can receive
// payouts, and tells what the provider still needs from them.
type Connect interface {
	// CreateConnectedAccount creates a payout account for a merchant and
	// returns its id. The idempotency key makes a retried call return the
	// same account.
	CreateConnectedAccount(ctx context.Context, in ConnectedAccountInput) (string, error)
	// CreateOnboardingLink returns a single-use URL of the provider's
	// onboarding for the account; refreshURL is where an expired or used
	// link sends the owner, returnURL where a finished one does.
	CreateOnboardingLink(ctx context.Context, accountID, refreshURL, returnURL string) (string, error)
	// ConnectedAccount fetches the account's current state (AsOf = now,
	// whole seconds, so an account event of the same second still applies).
	ConnectedAccount(ctx context.Context, accountID string) (*StripeAccountState, error)
}

// ConnectedAccountInput describes the merchant an account is created for.
type ConnectedAccountInput struct {
	MerchantID     uint
	Email          string
	BusinessName   string
	BusinessURL    string // may be empty
	IdempotencyKey string
}

// Transfers pays money out to a merchant's connected account.
type Transfers interface {
	// CreateTransfer sends a transfer and returns its id. The idempotency
	// key makes a repeated call (after a crash) return the first transfer
	// instead of paying twice. Errors are ErrPaymentRefused (nothing was
	// paid) or ErrPaymentOutcomeUnknown (it may have been).
	CreateTransfer(ctx context.Context, in TransferInput) (string, error)
}

// TransferInput is one payout to send.
type TransferInput struct {
	AccountID      string // the merchant's connected account
	AmountCents    int64
	Currency       string // ISO 4217, any case
	Group          string // "settlement-<payout public id>": transfer events name it
	IdempotencyKey string
	// SourceCharge, when set, names the charge that funded the transfer,
	// so it draws on that charge's funds even before they are available
	// in the platform balance.
	SourceCharge string
}

// Refunds pays a company's money back onto the payment it came from.
type Refunds interface {
	// CreateRefund refunds part of a top-up's payment and returns the
	// refund's id. The idempotency key makes a repeated call (after a crash)
	// return the first refund. Errors are ErrPaymentRefused or
	// ErrPaymentOutcomeUnknown.
	CreateRefund(ctx context.Context, paymentIntentID string, amountCents int64, idempotencyKey string) (string, error)
}

// Outcomes of a call to the payment provider that did not succeed. Every
// error of a Transfers or Refunds call matches exactly one of them
// (errors.Is); its text is the provider's, for the operator.
var (
	// ErrPaymentRefused means the provider answered and refused (invalid
	// account, insufficient balance, …): nothing happened, so the payout
	// or refund part is recorded failed and its amount given back.
	ErrPaymentRefused = errors.New("refused by the payment provider")
	// ErrPaymentOutcomeUnknown means the call may or may not have taken
	// effect (network, rate limit, provider outage): the payout or part
	// stays pending and is repeated with the same idempotency key.
	ErrPaymentOutcomeUnknown = errors.New("payment provider outcome unknown")
	// ErrPaymentsUnavailable is returned when no payment provider is
	// configured.
	ErrPaymentsUnavailable = errors.New("stripe is not configured")
)

// PaymentEvents verifies and decodes the provider's webhook events.
type PaymentEvents interface {
	// VerifyEvent checks the signature over the raw body (rejecting stale
	// timestamps) and decodes the event. Errors: ErrEventStale,
	// ErrEventSignature, ErrEventMalformed, ErrEventIncomplete; nothing
	// else. An authentic event the domain cannot apply comes back without
	// error and with PaymentEvent.Err set, so it is stored all the same.
	VerifyEvent(payload []byte, signature string) (PaymentEvent, error)
	// DecodeEvent decodes a payload stored by an earlier VerifyEvent,
	// without a signature, for retries. An error means the payload is not
	// an event at all.
	DecodeEvent(payload []byte) (PaymentEvent, error)
}

// Reasons VerifyEvent rejects a delivery; nothing is stored.
var (
	ErrEventStale      = errors.New("event signature timestamp outside the tolerance")
	ErrEventSignature  = errors.New("event signature does not match the body")
	ErrEventMalformed  = errors.New("body is not an event")
	ErrEventIncomplete = errors.New("event lacks id, type or data")
	// ErrEventAPIVersion (in PaymentEvent.Err) means the event was rendered
	// with another API version than the adapter reads: it is stored and
	// flagged, never applied, until an operator updates the endpoint.
	ErrEventAPIVersion = errors.New("event API version mismatch")
)

// PaymentEvent is one verified event from the payment provider.
type PaymentEvent struct {
	ID         string
	Type       string // the provider's name, e.g. "account.updated"
	APIVersion string
	Account    string // connected account, for Connect events
	Created    time.Time
	Payload    []byte // the body as received, stored for retries
	// Data is what the event says, as the domain reads it; nil for a type
	// the domain does not handle (stored, answered 200, not applied).
	Data PaymentEventData
	// Err is why an authentic event cannot be applied: ErrEventAPIVersion,
	// or its object could not be read. The event is stored and its
	// processing recorded as failed.
	Err error
}

// PaymentEventData is the content of a decoded event: one of
// AccountUpdated, CheckoutSessionEvent, ChargeSucceeded, ChargeRefund or
// TransferReversed. Store.applyPaymentEvent dispatches on it.
type PaymentEventData interface{ paymentEventData() }

// AccountUpdated carries a connected account's state (account.updated),
// AsOf the event's creation.
type AccountUpdated struct{ State StripeAccountState }

// CheckoutSessionEvent says how a top-up's hosted payment went
// (checkout.session.completed, …async_payment_succeeded, …async_payment_failed).
type CheckoutSessionEvent struct {
	TopupID         string // client_reference_id: a top-up's public id if ours
	SessionID       string
	PaymentIntentID string
	AmountTotal     int64
	Paid            bool // the money is collected (SEPA: only after async success)
	Failed          bool // the asynchronous payment failed (a bounced SEPA debit)
}

// ChargeSucceeded says which charge paid a payment intent (charge.succeeded).
type ChargeSucceeded struct{ PaymentIntentID, ChargeID string }

func (AccountUpdated) paymentEventData()       {}
func (CheckoutSessionEvent) paymentEventData() {}
func (ChargeSucceeded) paymentEventData()      {}
func (ChargeRefund) paymentEventData()         {} // charge.refunded
func (TransferReversed) paymentEventData()     {} // transfer.reversed
