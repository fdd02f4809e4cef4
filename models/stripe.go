package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gorm.io/gorm"
)

// MerchantStripe is the merchant's Stripe Connect state, embedded in
// Merchant (its columns live in the merchants table). The flags mirror the
// connected account as last seen, from a re-fetch or an account.updated
// event; StripeUpdatedAt is the moment that state was true at Stripe, so an
// older event arriving late never overwrites newer state.
type MerchantStripe struct {
	// StripeAccountID is set once and never replaced: the unique index and
	// the conditional update in SetStripeAccountID make sure a merchant has
	// one connected account, even after a double click.
	StripeAccountID  *string `gorm:"size:64;uniqueIndex"`
	ChargesEnabled   bool    `gorm:"not null;default:false"`
	PayoutsEnabled   bool    `gorm:"not null;default:false"`
	DetailsSubmitted bool    `gorm:"not null;default:false"`
	// StripeRequirements is a JSON array of Stripe's
	// requirements.currently_due field names (what Stripe still needs).
	StripeRequirements string `gorm:"type:text;not null;default:''"`
	StripeUpdatedAt    *time.Time
}

// CurrentlyDue lists what Stripe still needs from the merchant (Stripe's
// field names, e.g. "individual.dob.day").
func (m MerchantStripe) CurrentlyDue() []string {
	var out []string
	if m.StripeRequirements != "" {
		_ = json.Unmarshal([]byte(m.StripeRequirements), &out) // written only by SetStripeAccountState
	}
	return out
}

// StripeConnected reports whether the merchant has a connected account.
func (m MerchantStripe) StripeConnected() bool {
	return m.StripeAccountID != nil && *m.StripeAccountID != ""
}

// StripeReady reports whether transfers to the merchant can be paid out.
func (m MerchantStripe) StripeReady() bool { return m.StripeConnected() && m.PayoutsEnabled }

// StripeAccount returns the account id or "".
func (m MerchantStripe) StripeAccount() string {
	if m.StripeAccountID == nil {
		return ""
	}
	return *m.StripeAccountID
}

// MerchantStripeStatus loads a merchant by id with its current Stripe state.
func (s *Store) MerchantStripeStatus(ctx context.Context, merchantID uint) (*Merchant, error) {
	var m Merchant
	err := s.db.WithContext(ctx).Preload("Region").First(&m, merchantID).Error
	return &m, notFound(err)
}

// SetStripeAccountID records the connected account created for a merchant,
// unless one is already recorded: then the stored id wins and is returned
// (a concurrent second request, a double click). The caller uses the
// returned id from then on.
func (s *Store) SetStripeAccountID(ctx context.Context, merchantID uint, accountID string, a Actor) (string, error) {
	if accountID == "" {
		return "", ValidationErrors{"stripe_account_id": MsgRequired}
	}
	var stored string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Merchant{}).Where("id = ? AND stripe_account_id IS NULL", merchantID).
			UpdateColumns(map[string]any{"stripe_account_id": accountID, "updated_at": s.Now()})
		if res.Error != nil {
			return notFound(res.Error)
		}
		var m Merchant
		if err := tx.Select("id", "stripe_account_id").First(&m, merchantID).Error; err != nil {
			return notFound(err)
		}
		stored = m.StripeAccount()
		if res.RowsAffected == 0 {
			return nil
		}
		return audit(tx, a, "merchant.stripe_account_created", "merchant", &merchantID, map[string]any{"account": accountID})
	})
	return stored, err
}

// StripeAccountState is a connected account as Stripe reported it at AsOf.
type StripeAccountState struct {
	AccountID        string
	ChargesEnabled   bool
	PayoutsEnabled   bool
	DetailsSubmitted bool
	CurrentlyDue     []string
	AsOf             time.Time // event.created, or the time of a fresh fetch
}

// Outcomes of SetStripeAccountState.
var (
	// ErrStaleState means newer state was already applied (an older event
	// arrived late); nothing changed.
	ErrStaleState = errors.New("stale stripe state")
)

// SetStripeAccountState applies the state of a connected account to the
// merchant that owns it. It is idempotent and order-tolerant: state older
// than what was last applied is ignored (ErrStaleState). An account no
// merchant owns gives ErrNotFound.
func (s *Store) SetStripeAccountState(ctx context.Context, st StripeAccountState) (*Merchant, error) {
	if st.AccountID == "" {
		return nil, ErrNotFound
	}
	due := st.CurrentlyDue
	if due == nil {
		due = []string{}
	}
	b, err := json.Marshal(due)
	if err != nil {
		return nil, err
	}
	asOf := st.AsOf.UTC()
	var m Merchant
	err = s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Merchant{}).
			Where("stripe_account_id = ? AND (stripe_updated_at IS NULL OR stripe_updated_at <= ?)", st.AccountID, asOf).
			UpdateColumns(map[string]any{
				"charges_enabled":     st.ChargesEnabled,
				"payouts_enabled":     st.PayoutsEnabled,
				"details_submitted":   st.DetailsSubmitted,
				"stripe_requirements": string(b),
				"stripe_updated_at":   asOf,
				"updated_at":          s.Now(),
			})
		if res.Error != nil {
			return res.Error
		}
		if err := tx.Where("stripe_account_id = ?", st.AccountID).First(&m).Error; err != nil {
			return notFound(err)
		}
		if res.RowsAffected == 0 {
			return ErrStaleState
		}
		return audit(tx, Actor{Kind: "webhook"}, "merchant.stripe_state", "merchant", &m.ID, map[string]any{
			"charges_enabled": st.ChargesEnabled, "payouts_enabled": st.PayoutsEnabled,
			"details_submitted": st.DetailsSubmitted, "currently_due": len(due)})
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// StripeOnboardingLink makes sure the merchant has exactly one connected
// account and returns a fresh onboarding link for it. The account is created
// with an idempotency key tied to the merchant row, and its id is stored
// with a conditional update: a double click or a second process reuses the
// stored account instead of keeping a second one. The link comes back to
// the payout set-up page (baseURL + /merchant/stripe/refresh or /return,
// ?m=slug). Used by that page and by `merchant connect` on the command line;
// no transaction is held across a provider call.
func (s *Store) StripeOnboardingLink(ctx context.Context, c Connect, merchantID uint, baseURL string) (string, error) {
	if c == nil {
		return "", ErrPaymentsUnavailable
	}
	m, err := s.MerchantStripeStatus(ctx, merchantID)
	if err != nil {
		return "", err
	}
	acct := m.StripeAccount()
	if acct == "" {
		created, err := c.CreateConnectedAccount(ctx, ConnectedAccountInput{
			MerchantID: m.ID, Email: m.ContactEmail, BusinessName: m.Name, BusinessURL: m.Website,
			IdempotencyKey: fmt.Sprintf("tp-merchant-account-%d-%d", m.ID, m.CreatedAt.UnixNano()),
		})
		if err != nil {
			return "", err
		}
		if acct, err = s.SetStripeAccountID(ctx, m.ID, created, ActorSystem); err != nil {
			return "", err
		}
	}
	base := strings.TrimRight(baseURL, "/")
	q := "?m=" + url.QueryEscape(m.Slug)
	return c.CreateOnboardingLink(ctx, acct, base+"/merchant/stripe/refresh"+q, base+"/merchant/stripe/return"+q)
}
