package app

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	gomail "github.com/wneessen/go-mail"

	"trostpflaster/models"
)

// Mailer delivers one mail. The SMTP mailer talks to SMTP_URL; without it the
// dev mailer only marks mails delivered, and /dev/mail shows them.
type Mailer interface {
	Send(ctx context.Context, m models.Mail) error
}

type devMailer struct{}

func (devMailer) Send(context.Context, models.Mail) error { return nil }

type smtpMailer struct {
	from string
	opts []gomail.Option
	host string
}

func newMailer(cfg Config) Mailer {
	if cfg.SMTPURL == "" {
		return devMailer{}
	}
	u, _ := url.Parse(cfg.SMTPURL) // validated by LoadConfig
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
	return &smtpMailer{from: cfg.MailFrom, opts: opts, host: u.Hostname()}
}

func (s *smtpMailer) Send(ctx context.Context, m models.Mail) error {
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
