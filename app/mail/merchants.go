package mail

// The mails to a merchant's owners about the platform admin's decisions.

import (
	"trostpflaster/models"
	"trostpflaster/views/i18n"
)

// MerchantDecision renders the owner's mail about an admin decision
// (mail/merchant_DECISION.txt) in the owner's language.
func (c *Composer) MerchantDecision(decision string, owner *models.User, m *models.Merchant, reason string) (models.Mail, error) {
	return c.compose(i18n.Match(owner.Locale), "merchant_"+decision, owner.Email, map[string]any{
		"Name": owner.Name, "Merchant": m.Name, "Reason": reason,
		"Link": c.link("/merchant/profile/review"), "Profile": c.link("/partner/" + m.Slug),
	})
}
