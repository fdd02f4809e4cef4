package stripe

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"trostpflaster/models"
)

const testSecret = "whsec_test"

func event(t *testing.T, typ, version string, object map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": "evt_1", "object": "event", "api_version": version, "created": 1700000000,
		"type": typ, "account": "acct_1", "data": map[string]any{"object": object}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The signature is checked on the raw body, with the five-minute tolerance;
// each rejection has its own domain error.
func TestVerifyEventRejects(t *testing.T) {
	t.Parallel()
	w := NewWebhooks(testSecret)
	body := event(t, "customer.created", APIVersion, map[string]any{"id": "cus_1"})
	now := time.Now()
	for _, c := range []struct {
		name      string
		body      []byte
		signature string
		want      error
	}{
		{"unsigned", body, "", models.ErrEventSignature},
		{"other secret", body, SignTestPayload(body, "whsec_other", now), models.ErrEventSignature},
		{"stale", body, SignTestPayload(body, testSecret, now.Add(-10*time.Minute)), models.ErrEventStale},
		{"not json", []byte("nope"), SignTestPayload([]byte("nope"), testSecret, now), models.ErrEventMalformed},
		{"no data", []byte(`{"id":"evt_1","type":"x"}`), SignTestPayload([]byte(`{"id":"evt_1","type":"x"}`), testSecret, now), models.ErrEventIncomplete},
	} {
		if _, err := w.VerifyEvent(c.body, c.signature); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	ev, err := w.VerifyEvent(body, SignTestPayload(body, testSecret, now))
	if err != nil || ev.ID != "evt_1" || ev.Data != nil || ev.Err != nil || string(ev.Payload) != string(body) {
		t.Fatalf("unhandled type: %+v %v", ev, err)
	}
}

// Handled types decode into the domain's events; another API version is
// an error of the event (stored and flagged), as is an unreadable object.
func TestDecodeEvent(t *testing.T) {
	t.Parallel()
	w := NewWebhooks("")
	created := time.Unix(1700000000, 0).UTC()
	for _, c := range []struct {
		name string
		body []byte
		want models.PaymentEventData
	}{
		{"account", event(t, "account.updated", APIVersion, map[string]any{"object": "account", "payouts_enabled": true,
			"requirements": map[string]any{"currently_due": []string{"individual.dob.day"}}}),
			models.AccountUpdated{State: models.StripeAccountState{AccountID: "acct_1", PayoutsEnabled: true, CurrentlyDue: []string{"individual.dob.day"}, AsOf: created}}},
		{"checkout paid", event(t, "checkout.session.completed", APIVersion, map[string]any{"id": "cs_1", "client_reference_id": "tu_1",
			"payment_status": "paid", "amount_total": 500, "payment_intent": "pi_1"}),
			models.CheckoutSessionEvent{TopupID: "tu_1", SessionID: "cs_1", PaymentIntentID: "pi_1", AmountTotal: 500, Paid: true}},
		{"checkout failed", event(t, "checkout.session.async_payment_failed", APIVersion, map[string]any{"id": "cs_1", "client_reference_id": "tu_1",
			"payment_status": "unpaid"}),
			models.CheckoutSessionEvent{TopupID: "tu_1", SessionID: "cs_1", Failed: true}},
		{"charge", event(t, "charge.succeeded", APIVersion, map[string]any{"id": "ch_1", "payment_intent": "pi_1"}),
			models.ChargeSucceeded{PaymentIntentID: "pi_1", ChargeID: "ch_1"}},
		{"refund", event(t, "charge.refunded", APIVersion, map[string]any{"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 300,
			"refunds": map[string]any{"object": "list", "data": []any{map[string]any{"id": "re_2"}, map[string]any{"id": "re_1"}}}}),
			models.ChargeRefund{PaymentIntentID: "pi_1", ChargeID: "ch_1", AmountRefunded: 300, LastRefundID: "re_2"}},
		{"reversal", event(t, "transfer.reversed", APIVersion, map[string]any{"id": "tr_1", "transfer_group": "settlement-po_1", "amount_reversed": 200,
			"reversals": map[string]any{"object": "list", "data": []any{map[string]any{"id": "trr_1"}}}}),
			models.TransferReversed{TransferID: "tr_1", TransferGroup: "settlement-po_1", AmountReversed: 200, LastReversalID: "trr_1"}},
	} {
		ev, err := w.DecodeEvent(c.body)
		if err != nil || ev.Err != nil || !equalJSON(t, ev.Data, c.want) || !ev.Created.Equal(created) || ev.Account != "acct_1" {
			t.Errorf("%s: %+v %v", c.name, ev, err)
		}
	}
	ev, err := w.DecodeEvent(event(t, "account.updated", "2019-02-19", map[string]any{"id": "acct_1"}))
	if err != nil || !errors.Is(ev.Err, models.ErrEventAPIVersion) || ev.Data != nil {
		t.Errorf("other version: %+v %v", ev, err)
	}
	ev, err = w.DecodeEvent(event(t, "account.updated", APIVersion, map[string]any{"id": "acct_1", "payouts_enabled": "yes"}))
	if err != nil || ev.Err == nil || errors.Is(ev.Err, models.ErrEventAPIVersion) || ev.Data != nil {
		t.Errorf("unreadable object: %+v %v", ev, err)
	}
	if _, err := w.DecodeEvent([]byte("{")); !errors.Is(err, models.ErrEventMalformed) {
		t.Errorf("stored garbage: %v", err)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Logf("got  %s\nwant %s", ja, jb)
	}
	return string(ja) == string(jb)
}
