package mail

// The mails about gifts: the recipient's gift mail (sent at once, approved,
// a bulk row) and expiry reminder, and the agent's approval decision.

import (
	"trostpflaster/models"
	"trostpflaster/views/i18n"
)

// giftMailData is what the gift and reminder mails show.
type giftMailData struct {
	Gift      *models.Gift
	Company   string
	Merchants []models.Merchant
	Link      string
	Lang      string
}

func (c *Composer) giftData(g *models.Gift, token string) giftMailData {
	return giftMailData{Gift: g, Company: g.Company.Name, Merchants: g.OfferedMerchants(), Link: c.link("/c/" + token), Lang: i18n.Match(g.Lang)}
}

// GiftSent renders the recipient's mail in the gift's language: a
// plain-text part and an HTML part with the claim button.
func (c *Composer) GiftSent(g *models.Gift, token string) (models.Mail, error) {
	data := c.giftData(g, token)
	return c.compose(data.Lang, "gift_sent", g.RecipientEmail, data)
}

// ExpiryReminder renders the reminder a recipient gets a month before the
// voucher expires (run by the lifecycle job).
func (c *Composer) ExpiryReminder(g *models.Gift, token string) (models.Mail, error) {
	data := c.giftData(g, token)
	return c.compose(data.Lang, "expiry_reminder", g.RecipientEmail, data)
}

// GiftDecision tells an agent that an admin approved or declined their
// waiting gift, with the admin's note, in the agent's language. It names
// the recipient only by name (the agent entered it), never by address.
func (c *Composer) GiftDecision(g *models.Gift, agent *models.User, approved bool) (models.Mail, error) {
	lang := i18n.Match(agent.Locale)
	recipient := g.RecipientName
	if recipient == "" {
		recipient = g.Reference
	}
	if recipient == "" {
		recipient = c.cat.T(lang, "gifts.anon")
	}
	data := map[string]any{"Gift": g, "Agent": agent, "Approved": approved, "Recipient": recipient,
		"Link": c.link("/gifts/" + g.PublicID)}
	return c.compose(lang, "gift_decision", agent.Email, data)
}
