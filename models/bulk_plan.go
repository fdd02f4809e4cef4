package models

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

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
	p := &bulkPlanner{s: s, db: db, places: places, company: &company, now: s.Now(),
		plan: &BulkPlan{CompanyID: companyID, Currency: company.Region.Currency, Rows: len(rows), merchants: map[uint]int{}},
		byID: map[uint]*Merchant{}, bySlug: map[string]*Merchant{},
		near: map[string]nearPartners{}, issued: map[uint]int64{}, activeReason: map[string]bool{}, capUsed: map[string]int{}}
	if err := p.loadMerchants(rows); err != nil {
		return nil, err
	}
	if err := p.loadCompanyRules(ctx, rows); err != nil {
		return nil, err
	}
	for _, r := range rows {
		if err := p.planRow(ctx, r); err != nil {
			return nil, err
		}
	}
	return p.plan, nil
}

// bulkPlanner is PrepareBulk's state: what it looks up once for all rows,
// and the counts the batch's own earlier rows add to.
type bulkPlanner struct {
	s       *Store
	db      *gorm.DB
	places  *Places
	company *Company
	now     time.Time
	plan    *BulkPlan

	byID   map[uint]*Merchant   // partners referenced by id, slug or found near
	bySlug map[string]*Merchant // the same by slug
	near   map[string]nearPartners
	issued map[uint]int64 // gifts offering a partner this month, before the batch

	activeReason map[string]bool // the company's active reason codes
	settings     *GiftSettings
	capUsed      map[string]int // gifts per recipient hash within the cap's window
}

// nearPartners is the answer to one "near" place: the partners, or the
// message key why there are none.
type nearPartners struct {
	ids  []uint
	code string
}

// loadMerchants loads the partners referenced by id or slug (CSV) or id
// (JSON), once for all rows. Only approved partners of the company's
// region: one that is not public looks unknown.
func (p *bulkPlanner) loadMerchants(rows []BulkInput) error {
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
	load := func(q *gorm.DB) error {
		var ms []Merchant
		if err := q.Where("region_id = ? AND status = ?", p.company.RegionID, MerchantApproved).Find(&ms).Error; err != nil {
			return err
		}
		for i := range ms {
			p.byID[ms[i].ID], p.bySlug[ms[i].Slug] = &ms[i], &ms[i]
		}
		return nil
	}
	for _, chunk := range chunks(uniq(ids), 500) {
		if err := load(p.db.Where("id IN ?", chunk)); err != nil {
			return err
		}
	}
	for _, chunk := range chunks(uniq(slugs), 500) {
		if err := load(p.db.Where("slug IN ?", chunk)); err != nil {
			return err
		}
	}
	return nil
}

// loadCompanyRules loads the company's own reason list and per-customer
// cap, which apply to every row as to a single send; the cap counts
// earlier gifts and the batch's own earlier rows to the same address.
func (p *bulkPlanner) loadCompanyRules(ctx context.Context, rows []BulkInput) error {
	reasons, err := p.s.GiftReasons(ctx, p.company.ID, true)
	if err != nil {
		return err
	}
	for _, r := range reasons {
		p.activeReason[r.Code] = true
	}
	if p.settings, err = p.s.giftSettings(p.db, p.company.ID); err != nil {
		return err
	}
	if p.settings.CapCount <= 0 {
		return nil
	}
	var hashes []string
	for _, r := range rows {
		if e := strings.TrimSpace(r.In.RecipientEmail); e != "" {
			hashes = append(hashes, p.s.RecipientHash(e))
		}
	}
	for _, chunk := range chunks(uniq(hashes), 500) {
		var counts []struct {
			RecipientHash string
			N             int
		}
		if err := p.db.Model(&Gift{}).Select("recipient_hash, COUNT(*) AS n").
			Where("company_id = ? AND recipient_hash IN ? AND status <> ? AND created_at >= ?",
				p.company.ID, chunk, GiftCancelled, p.now.AddDate(0, 0, -p.settings.CapDays)).
			Group("recipient_hash").Scan(&counts).Error; err != nil {
			return err
		}
		for _, c := range counts {
			p.capUsed[c.RecipientHash] = c.N
		}
	}
	return nil
}

// planRow checks one row like a single send and adds it to the plan, as a
// valid row or as its errors.
func (p *bulkPlanner) planRow(ctx context.Context, r BulkInput) error {
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
	p.resolveRefs(&in, r.MerchantRefs, merchantField, add)
	if hasError(errs, merchantField) && in.Near == "" && len(in.MerchantIDs) == 0 {
		in.MerchantIDs = []uint{0} // keep validateGift from adding "required" on top
	}
	v, _ := p.s.validateGift(&in)
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
		in.Currency = p.company.Region.Currency
	} else if in.Currency != p.company.Region.Currency {
		add("currency", MsgGiftCurrency)
	}
	if len(errs) == 0 && in.Near != "" {
		nr, err := p.nearPartners(ctx, in.Near)
		if err != nil {
			return err
		}
		if len(nr.ids) == 0 {
			add("near", nr.code)
		}
		in.MerchantIDs = nr.ids
	}
	if len(errs) == 0 {
		if err := p.checkPartners(in.MerchantIDs, merchantField, add); err != nil {
			return err
		}
	}
	if in.ReasonCode != "" && !hasError(errs, "reason_code") && !p.activeReason[in.ReasonCode] {
		add("reason_code", MsgGiftReason)
	}
	capHash := ""
	if p.settings.CapCount > 0 && strings.TrimSpace(in.RecipientEmail) != "" {
		capHash = p.s.RecipientHash(in.RecipientEmail)
		if p.capUsed[capHash] >= p.settings.CapCount {
			add("recipient_email", MsgGiftCustomerCap)
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
		p.plan.Errors = append(p.plan.Errors, errs...)
		return nil
	}
	for _, id := range in.MerchantIDs {
		p.plan.merchants[id]++
	}
	if capHash != "" {
		p.capUsed[capHash]++
	}
	p.plan.Valid = append(p.plan.Valid, bulkPlanRow{Row: r.Row, In: in})
	p.plan.TotalCents += in.AmountCents
	return nil
}

// resolveRefs turns a row's partner ids or slugs into ids; an unknown one
// is a row error.
func (p *bulkPlanner) resolveRefs(in *GiftInput, refs []string, merchantField string, add func(field, code string)) {
	for _, ref := range refs {
		var m *Merchant
		if n, err := strconv.ParseUint(ref, 10, 32); err == nil {
			m = p.byID[uint(n)]
		} else {
			m = p.bySlug[strings.ToLower(ref)]
		}
		if m == nil {
			add(merchantField, MsgBulkMerchant)
			continue
		}
		in.MerchantIDs = append(in.MerchantIDs, m.ID)
	}
}

// nearPartners finds the partners near a place, once per place for the
// whole batch.
func (p *bulkPlanner) nearPartners(ctx context.Context, near string) (nearPartners, error) {
	key := strings.ToLower(near)
	if nr, ok := p.near[key]; ok {
		return nr, nil
	}
	nr := nearPartners{code: MsgGiftNearEmpty}
	found, _, err := p.s.SearchMerchants(ctx, p.places, CatalogQuery{Region: p.company.Region.Slug, Near: near, Limit: GiftNearMerchants})
	var ve ValidationErrors
	switch {
	case errors.As(err, &ve) && ve["near"] != "":
		nr.code = ve["near"]
	case err != nil:
		return nr, err
	}
	for _, h := range found {
		nr.ids = append(nr.ids, h.ID)
		if p.byID[h.ID] == nil {
			m := *h.Merchant // a copy: the hit's is the catalog index's
			p.byID[h.ID] = &m
		}
	}
	p.near[key] = nr
	return nr, nil
}

// checkPartners makes sure each partner takes one more gift: approved,
// not on holiday, and under its monthly cap counting the batch's own
// earlier rows.
func (p *bulkPlanner) checkPartners(ids []uint, merchantField string, add func(field, code string)) error {
	for _, id := range ids {
		m := p.byID[id]
		n, ok := p.issued[id]
		if !ok {
			var err error
			if n, err = merchantGiftsThisMonth(p.db, id, p.now); err != nil {
				return err
			}
			p.issued[id] = n
		}
		switch {
		case m == nil || m.Status != MerchantApproved || m.PausedAt(p.now):
			add(merchantField, MsgBulkMerchantIs)
		case !m.AcceptsGifts(p.now, n+int64(p.plan.merchants[id])):
			add(merchantField, MsgBulkCap)
		}
	}
	return nil
}
