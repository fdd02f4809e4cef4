package handlers

import (
	"bytes"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

type companyReportPage struct {
	Page
	Report *models.CompanyReport
}

// companyReport builds the report for the member on the request (the model
// decides by role what they may see: the company or their own gifts).
func (h *Handlers) companyReport(c *fiber.Ctx) (*models.CompanyReport, error) {
	m := companyMemberOf(c)
	return h.store.CompanyReport(c.UserContext(), *m.CompanyID, currentUser(c).ID)
}

// CompanyReport is the company dashboard: gifting per month and per partner
// as charts and tables, budget use, waiting approvals and feedback. The
// tables carry every figure; the charts (static/js/charts.js) draw the
// same numbers from CompanyReportJSON.
func (h *Handlers) CompanyReport(c *fiber.Ctx) error {
	r, err := h.companyReport(c)
	if err != nil {
		return err
	}
	title := "company_report.title"
	if !r.IsCompanyScope() {
		title = "company_report.title_agent"
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, "company_report", companyReportPage{Page: h.page(c, title), Report: r})
}

type reportMonthJSON struct {
	Month          string `json:"month"`
	Label          string `json:"label"`
	SentCount      int64  `json:"sent_count"`
	SentCents      int64  `json:"sent_cents"`
	ClaimedCount   int64  `json:"claimed_count"`
	ClaimedCents   int64  `json:"claimed_cents"`
	RedeemedCents  int64  `json:"redeemed_cents"`
	ExpiredCount   int64  `json:"expired_count"`
	CancelledCount int64  `json:"cancelled_count"`
}

type reportPartnerJSON struct {
	ID            uint   `json:"id"`
	Name          string `json:"name"`
	City          string `json:"city"`
	OfferedCount  int64  `json:"offered_count"`
	ClaimedCount  int64  `json:"claimed_count"`
	ClaimedCents  int64  `json:"claimed_cents"`
	RedeemedCents int64  `json:"redeemed_cents"`
}

type reportBudgetJSON struct {
	UserID             uint   `json:"user_id"`
	Name               string `json:"name"`
	Role               string `json:"role"`
	UsedCents          int64  `json:"used_cents"`
	MonthlyBudgetCents *int64 `json:"monthly_budget_cents"`
	MaxPerGiftCents    *int64 `json:"max_per_gift_cents"`
}

type reportJSON struct {
	Scope            string              `json:"scope"`
	Currency         string              `json:"currency"`
	From             string              `json:"from"`
	Until            string              `json:"until"`
	Months           []reportMonthJSON   `json:"months"`
	Totals           reportMonthJSON     `json:"totals"`
	Partners         []reportPartnerJSON `json:"partners"`
	Budgets          []reportBudgetJSON  `json:"budgets"`
	PendingApprovals int64               `json:"pending_approvals"`
	PendingURL       string              `json:"pending_url"`
	Feedback         map[string]int64    `json:"feedback"`
}

func (h *Handlers) monthLabel(lang string, m models.ReportMonth) string {
	return fmt.Sprintf("%s %d", h.r.T(lang, fmt.Sprintf("company_report.month.%d", m.Month())), m.Year())
}

func pendingURL(r *models.CompanyReport) string {
	if r.IsCompanyScope() {
		return "/gifts/approvals"
	}
	return "/gifts?status=" + models.GiftPendingApproval
}

// CompanyReportJSON serves the dashboard's figures to its charts (session
// log-in; members of a company only). Anonymous callers get 401 and
// non-members 404, both as problem JSON, never a log-in page.
func (h *Handlers) CompanyReportJSON(c *fiber.Ctx) error {
	u := currentUser(c)
	if u == nil {
		return problem(c, Problem{Type: "about:blank", Title: statusText(fiber.StatusUnauthorized), Status: fiber.StatusUnauthorized, Code: "unauthorized"})
	}
	m := companyMembership(c)
	if m == nil {
		return problem(c, Problem{Type: "about:blank", Title: statusText(fiber.StatusNotFound), Status: fiber.StatusNotFound, Code: "not_found"})
	}
	r, err := h.store.CompanyReport(c.UserContext(), *m.CompanyID, u.ID)
	if err != nil {
		return err
	}
	lang := langOf(c)
	month := func(label string, m models.ReportMonth) reportMonthJSON {
		return reportMonthJSON{Month: m.Key(), Label: label, SentCount: m.SentCount, SentCents: m.SentCents,
			ClaimedCount: m.ClaimedCount, ClaimedCents: m.ClaimedCents, RedeemedCents: m.RedeemedCents,
			ExpiredCount: m.ExpiredCount, CancelledCount: m.CancelledCount}
	}
	out := reportJSON{Scope: r.Scope, Currency: r.Currency, From: r.From.Format("2006-01-02T15:04:05Z"), Until: r.Until.Format("2006-01-02T15:04:05Z"),
		Months: make([]reportMonthJSON, 0, len(r.Months)), Partners: make([]reportPartnerJSON, 0, len(r.Partners)),
		Budgets: make([]reportBudgetJSON, 0, len(r.Budgets)), PendingApprovals: r.PendingApprovals, PendingURL: pendingURL(r),
		Feedback: map[string]int64{"yes": r.Feedback.Yes, "partly": r.Feedback.Partly, "no": r.Feedback.No}}
	for _, mo := range r.Months {
		out.Months = append(out.Months, month(h.monthLabel(lang, mo), mo))
	}
	out.Totals = month(h.r.T(lang, "company_report.total"), r.Totals)
	out.Totals.Month = ""
	for _, p := range r.Partners {
		out.Partners = append(out.Partners, reportPartnerJSON{ID: p.MerchantID, Name: p.Name, City: p.City, OfferedCount: p.OfferedCount,
			ClaimedCount: p.ClaimedCount, ClaimedCents: p.ClaimedCents, RedeemedCents: p.RedeemedCents})
	}
	for _, b := range r.Budgets {
		out.Budgets = append(out.Budgets, reportBudgetJSON{UserID: b.User.ID, Name: b.User.Name, Role: b.Role, UsedCents: b.UsedCents,
			MonthlyBudgetCents: b.MonthlyBudgetCents, MaxPerGiftCents: b.MaxPerGiftCents})
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

// CompanyReportCSV exports the dashboard's monthly ("months") or
// per-partner ("partners") table, ;-separated, with the same scope as the
// page.
func (h *Handlers) CompanyReportCSV(table string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, err := h.companyReport(c)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		name := "months"
		if table == "partners" {
			name = table
			err = r.WritePartnersCSV(&buf)
		} else {
			err = r.WriteMonthsCSV(&buf)
		}
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="trostpflaster-report-`+name+`.csv"`)
		c.Set(fiber.HeaderCacheControl, "no-store")
		return sendCSV(c, buf.Bytes())
	}
}
