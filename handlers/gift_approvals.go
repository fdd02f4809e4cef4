package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type giftApprovalsPage struct {
	Page
	Gifts        []models.Gift
	ReasonLabels map[string]string
}

// GiftApprovals lists the gifts waiting for the admin's approval.
func (h *Handlers) GiftApprovals(c *fiber.Ctx) error {
	m := companyMemberOf(c)
	gs, _, err := h.store.Gifts(c.UserContext(), *m.CompanyID, models.GiftQuery{Status: models.GiftPendingApproval, Limit: models.GiftListMax})
	if err != nil {
		return err
	}
	p := giftApprovalsPage{Page: h.page(c, "gifts.approvals.title"), Gifts: gs}
	if p.ReasonLabels, err = h.store.GiftReasonLabels(c.UserContext(), *m.CompanyID, p.Lang); err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "gifts_approvals", p)
}

// GiftApprove sends a waiting gift (admins only).
func (h *Handlers) GiftApprove(c *fiber.Ctx) error {
	m := companyMemberOf(c)
	_, err := h.store.ApproveGift(c.UserContext(), *m.CompanyID, currentUser(c).ID, strings.Clone(c.Params("id")), strings.Clone(c.FormValue("note")))
	if err != nil {
		return err
	}
	h.flash(c, "success", "gifts_approved")
	return seeOther(c, "/gifts/approvals")
}

// GiftDecline turns a waiting gift down with a note for the agent.
func (h *Handlers) GiftDecline(c *fiber.Ctx) error {
	m := companyMemberOf(c)
	_, err := h.store.DeclineGift(c.UserContext(), *m.CompanyID, currentUser(c).ID, strings.Clone(c.Params("id")), strings.Clone(c.FormValue("note")))
	if err != nil {
		return err
	}
	h.flash(c, "success", "gifts_declined")
	return seeOther(c, "/gifts/approvals")
}
