package handlers

// Mails composed from views/mail: the ones models sends within an
// operation (a gift, an approval decision, a merchant review decision) and
// the ones the worker sends later (bulk batches resumed, expiry reminders).

import "trostpflaster/models"

// giftMailData is what the gift and reminder mails show.
type giftMailData struct {
	Gift      *models.Gift
	Company   string
	Merchants []models.Merchant
	Link      string
	Lang      string
}

// composeGiftMail renders the recipient's mail in the gift's language: a
// plain-text part and an HTML part with the claim button.
func (h *Handlers) composeGiftMail(g *models.Gift, token string) (models.Mail, error) {
	data := giftMailData{Gift: g, Company: g.Company.Name, Merchants: g.OfferedMerchants(), Link: h.opt.BaseURL + "/c/" + token, Lang: mailLang(g.Lang)}
	subject, body, err := h.r.RenderMail(data.Lang, "gift_sent", data)
	if err != nil {
		return models.Mail{}, err
	}
	html, err := h.r.RenderMailHTML(data.Lang, "gift_sent", data)
	if err != nil {
		return models.Mail{}, err
	}
	return models.Mail{To: g.RecipientEmail, Subject: subject, Text: body, HTML: html}, nil
}

// ComposeGiftMail is the recipient's gift mail, for the worker that resumes
// interrupted bulk batches.
func (h *Handlers) ComposeGiftMail(g *models.Gift, token string) (models.Mail, error) {
	return h.composeGiftMail(g, token)
}

// mailLang is lang when the UI speaks it, else the default language.
func mailLang(lang string) string {
	for _, l := range Languages {
		if l == lang {
			return l
		}
	}
	return Languages[0]
}

// composeDecisionMail tells an agent that an admin approved or declined
// their waiting gift, with the admin's note, in the agent's language.
// It names the recipient only by name (the agent entered it), never by
// address.
func (h *Handlers) composeDecisionMail(g *models.Gift, agent *models.User, approved bool) (models.Mail, error) {
	lang := mailLang(agent.Locale)
	recipient := g.RecipientName
	if recipient == "" {
		recipient = g.Reference
	}
	if recipient == "" {
		recipient = h.r.T(lang, "gifts.anon")
	}
	data := map[string]any{"Gift": g, "Agent": agent, "Approved": approved, "Recipient": recipient,
		"Link": h.opt.BaseURL + "/gifts/" + g.PublicID}
	subject, body, err := h.r.RenderMail(lang, "gift_decision", data)
	if err != nil {
		return models.Mail{}, err
	}
	return models.Mail{To: agent.Email, Subject: subject, Text: body}, nil
}

// ComposeExpiryReminder renders the reminder a recipient gets a month before
// the voucher expires (run by the lifecycle job in app).
func (h *Handlers) ComposeExpiryReminder(g *models.Gift, token string) (models.Mail, error) {
	data := giftMailData{Gift: g, Company: g.Company.Name, Merchants: g.OfferedMerchants(), Link: h.opt.BaseURL + "/c/" + token}
	subject, body, err := h.r.RenderMail(g.Lang, "expiry_reminder", data)
	if err != nil {
		return models.Mail{}, err
	}
	return models.Mail{To: g.RecipientEmail, Subject: subject, Text: body}, nil
}

// onboardingMail renders the owner's mail about an admin decision in the
// owner's language.
func (h *Handlers) merchantDecisionMail(kind string, to *models.User, m *models.Merchant, reason string) (models.Mail, error) {
	lang := to.Locale
	if lang != "en" {
		lang = "de"
	}
	subject, body, err := h.r.RenderMail(lang, "merchant_"+kind, map[string]any{
		"Name": to.Name, "Merchant": m.Name, "Reason": reason,
		"Link": h.opt.BaseURL + "/merchant/profile/review", "Profile": h.opt.BaseURL + "/partner/" + m.Slug,
	})
	return models.Mail{To: to.Email, Subject: subject, Text: body}, err
}
