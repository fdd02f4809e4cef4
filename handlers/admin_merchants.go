package handlers

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type adminMerchantsPage struct {
	Page
	Status    string
	Statuses  []string
	Merchants []models.Merchant
}

var reviewStatuses = []string{models.MerchantPending, models.MerchantDraft, models.MerchantApproved, models.MerchantRejected, models.MerchantSuspended}

// AdminMerchants is the platform admin's review queue: pending merchants
// first come first served, other statuses via ?status=.
func (h *Handlers) AdminMerchants(c *fiber.Ctx) error {
	status := strings.Clone(c.Query("status", models.MerchantPending))
	if !slices.Contains(reviewStatuses, status) {
		// An unknown tab (a typo, an old link) opens the queue itself rather
		// than a bare error page.
		return c.Redirect("/admin/merchants", fiber.StatusSeeOther)
	}
	ms, err := h.store.ReviewQueue(c.UserContext(), status)
	if err != nil {
		return err
	}
	p := adminMerchantsPage{Page: h.page(c, "admin_merchants.title"), Status: status, Statuses: reviewStatuses, Merchants: ms}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, "admin_merchants", p)
}

type adminMerchantPage struct {
	Page
	Merchant *models.Merchant
	Missing  []string
	Owners   []models.User
}

func (h *Handlers) adminMerchant(c *fiber.Ctx) (*models.Merchant, error) {
	id, err := strconv.ParseUint(c.Params("id"), 10, 32)
	if err != nil || id == 0 {
		return nil, models.ErrNotFound
	}
	return h.store.MerchantByID(c.UserContext(), uint(id))
}

// AdminMerchant shows one merchant's profile with what is missing and the
// decisions possible in its status.
func (h *Handlers) AdminMerchant(c *fiber.Ctx) error {
	m, err := h.adminMerchant(c)
	if err != nil {
		return err
	}
	return h.renderAdminMerchant(c, fiber.StatusOK, m, map[string]string{}, nil)
}

func (h *Handlers) renderAdminMerchant(c *fiber.Ctx, status int, m *models.Merchant, form map[string]string, err error) error {
	p := adminMerchantPage{Page: h.withForm(h.page(c, "admin_merchants.detail"), form, err), Merchant: m}
	p.Title = m.Name
	p.Missing = h.missingTexts(p.Lang, m.ProfileMissing())
	var v models.ValidationErrors
	if errors.As(err, &v) {
		if extra := h.missingTexts(p.Lang, v); len(extra) > 0 {
			p.Missing = extra
		}
	}
	owners, oerr := h.store.MerchantOwners(c.UserContext(), m.ID)
	if oerr != nil {
		return oerr
	}
	p.Owners = owners
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "admin_merchant", p)
}

// AdminMerchantDecide handles approve, reject, suspend and reactivate.
func (h *Handlers) AdminMerchantDecide(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		m, err := h.adminMerchant(c)
		if err != nil {
			return err
		}
		form := formValues(c, "reason")
		admin := currentUser(c).ID
		ctx := c.UserContext()
		switch action {
		case "approve":
			err = h.store.ApproveMerchant(ctx, m.ID, admin)
		case "reject":
			err = h.store.RejectMerchant(ctx, m.ID, admin, form["reason"])
		case "suspend":
			err = h.store.SuspendMerchant(ctx, m.ID, admin, form["reason"])
		case "reactivate":
			err = h.store.ReactivateMerchant(ctx, m.ID, admin)
		default:
			return models.ErrNotFound
		}
		var v models.ValidationErrors
		if errors.As(err, &v) {
			return h.renderAdminMerchant(c, fiber.StatusUnprocessableEntity, m, form, err)
		}
		if err != nil {
			return err
		}
		h.flash(c, "success", "merchant_"+action)
		return seeOther(c, "/admin/merchants/"+strconv.FormatUint(uint64(m.ID), 10))
	}
}
