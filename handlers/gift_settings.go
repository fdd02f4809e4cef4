package handlers

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// giftSettingsPage is the company admin's gifting settings: the
// per-customer cap, the reason list, message templates and the partner
// network.
type giftSettingsPage struct {
	Page
	Settings   *models.GiftSettings
	Reasons    []models.GiftReason
	Templates  []models.GiftTemplate
	Preferred  []models.PreferredPartner
	Candidates []models.CatalogHit // approved partners not yet in the network
	Edit       *models.GiftTemplate
}

// GiftSettings shows the settings page.
func (h *Handlers) GiftSettings(c *fiber.Ctx) error {
	return h.giftSettingsPage(c, fiber.StatusOK, nil, nil)
}

func (h *Handlers) giftSettingsPage(c *fiber.Ctx, status int, form map[string]string, err error) error {
	ctx := c.UserContext()
	companyID := *companyMemberOf(c).CompanyID
	p := giftSettingsPage{Page: h.withForm(h.page(c, "gift_settings.title"), form, err)}
	var lerr error
	if p.Settings, lerr = h.store.CompanyGiftSettings(ctx, companyID); lerr != nil {
		return lerr
	}
	if p.Reasons, lerr = h.store.GiftReasons(ctx, companyID, false); lerr != nil {
		return lerr
	}
	if p.Templates, lerr = h.store.GiftTemplates(ctx, companyID); lerr != nil {
		return lerr
	}
	if p.Preferred, lerr = h.store.PreferredPartners(ctx, companyID); lerr != nil {
		return lerr
	}
	company, lerr := h.store.CompanyByID(ctx, companyID)
	if lerr != nil {
		return lerr
	}
	hits, _, lerr := h.store.SearchMerchants(ctx, h.places, models.CatalogQuery{Region: company.Region.Slug, Limit: models.CatalogMaxLimit})
	if lerr != nil {
		return lerr
	}
	in := map[uint]bool{}
	for _, pp := range p.Preferred {
		in[pp.MerchantID] = true
	}
	for _, hit := range hits {
		if !in[hit.ID] {
			p.Candidates = append(p.Candidates, hit)
		}
	}
	if p.Form == nil {
		p.Form = map[string]string{}
	}
	if _, ok := p.Form["cap_count"]; !ok && p.Settings.CapCount > 0 {
		p.Form["cap_count"] = strconv.Itoa(p.Settings.CapCount)
		p.Form["cap_days"] = strconv.Itoa(p.Settings.CapDays)
	}
	return h.render(c, status, "gift_settings", p)
}

func (h *Handlers) settingsResult(c *fiber.Ctx, form map[string]string, err error, prefix, flash string) error {
	switch {
	case isValidation(err):
		return h.giftSettingsPage(c, fiber.StatusUnprocessableEntity, form, prefixErrors(err, prefix))
	case err != nil:
		return err
	}
	h.flash(c, "success", flash)
	return seeOther(c, "/company/settings")
}

// GiftCapSave sets "at most N gestures per customer per D days".
func (h *Handlers) GiftCapSave(c *fiber.Ctx) error {
	form := formValues(c, "cap_count", "cap_days")
	v := models.ValidationErrors{}
	num := func(field string) int {
		s := strings.TrimSpace(form[field])
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			v.Add(field, models.MsgInvalid)
		}
		return n
	}
	count, days := num("cap_count"), num("cap_days")
	if err := v.Err(); err != nil {
		return h.giftSettingsPage(c, fiber.StatusUnprocessableEntity, form, err)
	}
	err := h.store.SetGiftCap(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID, count, days)
	return h.settingsResult(c, form, err, "", "gift_settings_saved")
}

// GiftReasonAdd adds a reason to the company's list.
func (h *Handlers) GiftReasonAdd(c *fiber.Ctx) error {
	form := formValues(c, "reason_name", "reason_name_en")
	_, err := h.store.AddGiftReason(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID,
		models.GiftReasonInput{Name: form["reason_name"], NameEN: form["reason_name_en"]})
	return h.settingsResult(c, form, err, "reason_", "gift_settings_saved")
}

// GiftReasonSave renames or (de)activates a reason.
func (h *Handlers) GiftReasonSave(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	form := formValues(c, "name", "name_en", "active")
	err = h.store.UpdateGiftReason(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID, id,
		models.GiftReasonInput{Name: form["name"], NameEN: form["name_en"], Active: form["active"] != ""})
	return h.settingsResult(c, nil, err, "reason_"+strconv.Itoa(int(id))+"_", "gift_settings_saved")
}

// GiftTemplateCreate adds a message template.
func (h *Handlers) GiftTemplateCreate(c *fiber.Ctx) error {
	form := formValues(c, "tpl_name", "tpl_text")
	_, err := h.store.SaveGiftTemplate(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID, 0,
		models.GiftTemplateInput{Name: form["tpl_name"], Text: form["tpl_text"]})
	return h.settingsResult(c, form, err, "tpl_", "gift_template_saved")
}

type giftTemplatePage struct {
	Page
	Template *models.GiftTemplate
}

// GiftTemplateEdit shows one template's edit form (other companies': 404).
func (h *Handlers) GiftTemplateEdit(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	t, err := h.store.GiftTemplate(c.UserContext(), *companyMemberOf(c).CompanyID, id)
	if err != nil {
		return err
	}
	p := giftTemplatePage{Page: h.withForm(h.page(c, "gift_settings.template_edit"), map[string]string{"tpl_name": t.Name, "tpl_text": t.Text}, nil), Template: t}
	return h.render(c, fiber.StatusOK, "gift_template", p)
}

// GiftTemplateUpdate saves a template.
func (h *Handlers) GiftTemplateUpdate(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	companyID := *companyMemberOf(c).CompanyID
	t, err := h.store.GiftTemplate(c.UserContext(), companyID, id)
	if err != nil {
		return err
	}
	form := formValues(c, "tpl_name", "tpl_text")
	_, err = h.store.SaveGiftTemplate(c.UserContext(), companyID, currentUser(c).ID, id,
		models.GiftTemplateInput{Name: form["tpl_name"], Text: form["tpl_text"]})
	if isValidation(err) {
		p := giftTemplatePage{Page: h.withForm(h.page(c, "gift_settings.template_edit"), form, prefixErrors(err, "tpl_")), Template: t}
		return h.render(c, fiber.StatusUnprocessableEntity, "gift_template", p)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "gift_template_saved")
	return seeOther(c, "/company/settings")
}

// GiftTemplateDelete removes a template.
func (h *Handlers) GiftTemplateDelete(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := h.store.DeleteGiftTemplate(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID, id); err != nil {
		return err
	}
	h.flash(c, "success", "gift_template_deleted")
	return seeOther(c, "/company/settings")
}

// PreferredPartnerAdd puts a partner into the company's network.
func (h *Handlers) PreferredPartnerAdd(c *fiber.Ctx) error {
	form := formValues(c, "merchant_id")
	id, perr := strconv.ParseUint(form["merchant_id"], 10, 32)
	if perr != nil || id == 0 {
		return h.giftSettingsPage(c, fiber.StatusUnprocessableEntity, form, models.ValidationErrors{"partner_merchant_id": models.MsgRequired})
	}
	err := h.store.AddPreferredPartner(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID, uint(id))
	return h.settingsResult(c, form, err, "partner_", "gift_settings_saved")
}

// PreferredPartnerRemove takes a partner out of the network.
func (h *Handlers) PreferredPartnerRemove(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := h.store.RemovePreferredPartner(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID, id); err != nil {
		return err
	}
	h.flash(c, "success", "gift_settings_saved")
	return seeOther(c, "/company/settings")
}

type apiGiftReason struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	NameEN string `json:"name_en"`
	Active bool   `json:"active"`
}

// APIGiftReasons lists the company's reason codes for help-desk
// integrations (the values `reason` accepts are the active ones).
func (h *Handlers) APIGiftReasons(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	rs, err := h.store.GiftReasons(c.UserContext(), *k.CompanyID, false)
	if err != nil {
		return err
	}
	out := apiList[apiGiftReason]{Data: make([]apiGiftReason, 0, len(rs))}
	for _, r := range rs {
		out.Data = append(out.Data, apiGiftReason{Code: r.Code, Name: r.Name, NameEN: r.Label("en"), Active: r.Active})
	}
	return c.JSON(out)
}
