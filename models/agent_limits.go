package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// AgentLimit is what a company admin lets one agent send without approval.
// A nil limit means no limit; an agent without a row has no limits (the
// company's credit is the cap). Company admins and API keys have no limits.
type AgentLimit struct {
	ID                 uint    `gorm:"primaryKey"`
	CompanyID          uint    `gorm:"not null;uniqueIndex:idx_agent_limit,priority:1"`
	Company            Company `gorm:"constraint:OnDelete:CASCADE"`
	UserID             uint    `gorm:"not null;uniqueIndex:idx_agent_limit,priority:2"`
	User               User    `gorm:"constraint:OnDelete:CASCADE"`
	MaxPerGiftCents    *int64
	MonthlyBudgetCents *int64
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// senderLimits returns the agent's limits (nil: no limits, for admins and
// API keys), or ErrForbidden when the user is not a member of the company.
func (s *Store) senderLimits(ctx context.Context, sender GiftSender) (*AgentLimit, error) {
	if sender.APIKeyID != nil {
		return nil, nil
	}
	if sender.UserID == nil {
		return nil, ErrForbidden
	}
	role, err := s.companyRole(s.db.WithContext(ctx), sender.CompanyID, *sender.UserID)
	if err != nil || role == RoleCompanyAdmin {
		return nil, err
	}
	var l AgentLimit
	err = s.db.WithContext(ctx).Where("company_id = ? AND user_id = ?", sender.CompanyID, *sender.UserID).First(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if l.MaxPerGiftCents == nil && l.MonthlyBudgetCents == nil {
		return nil, nil
	}
	return &l, nil
}

// withinLimits checks one gift against the agent's limits. The month's use
// counts the agent's gifts that went out (sent directly or approved), not
// those waiting or cancelled.
func (s *Store) withinLimits(tx *gorm.DB, l *AgentLimit, sender GiftSender, amount int64, exceptID uint) (bool, error) {
	if l.MaxPerGiftCents != nil && amount > *l.MaxPerGiftCents {
		return false, nil
	}
	if l.MonthlyBudgetCents == nil {
		return true, nil
	}
	used, err := s.agentMonthUse(tx, sender.CompanyID, *sender.UserID, exceptID)
	if err != nil {
		return false, err
	}
	return used+amount <= *l.MonthlyBudgetCents, nil
}

func (s *Store) agentMonthUse(tx *gorm.DB, companyID, userID, exceptID uint) (int64, error) {
	var used int64
	err := tx.Model(&Gift{}).Select("COALESCE(SUM(amount_cents), 0)").
		Where("company_id = ? AND sender_user_id = ? AND created_at >= ? AND id <> ? AND status NOT IN ?",
			companyID, userID, monthStart(s.Now()), exceptID, []string{GiftPendingApproval, GiftCancelled}).
		Scan(&used).Error
	if err != nil {
		return 0, err
	}
	reserved, err := bulkReservedCents(tx, companyID, &userID)
	return used + reserved, err
}

// AgentLimitRow is one agent of a company with their limits and this
// month's use, for the admin's limits page.
type AgentLimitRow struct {
	User               User
	Role               string
	MaxPerGiftCents    *int64
	MonthlyBudgetCents *int64
	UsedCents          int64
}

// RemainingCents is what is left of the agent's monthly budget (never below
// zero), or nil without a monthly budget.
func (r AgentLimitRow) RemainingCents() *int64 {
	if r.MonthlyBudgetCents == nil {
		return nil
	}
	left := max(*r.MonthlyBudgetCents-r.UsedCents, 0)
	return &left
}

// AgentLimits lists the company's members with their limits (admins have none).
func (s *Store) AgentLimits(ctx context.Context, companyID uint) ([]AgentLimitRow, error) {
	db := s.db.WithContext(ctx)
	var ms []Membership
	if err := db.Preload("User").Where("company_id = ?", companyID).Order("id").Find(&ms).Error; err != nil {
		return nil, err
	}
	var ls []AgentLimit
	if err := db.Where("company_id = ?", companyID).Find(&ls).Error; err != nil {
		return nil, err
	}
	byUser := map[uint]AgentLimit{}
	for _, l := range ls {
		byUser[l.UserID] = l
	}
	out := make([]AgentLimitRow, 0, len(ms))
	for _, m := range ms {
		r := AgentLimitRow{User: m.User, Role: m.Role}
		if l, ok := byUser[m.UserID]; ok && m.Role == RoleCompanyAgent {
			r.MaxPerGiftCents, r.MonthlyBudgetCents = l.MaxPerGiftCents, l.MonthlyBudgetCents
		}
		used, err := s.agentMonthUse(db, companyID, m.UserID, 0)
		if err != nil {
			return nil, err
		}
		r.UsedCents = used
		out = append(out, r)
	}
	return out, nil
}

// SetAgentLimit lets a company admin set (nil: remove) an agent's limits.
func (s *Store) SetAgentLimit(ctx context.Context, companyID, adminID, agentID uint, maxPerGift, monthly *int64) error {
	if err := s.requireCompanyAdmin(ctx, companyID, adminID); err != nil {
		return err
	}
	role, err := s.companyRole(s.db.WithContext(ctx), companyID, agentID)
	if errors.Is(err, ErrForbidden) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if role != RoleCompanyAgent {
		return ValidationErrors{"user": MsgInvalid}
	}
	v := ValidationErrors{}
	if maxPerGift != nil && (*maxPerGift < 0 || *maxPerGift > 100_000_00) {
		v.Add("max_per_gift", MsgInvalid)
	}
	if monthly != nil && (*monthly < 0 || *monthly > 10_000_000_00) {
		v.Add("monthly_budget", MsgInvalid)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var l AgentLimit
		err := tx.Where("company_id = ? AND user_id = ?", companyID, agentID).First(&l).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			l = AgentLimit{CompanyID: companyID, UserID: agentID, MaxPerGiftCents: maxPerGift, MonthlyBudgetCents: monthly}
			err = tx.Omit("Company", "User").Create(&l).Error
		case err == nil:
			err = tx.Model(&AgentLimit{}).Where("id = ?", l.ID).
				Updates(map[string]any{"max_per_gift_cents": maxPerGift, "monthly_budget_cents": monthly, "updated_at": s.Now()}).Error
		}
		if err != nil {
			return notFound(err)
		}
		return audit(tx, UserActor(adminID), "agent_limit.set", "user", &agentID, map[string]any{"max_per_gift_cents": maxPerGift, "monthly_budget_cents": monthly})
	})
}

// EnsureAgentLimit gives an agent limits unless they already have some (demo
// seeding: running it again changes nothing).
func (s *Store) EnsureAgentLimit(ctx context.Context, companyID, userID uint, maxPerGift, monthly int64) error {
	l := AgentLimit{CompanyID: companyID, UserID: userID, MaxPerGiftCents: &maxPerGift, MonthlyBudgetCents: &monthly}
	return s.db.WithContext(ctx).Omit("Company", "User").
		Where(AgentLimit{CompanyID: companyID, UserID: userID}).Attrs(l).FirstOrCreate(&l).Error
}
