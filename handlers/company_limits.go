package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type agentLimitsPage struct {
	Page
	Rows []models.AgentLimitRow
}

// AgentLimits shows every member's limits and this month's use.
func (h *Handlers) AgentLimits(c *fiber.Ctx) error {
	return h.agentLimitsPage(c, fiber.StatusOK, nil, nil)
}

func (h *Handlers) agentLimitsPage(c *fiber.Ctx, status int, form map[string]string, err error) error {
	m := companyMemberOf(c)
	rows, lerr := h.store.AgentLimits(c.UserContext(), *m.CompanyID)
	if lerr != nil {
		return lerr
	}
	p := agentLimitsPage{Page: h.withForm(h.page(c, "company_limits.title"), form, err), Rows: rows}
	return h.render(c, status, "company_limits", p)
}

// AgentLimitSave sets one agent's limits; empty fields mean no limit.
func (h *Handlers) AgentLimitSave(c *fiber.Ctx) error {
	m := companyMemberOf(c)
	uid, err := strconv.ParseUint(c.Params("user"), 10, 32)
	if err != nil {
		return models.ErrNotFound
	}
	form := formValues(c, "max_per_gift", "monthly_budget")
	v := models.ValidationErrors{}
	parse := func(field string) *int64 {
		s := strings.TrimSpace(form[field])
		if s == "" {
			return nil
		}
		n, ok := parseCents(s)
		if !ok {
			v.Add(field, models.MsgInvalid)
			return nil
		}
		return &n
	}
	maxPer, monthly := parse("max_per_gift"), parse("monthly_budget")
	if err := v.Err(); err != nil {
		return h.agentLimitsPage(c, fiber.StatusUnprocessableEntity, form, err)
	}
	err = h.store.SetAgentLimit(c.UserContext(), *m.CompanyID, currentUser(c).ID, uint(uid), maxPer, monthly)
	var ve models.ValidationErrors
	if errors.As(err, &ve) {
		return h.agentLimitsPage(c, fiber.StatusUnprocessableEntity, form, err)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "company_limits_saved")
	return seeOther(c, "/company/limits")
}
