package models

import "context"

// OrgSummary is what a member sees of one company or merchant on the
// dashboard.
type OrgSummary struct {
	Membership   Membership
	CreditCents  int64 // companies: available credit
	PayableCents int64 // merchants: redeemed value not yet paid out
	Currency     string
}

// OrgSummaries summarises each organisation a user belongs to.
func (s *Store) OrgSummaries(ctx context.Context, ms []Membership) ([]OrgSummary, error) {
	out := make([]OrgSummary, 0, len(ms))
	for _, m := range ms {
		sum := OrgSummary{Membership: m, Currency: DefaultCurrency}
		var err error
		switch {
		case m.CompanyID != nil:
			sum.CreditCents, err = s.AccountBalance(ctx, AccountCompanyCredit(*m.CompanyID))
		case m.MerchantID != nil:
			sum.PayableCents, err = s.AccountBalance(ctx, AccountMerchantPayable(*m.MerchantID))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}

// AdminSummary is the platform admin's overview of the region.
type AdminSummary struct {
	MerchantsByStatus map[string]int64
	Companies         int64
	Users             int64
	LedgerProblems    []LedgerProblem
	Waiting           []Merchant // merchants not yet approved, newest first
}

// PlatformSummary gathers the platform admin's overview.
func (s *Store) PlatformSummary(ctx context.Context) (*AdminSummary, error) {
	db := s.db.WithContext(ctx)
	sum := &AdminSummary{MerchantsByStatus: map[string]int64{}}
	type row struct {
		Status string
		N      int64
	}
	var rows []row
	if err := db.Model(&Merchant{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		sum.MerchantsByStatus[r.Status] = r.N
	}
	if err := db.Model(&Company{}).Count(&sum.Companies).Error; err != nil {
		return nil, err
	}
	if err := db.Model(&User{}).Count(&sum.Users).Error; err != nil {
		return nil, err
	}
	if err := db.Where("status IN ?", []string{MerchantDraft, MerchantPending}).Order("id DESC").Limit(50).Find(&sum.Waiting).Error; err != nil {
		return nil, err
	}
	var err error
	sum.LedgerProblems, err = s.VerifyLedger(ctx)
	return sum, err
}
