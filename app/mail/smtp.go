package mail

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	gomail "github.com/wneessen/go-mail"

	"trostpflaster/models"
)

// Sender delivers one mail; the worker (app) calls it for every queued mail
// and records the outcome. A new delivery channel is a Sender of its own.
type Sender interface {
	Send(ctx context.Context, m models.Mail) error
}

// NewSender is the SMTP sender for smtpURL (validated by app.LoadConfig:
// smtp:// or smtps://, user and password in the URL, ?tls=none for a local
// relay), sending from from; without smtpURL it is the dev mailbox.
func NewSender(smtpURL, from string) Sender {
	if smtpURL == "" {
		return DevMailbox{}
	}
	return newSMTP(smtpURL, from)
}

// smtpSender talks to the SMTP server of SMTP_URL, one connection per mail.
type smtpSender struct {
	from string
	opts []gomail.Option
	host string
}

func newSMTP(smtpURL, from string) *smtpSender {
	u, _ := url.Parse(smtpURL) // validated by LoadConfig
	port := 587
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	} else if u.Scheme == "smtps" {
		port = 465
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(20e9)}
	switch {
	case u.Scheme == "smtps":
		opts = append(opts, gomail.WithSSL())
	case u.Query().Get("tls") == "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(u.User.Username()), gomail.WithPassword(pw))
	}
	return &smtpSender{from: from, opts: opts, host: u.Hostname()}
}

// Send delivers m: the plain text, and the HTML part as its alternative
// when there is one.
func (s *smtpSender) Send(ctx context.Context, m models.Mail) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	client, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return err
	}
	return client.DialAndSendWithContext(ctx, msg)
}
