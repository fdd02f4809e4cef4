package models

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// BulkPlan is a validated batch: the rows that can be sent and the
// problems of the others.
type BulkPlan struct {
	CompanyID      uint
	Currency       string
	Rows           int
	Valid          []bulkPlanRow
	Errors         []BulkRowError // complete
	TotalCents     int64
	IgnoredColumns []string
	merchants      map[uint]int // offers per partner among the valid rows
}

type bulkPlanRow struct {
	Row int       `json:"row"`
	In  GiftInput `json:"in"`
}

// ErrorCount is the number of row errors.
func (p *BulkPlan) ErrorCount() int { return len(p.Errors) }

// ValidCount is the number of rows that can be sent.
func (p *BulkPlan) ValidCount() int { return len(p.Valid) }

// PrepareBulk validates every row exactly like a single gift (validateGift)
// and resolves the partners: ids or slugs of approved partners of the
// company's region, or the partners near a postcode or city. Partners on
// holiday or whose monthly cap the batch would exceed are row errors (the
// cap counts the batch's own earlier rows). Nothing is written.
func (s *Store) PrepareBulk(ctx context.Context, places *Places, companyID uint, rows []BulkInput) (*BulkPlan, error) {
	db := s.db.WithContext(ctx)
	var company Company
	if err := db.Preload("Region").First(&company, companyID).Error; err != nil {
		return nil, notFound(err)
	}
	if len(rows) > BulkMaxRows {
		return nil, &BulkFileError{Code: MsgBulkTooMany}
	}
	plan := &BulkPlan{CompanyID: companyID, Currency: company.Region.Currency, Rows: len(rows), merchants: map[uint]int{}}
	now := s.Now()

	// Partners referenced by id or slug (CSV) or id (JSON), loaded once.
	var ids []uint
	var slugs []string
	for _, r := range rows {
		ids = append(ids, r.In.MerchantIDs...)
		for _, ref := range r.MerchantRefs {
			if n, err := strconv.ParseUint(ref, 10, 32); err == nil {
				ids = append(ids, uint(n))
			} else {
				slugs = append(slugs, strings.ToLower(ref))
			}
		}
	}
	byID, bySlug := map[uint]*Merchant{}, map[string]*Merchant{}
	load := func(q *gorm.DB) error {
		var ms []Merchant
		// Only approved partners: one that is not public looks unknown.
		if err := q.Where("region_id = ? AND status = ?", company.RegionID, MerchantApproved).Find(&ms).Error; err != nil {
			return err
		}
		for i := range ms {
			byID[ms[i].ID], bySlug[ms[i].Slug] = &ms[i], &ms[i]
		}
		return nil
	}
	for _, chunk := range chunks(uniq(ids), 500) {
		if err := load(db.Where("id IN ?", chunk)); err != nil {
			return nil, err
		}
	}
	for _, chunk := range chunks(uniq(slugs), 500) {
		if err := load(db.Where("slug IN ?", chunk)); err != nil {
			return nil, err
		}
	}
	type nearResult struct {
		ids  []uint
		code string
	}
	nearCache := map[string]nearResult{}
	issued := map[uint]int64{}
	issuedOf := func(id uint) (int64, error) {
		n, ok := issued[id]
		if !ok {
			var err error
			if n, err = merchantGiftsThisMonth(db, id, now); err != nil {
				return 0, err
			}
			issued[id] = n
		}
		return n, nil
	}

	// The company's own reason list and per-customer cap apply to every row
	// as to a single send; the cap counts earlier gifts and the batch's own
	// earlier rows to the same address.
	reasons, err := s.GiftReasons(ctx, companyID, true)
	if err != nil {
		return nil, err
	}
	activeReason := map[string]bool{}
	for _, r := range reasons {
		activeReason[r.Code] = true
	}
	settings, err := s.giftSettings(db, companyID)
	if err != nil {
		return nil, err
	}
	capUsed := map[string]int{}
	if settings.CapCount > 0 {
		var hashes []string
		for _, r := range rows {
			if e := strings.TrimSpace(r.In.RecipientEmail); e != "" {
				hashes = append(hashes, s.RecipientHash(e))
			}
		}
		for _, chunk := range chunks(uniq(hashes), 500) {
			var counts []struct {
				RecipientHash string
				N             int
			}
			if err := db.Model(&Gift{}).Select("recipient_hash, COUNT(*) AS n").
				Where("company_id = ? AND recipient_hash IN ? AND status <> ? AND created_at >= ?",
					companyID, chunk, GiftCancelled, now.AddDate(0, 0, -settings.CapDays)).
				Group("recipient_hash").Scan(&counts).Error; err != nil {
				return nil, err
			}
			for _, c := range counts {
				capUsed[c.RecipientHash] = c.N
			}
		}
	}

	for _, r := range rows {
		errs := slices.Clone(r.Errors)
		add := func(field, code string) {
			if !hasError(errs, field) {
				errs = append(errs, BulkRowError{Row: r.Row, Field: field, Code: code})
			}
		}
		in := r.In
		in.IdempotencyKey = ""
		merchantField := "merchant_ids" // JSON, as in POST /api/v1/gifts
		if r.AmountField != "" {
			merchantField = "merchant" // CSV
		}
		for _, ref := range r.MerchantRefs {
			var m *Merchant
			if n, err := strconv.ParseUint(ref, 10, 32); err == nil {
				m = byID[uint(n)]
			} else {
				m = bySlug[strings.ToLower(ref)]
			}
			if m == nil {
				add(merchantField, MsgBulkMerchant)
				continue
			}
			in.MerchantIDs = append(in.MerchantIDs, m.ID)
		}
		if hasError(errs, merchantField) && in.Near == "" && len(in.MerchantIDs) == 0 {
			in.MerchantIDs = []uint{0} // keep validateGift from adding "required" on top
		}
		v, _ := s.validateGift(&in)
		for field, code := range v {
			switch field {
			case "amount_cents":
				if r.AmountField != "" {
					field = r.AmountField
				}
			case "merchant_ids":
				field = merchantField
			}
			add(field, code)
		}
		if in.Currency == "" {
			in.Currency = company.Region.Currency
		} else if in.Currency != company.Region.Currency {
			add("currency", MsgGiftCurrency)
		}
		if len(errs) == 0 && in.Near != "" {
			key := strings.ToLower(in.Near)
			nr, ok := nearCache[key]
			if !ok {
				nr.code = MsgGiftNearEmpty
				found, _, err := s.SearchMerchants(ctx, places, CatalogQuery{Region: company.Region.Slug, Near: in.Near, Limit: GiftNearMerchants})
				var ve ValidationErrors
				switch {
				case errors.As(err, &ve) && ve["near"] != "":
					nr.code = ve["near"]
				case err != nil:
					return nil, err
				}
				for _, h := range found {
					nr.ids = append(nr.ids, h.ID)
					if byID[h.ID] == nil {
						m := *h.Merchant // a copy: the hit's is the catalog index's
						byID[h.ID] = &m
					}
				}
				nearCache[key] = nr
			}
			if len(nr.ids) == 0 {
				add("near", nr.code)
			}
			in.MerchantIDs = nr.ids
		}
		if len(errs) == 0 {
			for _, id := range in.MerchantIDs {
				m := byID[id]
				n, err := issuedOf(id)
				if err != nil {
					return nil, err
				}
				switch {
				case m == nil || m.Status != MerchantApproved || m.PausedAt(now):
					add(merchantField, MsgBulkMerchantIs)
				case !m.AcceptsGifts(now, n+int64(plan.merchants[id])):
					add(merchantField, MsgBulkCap)
				}
			}
		}
		if in.ReasonCode != "" && !hasError(errs, "reason_code") && !activeReason[in.ReasonCode] {
			add("reason_code", MsgGiftReason)
		}
		capHash := ""
		if settings.CapCount > 0 && strings.TrimSpace(in.RecipientEmail) != "" {
			capHash = s.RecipientHash(in.RecipientEmail)
			if capUsed[capHash] >= settings.CapCount {
				add("recipient_email", MsgGiftCustomerCap)
			}
		}
		if len(errs) > 0 {
			sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
			plan.Errors = append(plan.Errors, errs...)
			continue
		}
		for _, id := range in.MerchantIDs {
			plan.merchants[id]++
		}
		if capHash != "" {
			capUsed[capHash]++
		}
		plan.Valid = append(plan.Valid, bulkPlanRow{Row: r.Row, In: in})
		plan.TotalCents += in.AmountCents
	}
	return plan, nil
}
