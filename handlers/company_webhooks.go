package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type hookEndpointView struct {
	models.WebhookEndpoint
	Secret string
}

type hooksPage struct {
	Page
	Endpoints  []hookEndpointView
	Deliveries []models.WebhookDelivery
	Events     []string
}

func (h *Handlers) hooksPage(c *fiber.Ctx, status int, form map[string]string, err error) error {
	companyID := *companyMemberOf(c).CompanyID
	es, lerr := h.store.WebhookEndpoints(c.UserContext(), companyID)
	if lerr != nil {
		return lerr
	}
	ds, lerr := h.store.HookDeliveries(c.UserContext(), companyID, 50)
	if lerr != nil {
		return lerr
	}
	p := hooksPage{Page: h.withForm(h.page(c, "webhooks.title"), form, err), Deliveries: ds, Events: models.HookEvents}
	for i := range es {
		p.Endpoints = append(p.Endpoints, hookEndpointView{WebhookEndpoint: es[i], Secret: h.store.HookSecret(&es[i])})
	}
	c.Set(fiber.HeaderCacheControl, "no-store") // the page shows signing secrets
	return h.render(c, status, "company_webhooks", p)
}

// Hooks shows a company admin the help-desk webhook endpoints, their signing
// secrets and the delivery log.
func (h *Handlers) Hooks(c *fiber.Ctx) error { return h.hooksPage(c, fiber.StatusOK, nil, nil) }

// HookAdd registers an endpoint.
func (h *Handlers) HookAdd(c *fiber.Ctx) error {
	form := formValues(c, "url")
	_, err := h.store.AddWebhookEndpoint(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID, form["url"], h.opt.HooksAllowHTTP)
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return h.hooksPage(c, fiber.StatusUnprocessableEntity, form, err)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "webhook_added")
	return seeOther(c, "/company/webhooks")
}

// HookDelete removes an endpoint (another company's: 404).
func (h *Handlers) HookDelete(c *fiber.Ctx) error {
	if err := h.store.DeleteWebhookEndpoint(c.UserContext(), *companyMemberOf(c).CompanyID, currentUser(c).ID, strings.Clone(c.Params("id"))); err != nil {
		return err
	}
	h.flash(c, "success", "webhook_deleted")
	return seeOther(c, "/company/webhooks")
}

// HookTest queues a test.ping to an endpoint; the log shows the outcome.
func (h *Handlers) HookTest(c *fiber.Ctx) error {
	if err := h.store.SendTestHook(c.UserContext(), *companyMemberOf(c).CompanyID, strings.Clone(c.Params("id"))); err != nil {
		return err
	}
	h.flash(c, "success", "webhook_test_queued")
	return seeOther(c, "/company/webhooks")
}
