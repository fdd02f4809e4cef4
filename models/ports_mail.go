package models

// MailComposer is what the domain needs from mail: the words. The domain
// decides whether, when and to whom a mail goes, and queues it in the
// transaction of the change that causes it (a gift and its mail are written
// together or not at all); the composer decides what the mail says —
// subject, plain text and, where there is one, HTML, in the recipient's
// language. app/mail implements it from the templates in views/mail.
//
// The Store gets one composer at construction (StoreOptions.Mails). A Store
// without one queues no mails (domain tests, tools): every step that would
// mail does everything else as usual.
//
// One method per kind of mail, each taking what that mail shows: a second
// delivery channel (an SMS with a gift's claim link, say) is a port of its
// own beside this one, not a flag on it (see docs/design.md, Architecture).
type MailComposer interface {
	// GiftSent is the recipient's mail for a gift that goes out (sent at
	// once, approved, or a row of a bulk batch). g has Company and
	// Offers.Merchant loaded; claimToken is the secret of the claim link.
	GiftSent(g *Gift, claimToken string) (Mail, error)
	// ExpiryReminder reminds a recipient with a balance that the voucher
	// expires soon (ExpiryReminderBefore); g is loaded as for GiftSent.
	ExpiryReminder(g *Gift, claimToken string) (Mail, error)
	// GiftDecision tells the agent who sent g that an admin approved or
	// declined it; g.DecisionNote holds the admin's note.
	GiftDecision(g *Gift, agent *User, approved bool) (Mail, error)
	// PasswordReset carries a reset link for token to u.
	PasswordReset(u *User, token string) (Mail, error)
	// StaffInvite invites inv.Email to join m, in lang: the language of the
	// page the inviter used (the invitee has no account, so no language of
	// their own yet).
	StaffInvite(inv *MerchantInvite, m *Merchant, inviter *User, token, lang string) (Mail, error)
	// MerchantDecision tells one owner of m about an admin's decision:
	// "approved", "rejected", "suspended" or "reactivated"; reason is the
	// admin's note (may be empty).
	MerchantDecision(decision string, owner *User, m *Merchant, reason string) (Mail, error)
}
