package mail

import (
	"context"

	"trostpflaster/models"
)

// DevMailbox is the sender without SMTP_URL: it sends nothing and only lets
// the worker mark mails delivered. The mails stay in the database with their
// bodies, and /dev/mail shows them (handlers/dev_mailbox.go) where the app
// offers that page: the demo, or a development machine on loopback
// (app.devMailbox).
type DevMailbox struct{}

// Send accepts m without sending it.
func (DevMailbox) Send(context.Context, models.Mail) error { return nil }
