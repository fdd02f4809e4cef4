package models

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"time"

	"gorm.io/gorm"
)

// ReportMonths is how many calendar months (Berlin time, the current one
// included) the company report covers.
const ReportMonths = 12

// Report scopes: a company admin sees the whole company, an agent only the
// gifts they sent themselves.
const (
	ReportScopeCompany = "company"
	ReportScopeAgent   = "agent"
)

// ReportMonth is one calendar month of a company's gifting. Each figure
// counts what happened in that month, by the time of the event:
//   - sent: gifts that went out (sent directly or approved; waiting or
//     declined gifts were never sent), by SentAt, with their face value;
//   - claimed: gifts the recipient claimed, by ClaimedAt, with face value;
//   - redeemed: the value of redemptions made in the month that still stand
//     (a reversed redemption, for example of a cancelled online order, does
//     not count at all, so a month never shows value that was given back);
//   - expired: gifts that expired, by ExpiredAt;
//   - cancelled: sent gifts the company took back, by CancelledAt.
type ReportMonth struct {
	Start          time.Time // first instant of the month in Berlin
	SentCount      int64
	SentCents      int64
	ClaimedCount   int64
	ClaimedCents   int64
	RedeemedCents  int64
	ExpiredCount   int64
	CancelledCount int64
}

// Key is the month as "2006-01" (language-neutral, for CSV and JSON).
func (m ReportMonth) Key() string { return m.Start.In(berlin).Format("2006-01") }

// Month is the calendar month (Berlin) for localised labels.
func (m ReportMonth) Month() time.Month { return m.Start.In(berlin).Month() }

// Year is the calendar year (Berlin).
func (m ReportMonth) Year() int { return m.Start.In(berlin).Year() }

func (m *ReportMonth) add(o ReportMonth) {
	m.SentCount += o.SentCount
	m.SentCents += o.SentCents
	m.ClaimedCount += o.ClaimedCount
	m.ClaimedCents += o.ClaimedCents
	m.RedeemedCents += o.RedeemedCents
	m.ExpiredCount += o.ExpiredCount
	m.CancelledCount += o.CancelledCount
}

// ReportPartner is one partner's share of the company's gifting over the
// report's months: how many sent gifts offered it (a gift offering a choice
// of partners counts for each of them), how many were claimed for it and
// for how much, and the value redeemed there (reversals excluded).
type ReportPartner struct {
	MerchantID    uint
	Name          string
	City          string
	OfferedCount  int64
	ClaimedCount  int64
	ClaimedCents  int64
	RedeemedCents int64
}

// FeedbackSummary counts the recipients' answers to "Did this make up for
// it?" given in the report's months.
type FeedbackSummary struct {
	Yes, Partly, No int64
}

// Total is the number of answers.
func (f FeedbackSummary) Total() int64 { return f.Yes + f.Partly + f.No }

// CompanyReport is the company dashboard: gifting per month and per partner,
// this month's budget use, waiting approvals and the recipients' feedback.
// It only ever contains the company's own gifts; for an agent (Scope
// "agent") only the gifts they sent, their own budget and their own gifts
// waiting for approval.
type CompanyReport struct {
	CompanyID        uint
	Scope            string
	Currency         string
	From, Until      time.Time     // the covered period: From inclusive, Until (the report time) inclusive
	Months           []ReportMonth // oldest first, always ReportMonths entries
	Totals           ReportMonth   // the months summed (Start = From)
	Partners         []ReportPartner
	Budgets          []AgentLimitRow // this month's use (as the limits use it) against the limits
	PendingApprovals int64
	Feedback         FeedbackSummary
}

// IsCompanyScope reports whether the report covers the whole company.
func (r *CompanyReport) IsCompanyScope() bool { return r.Scope == ReportScopeCompany }

// CompanyReport builds the dashboard for a member of the company: the whole
// company for its admins, their own gifts for agents. Anyone else gets
// ErrForbidden. Buckets are calendar months in Europe/Berlin, counted in Go
// so the queries are the same on SQLite and PostgreSQL.
func (s *Store) CompanyReport(ctx context.Context, companyID, viewerID uint) (*CompanyReport, error) {
	db := s.db.WithContext(ctx)
	role, err := s.companyRole(db, companyID, viewerID)
	if err != nil {
		return nil, err
	}
	company, err := s.CompanyByID(ctx, companyID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	cur := now.In(berlin)
	from := time.Date(cur.Year(), cur.Month()-(ReportMonths-1), 1, 0, 0, 0, 0, berlin).UTC()
	r := &CompanyReport{CompanyID: companyID, Scope: ReportScopeCompany, Currency: company.Region.Currency, From: from, Until: now}
	if role != RoleCompanyAdmin {
		r.Scope = ReportScopeAgent
	}
	for i := 0; i < ReportMonths; i++ {
		r.Months = append(r.Months, ReportMonth{Start: time.Date(cur.Year(), cur.Month()-time.Month(ReportMonths-1-i), 1, 0, 0, 0, 0, berlin).UTC()})
	}
	r.Totals.Start = from
	// gifts is the viewer's view of the company's gifts (alias g).
	gifts := func() *gorm.DB {
		q := db.Table("gifts g").Where("g.company_id = ?", companyID)
		if r.Scope == ReportScopeAgent {
			q = q.Where("g.sender_user_id = ?", viewerID)
		}
		return q
	}
	partners := map[uint]*ReportPartner{}
	partner := func(id uint) *ReportPartner {
		p, ok := partners[id]
		if !ok {
			p = &ReportPartner{MerchantID: id}
			partners[id] = p
		}
		return p
	}
	if err := s.reportGifts(gifts(), r, from, now, partner); err != nil {
		return nil, err
	}
	if err := s.reportRedemptions(gifts(), r, from, now, partner); err != nil {
		return nil, err
	}
	type offer struct {
		MerchantID uint
		N          int64
	}
	var offers []offer
	if err := gifts().Joins("JOIN gift_merchants gm ON gm.gift_id = g.id").
		Where("g.sent_at >= ? AND g.sent_at <= ?", from, now).
		Select("gm.merchant_id AS merchant_id, COUNT(*) AS n").Group("gm.merchant_id").Scan(&offers).Error; err != nil {
		return nil, err
	}
	for _, o := range offers {
		partner(o.MerchantID).OfferedCount = o.N
	}
	if err := s.reportPartnerNames(db, partners); err != nil {
		return nil, err
	}
	for _, p := range partners {
		r.Partners = append(r.Partners, *p)
	}
	slices.SortFunc(r.Partners, func(a, b ReportPartner) int {
		return cmp.Or(cmp.Compare(b.RedeemedCents, a.RedeemedCents), cmp.Compare(b.ClaimedCents, a.ClaimedCents),
			cmp.Compare(b.OfferedCount, a.OfferedCount), cmp.Compare(a.Name, b.Name), cmp.Compare(a.MerchantID, b.MerchantID))
	})
	for _, m := range r.Months {
		r.Totals.add(m)
	}
	if err := gifts().Where("g.status = ?", GiftPendingApproval).Count(&r.PendingApprovals).Error; err != nil {
		return nil, err
	}
	// Budget use comes from the same rule the limits apply (AgentLimits).
	rows, err := s.AgentLimits(ctx, companyID)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if r.Scope == ReportScopeCompany || row.User.ID == viewerID {
			r.Budgets = append(r.Budgets, row)
		}
	}
	return r, nil
}

// monthIndex is t's position among the report's months, or -1 outside.
func monthIndex(from, t time.Time) int {
	a, b := from.In(berlin), t.In(berlin)
	i := (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
	if i < 0 || i >= ReportMonths || t.Before(from) {
		return -1
	}
	return i
}

// reportGifts buckets the gift events (sent, claimed, expired, cancelled,
// feedback) of the period into the report's months and partners.
func (s *Store) reportGifts(q *gorm.DB, r *CompanyReport, from, until time.Time, partner func(uint) *ReportPartner) error {
	rows, err := q.Select("g.amount_cents, g.merchant_id, g.sent_at, g.claimed_at, g.expired_at, g.cancelled_at, g.feedback, g.feedback_at").
		Where("(g.sent_at >= ? OR g.claimed_at >= ? OR g.expired_at >= ? OR g.cancelled_at >= ? OR g.feedback_at >= ?)", from, from, from, from, from).
		Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	in := func(t sql.NullTime) int {
		if !t.Valid || t.Time.After(until) {
			return -1
		}
		return monthIndex(from, t.Time)
	}
	for rows.Next() {
		var (
			amount                            int64
			merchant                          sql.NullInt64
			sent, claimed, expired, cancelled sql.NullTime
			feedback                          string
			feedbackAt                        sql.NullTime
		)
		if err := rows.Scan(&amount, &merchant, &sent, &claimed, &expired, &cancelled, &feedback, &feedbackAt); err != nil {
			return err
		}
		if i := in(sent); i >= 0 {
			r.Months[i].SentCount++
			r.Months[i].SentCents += amount
		}
		if i := in(claimed); i >= 0 {
			r.Months[i].ClaimedCount++
			r.Months[i].ClaimedCents += amount
			if merchant.Valid {
				p := partner(uint(merchant.Int64))
				p.ClaimedCount++
				p.ClaimedCents += amount
			}
		}
		if i := in(expired); i >= 0 {
			r.Months[i].ExpiredCount++
		}
		// Declined approvals and gifts withdrawn while waiting were never
		// sent, so they are not cancellations of a sent gift.
		if i := in(cancelled); i >= 0 && sent.Valid {
			r.Months[i].CancelledCount++
		}
		if in(feedbackAt) >= 0 {
			switch feedback {
			case "yes":
				r.Feedback.Yes++
			case "partly":
				r.Feedback.Partly++
			case "no":
				r.Feedback.No++
			}
		}
	}
	return rows.Err()
}

// reportRedemptions adds the standing (not reversed) redemptions of the
// period to the report's months and partners.
func (s *Store) reportRedemptions(q *gorm.DB, r *CompanyReport, from, until time.Time, partner func(uint) *ReportPartner) error {
	rows, err := q.Joins("JOIN redemptions r ON r.gift_id = g.id").
		Select("r.amount_cents, r.merchant_id, r.created_at").
		Where("r.reversed_at IS NULL AND r.created_at >= ? AND r.created_at <= ?", from, until).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			amount   int64
			merchant uint
			at       time.Time
		)
		if err := rows.Scan(&amount, &merchant, &at); err != nil {
			return err
		}
		if i := monthIndex(from, at); i >= 0 {
			r.Months[i].RedeemedCents += amount
			partner(merchant).RedeemedCents += amount
		}
	}
	return rows.Err()
}

func (s *Store) reportPartnerNames(db *gorm.DB, partners map[uint]*ReportPartner) error {
	if len(partners) == 0 {
		return nil
	}
	ids := make([]uint, 0, len(partners))
	for id := range partners {
		ids = append(ids, id)
	}
	var ms []Merchant
	if err := db.Select("id", "name", "city").Where("id IN ?", ids).Find(&ms).Error; err != nil {
		return err
	}
	for _, m := range ms {
		partners[m.ID].Name, partners[m.ID].City = m.Name, m.City
	}
	return nil
}

func writeReportCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	cw.Comma = ';' // German spreadsheets, like the other exports
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// WriteMonthsCSV exports the monthly figures, oldest month first, with a
// total line; amounts in cents and as decimal euros.
func (r *CompanyReport) WriteMonthsCSV(w io.Writer) error {
	line := func(label string, m ReportMonth) []string {
		return []string{label, fmt.Sprint(m.SentCount), fmt.Sprint(m.SentCents), Euros(m.SentCents),
			fmt.Sprint(m.ClaimedCount), fmt.Sprint(m.ClaimedCents), Euros(m.ClaimedCents),
			fmt.Sprint(m.RedeemedCents), Euros(m.RedeemedCents), fmt.Sprint(m.ExpiredCount), fmt.Sprint(m.CancelledCount), r.Currency}
	}
	rows := make([][]string, 0, len(r.Months)+1)
	for _, m := range r.Months {
		rows = append(rows, line(m.Key(), m))
	}
	rows = append(rows, line("total", r.Totals))
	return writeReportCSV(w, []string{"month", "sent_count", "sent_cents", "sent", "claimed_count", "claimed_cents", "claimed",
		"redeemed_cents", "redeemed", "expired_count", "cancelled_count", "currency"}, rows)
}

// WritePartnersCSV exports the per-partner figures. Partner names and towns
// are the partners' own text, so they are protected against spreadsheet
// formula injection.
func (r *CompanyReport) WritePartnersCSV(w io.Writer) error {
	rows := make([][]string, 0, len(r.Partners))
	for _, p := range r.Partners {
		rows = append(rows, []string{fmt.Sprint(p.MerchantID), SafeCell(p.Name), SafeCell(p.City), fmt.Sprint(p.OfferedCount),
			fmt.Sprint(p.ClaimedCount), fmt.Sprint(p.ClaimedCents), Euros(p.ClaimedCents),
			fmt.Sprint(p.RedeemedCents), Euros(p.RedeemedCents), r.Currency})
	}
	return writeReportCSV(w, []string{"partner_id", "partner", "city", "offered_count", "claimed_count", "claimed_cents", "claimed",
		"redeemed_cents", "redeemed", "currency"}, rows)
}
