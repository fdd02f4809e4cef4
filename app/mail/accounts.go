package mail

// The mails about accounts: a password reset link and a staff invitation.

import (
	"trostpflaster/models"
	"trostpflaster/views/i18n"
)

// PasswordReset carries the reset link, in the user's language.
func (c *Composer) PasswordReset(u *models.User, token string) (models.Mail, error) {
	return c.compose(i18n.Match(u.Locale), "password_reset", u.Email, map[string]any{
		"Name": u.Name, "Link": c.link("/reset/" + token),
	})
}

// StaffInvite carries the invitation link to join a merchant, in the
// language of the page the inviter used.
func (c *Composer) StaffInvite(inv *models.MerchantInvite, m *models.Merchant, inviter *models.User, token, lang string) (models.Mail, error) {
	return c.compose(i18n.Match(lang), "staff_invite", inv.Email, map[string]any{
		"Inviter": inviter.Name, "Merchant": m.Name, "Link": c.link("/invite/" + token),
	})
}
