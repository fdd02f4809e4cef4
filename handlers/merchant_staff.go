package handlers

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// StaffPage lists the owner's team and open invitations.
func (h *Handlers) StaffPage(c *fiber.Ctx) error {
	return h.renderStaff(c, fiber.StatusOK, map[string]string{}, nil)
}

func (h *Handlers) renderStaff(c *fiber.Ctx, status int, form map[string]string, err error) error {
	p := h.merchantPage(c, "merchant_staff.title", "staff")
	p.Page = h.withForm(p.Page, form, err)
	staff, serr := h.store.MerchantStaff(c.UserContext(), p.Merchant.ID)
	if serr != nil {
		return serr
	}
	p.Staff = staff
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "merchant_staff", p)
}

// StaffInvite mails an invitation link to join as staff.
func (h *Handlers) StaffInvite(c *fiber.Ctx) error {
	form := formValues(c, "email")
	err := h.store.InviteStaff(c.UserContext(), merchantMemberOf(c).Merchant.ID, currentUser(c).ID, form["email"], langOf(c))
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return h.renderStaff(c, fiber.StatusUnprocessableEntity, form, err)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "staff_invited")
	return seeOther(c, "/merchant/staff?m="+url.QueryEscape(merchantMemberOf(c).Merchant.Slug))
}

// StaffRemove ends a staff member's access.
func (h *Handlers) StaffRemove(c *fiber.Ctx) error {
	uid, err := paramID(c, "uid")
	if err != nil {
		return err
	}
	if err := h.store.RemoveStaff(c.UserContext(), merchantMemberOf(c).Merchant.ID, uid, models.UserActor(currentUser(c).ID)); err != nil {
		return err
	}
	h.flash(c, "success", "staff_removed")
	return seeOther(c, "/merchant/staff?m="+url.QueryEscape(merchantMemberOf(c).Merchant.Slug))
}

// StaffInviteRevoke withdraws an open invitation.
func (h *Handlers) StaffInviteRevoke(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := h.store.RevokeInvite(c.UserContext(), merchantMemberOf(c).Merchant.ID, id, models.UserActor(currentUser(c).ID)); err != nil {
		return err
	}
	h.flash(c, "success", "invite_revoked")
	return seeOther(c, "/merchant/staff?m="+url.QueryEscape(merchantMemberOf(c).Merchant.Slug))
}

type invitePage struct {
	Page
	Invite    *models.MerchantInvite
	Token     string
	Exists    bool // the invited address has an account (log in first)
	OtherUser bool // logged in with another address
}

// InviteForm shows an invitation: accept (logged in with the invited
// address), create an account (no account yet), or log in first.
func (h *Handlers) InviteForm(c *fiber.Ctx) error {
	return h.renderInvite(c, fiber.StatusOK, strings.Clone(c.Params("token")), map[string]string{}, nil)
}

func (h *Handlers) renderInvite(c *fiber.Ctx, status int, token string, form map[string]string, err error) error {
	inv, ierr := h.store.InviteByToken(c.UserContext(), token)
	if ierr != nil {
		return ierr
	}
	p := invitePage{Page: h.withForm(h.page(c, "invite.title"), form, err), Invite: inv, Token: token}
	if p.User != nil {
		p.OtherUser = models.NormalizeEmail(p.User.Email) != inv.Email
	} else if _, uerr := h.store.UserByEmail(c.UserContext(), inv.Email); uerr == nil {
		p.Exists = true
	} else if !errors.Is(uerr, models.ErrNotFound) {
		return uerr
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "invite", p)
}

// InviteAccept accepts an invitation: as the logged-in user, or by creating
// the account of the invited address (then logged in).
func (h *Handlers) InviteAccept(c *fiber.Ctx) error {
	token := strings.Clone(c.Params("token"))
	if u := currentUser(c); u != nil {
		if _, err := h.store.AcceptInvite(c.UserContext(), token, u); err != nil {
			return err
		}
		h.flash(c, "success", "staff_joined")
		return seeOther(c, "/dashboard")
	}
	form := formValues(c, "name", "password", "confirm")
	u, err := h.store.AcceptInviteNewUser(c.UserContext(), token, models.NewStaffAccount{
		Name: form["name"], Password: form["password"], Confirm: form["confirm"], Locale: langOf(c)})
	var v models.ValidationErrors
	if errors.As(err, &v) {
		form["password"], form["confirm"] = "", ""
		return h.renderInvite(c, fiber.StatusUnprocessableEntity, token, form, err)
	}
	if err != nil {
		return err
	}
	tok, err := h.store.CreateSession(c.UserContext(), u.ID, ClientIP(c), string(c.Request().Header.UserAgent()))
	if err != nil {
		return err
	}
	h.setSessionCookie(c, tok)
	h.flash(c, "success", "staff_joined")
	return seeOther(c, "/dashboard")
}
