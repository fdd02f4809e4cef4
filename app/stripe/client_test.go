package stripe

import (
	"errors"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"trostpflaster/models"
)

// A Stripe 4xx is a refusal (nothing happened); a rate limit, an outage or
// a network error leaves the outcome unknown. The text stays Stripe's, for
// the operator.
func TestCallFailedClassifies(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		err     error
		refused bool
	}{
		{"bad request", &stripe.Error{HTTPStatusCode: 400, Msg: "account not ready"}, true},
		{"not found", &stripe.Error{HTTPStatusCode: 404}, true},
		{"rate limit", &stripe.Error{HTTPStatusCode: 429}, false},
		{"outage", &stripe.Error{HTTPStatusCode: 503}, false},
		{"network", errors.New("dial tcp: connection refused"), false},
	} {
		err := callFailed("transfer", c.err)
		if errors.Is(err, models.ErrPaymentRefused) != c.refused || errors.Is(err, models.ErrPaymentOutcomeUnknown) == c.refused {
			t.Errorf("%s: refused=%v unknown=%v", c.name, errors.Is(err, models.ErrPaymentRefused), errors.Is(err, models.ErrPaymentOutcomeUnknown))
		}
		if !strings.HasPrefix(err.Error(), "stripe: transfer: ") || !strings.HasSuffix(err.Error(), c.err.Error()) {
			t.Errorf("%s: text %q", c.name, err)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: Stripe's error not wrapped", c.name)
		}
	}
}
