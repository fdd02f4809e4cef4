package models

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Bulk batch statuses. A web upload is stored as a preview first; sending
// moves it to sending (the total is reserved from the credit in that same
// transaction), and the job queue (RunBulkBatches, in the worker) writes
// its gifts in chunks and then marks it sent. API batches skip the preview.
// Previews not sent within BulkPreviewTTL expire.
const (
	BulkPreview = "preview"
	BulkSending = "sending"
	BulkSent    = "sent"
	BulkExpired = "expired"
)

// Bulk limits.
const (
	BulkMaxBytes     = 10 << 20 // 10 MB per file or request body
	BulkMaxRows      = 50_000
	BulkErrorsKept   = 1000 // per-row errors stored and returned; the count is always complete
	BulkPreviewTTL   = 24 * time.Hour
	bulkChunkRows    = 1000                  // gifts written per database transaction
	bulkInsertBatch  = 500                   // rows per INSERT of wide rows (gifts, mails: below SQLite's 32,766 bind variables)
	bulkInsertNarrow = 2000                  // rows per INSERT of narrow rows (ledger, offers, audit)
	bulkMailSpacing  = 10 * time.Millisecond // bulk mails become due 100 per second
	bulkLease        = 2 * time.Minute
)

// Message keys of bulk upload errors (whole file or one row).
const (
	MsgBulkEncoding   = "bulk_encoding"
	MsgBulkNotCSV     = "bulk_not_csv"
	MsgBulkEmpty      = "bulk_empty"
	MsgBulkColumns    = "bulk_columns"
	MsgBulkTooLarge   = "bulk_too_large"
	MsgBulkTooMany    = "bulk_too_many_rows"
	MsgBulkMalformed  = "bulk_malformed"
	MsgBulkFormula    = "bulk_formula"
	MsgBulkAmount     = "bulk_amount"
	MsgBulkMerchant   = "bulk_merchant_unknown"
	MsgBulkMerchantIs = "bulk_merchant_unavailable"
	MsgBulkCap        = "bulk_merchant_cap"
	MsgBulkOverLimit  = "bulk_over_limit"
	MsgBulkStale      = "bulk_stale"
	MsgBulkNoRows     = "bulk_no_valid_rows"
	MsgBulkColumnDup  = "bulk_column_duplicate"
)

// BulkColumns are the CSV columns understood, in documentation order.
// Either amount (euros: "12,50" or "12.50") or amount_cents is required, and
// either merchant (ids or slugs, several separated by "|") or near
// (postcode or city).
var BulkColumns = []string{"recipient_email", "recipient_name", "amount", "amount_cents", "currency", "merchant", "near",
	"message", "reference", "reason_code", "notify", "language"}

// BulkBatch is one upload or API request of many gifts. Its rows wait in
// bulk_rows until sent and are deleted then (the gifts hold the data from
// there on, under the retention rules of gifts). While it is sending, the
// reserved total sits on the ledger account AccountBulkReserve(ID); each
// chunk of gifts moves its share from there to the gifts' voucher accounts.
type BulkBatch struct {
	ID             uint    `gorm:"primaryKey"`
	PublicID       string  `gorm:"size:16;not null;uniqueIndex"`
	CompanyID      uint    `gorm:"not null;index;uniqueIndex:idx_bulk_idem,priority:1"`
	Company        Company `gorm:"constraint:OnDelete:RESTRICT"`
	SenderUserID   *uint   `gorm:"index"`
	SenderAPIKeyID *uint
	Source         string `gorm:"size:10;not null"` // web or api
	FileName       string `gorm:"size:200;not null;default:''"`
	Status         string `gorm:"size:12;not null;index"`
	Rows           int    `gorm:"not null"` // data rows read
	ValidRows      int    `gorm:"not null"`
	ErrorCount     int    `gorm:"not null;default:0"`
	TotalCents     int64  `gorm:"not null"` // sum of the valid rows
	Currency       string `gorm:"size:3;not null"`
	// ErrorsJSON holds up to BulkErrorsKept row errors (row, field, code;
	// never the cell values). MerchantsJSON counts the valid rows per
	// offered partner, to re-check monthly caps when sending.
	ErrorsJSON     string  `gorm:"type:text;not null;default:''"`
	MerchantsJSON  string  `gorm:"type:text;not null;default:''"`
	IgnoredColumns string  `gorm:"size:500;not null;default:''"`
	IdempotencyKey *string `gorm:"size:200;uniqueIndex:idx_bulk_idem,priority:2"`
	RequestHash    string  `gorm:"size:64;not null;default:''"`
	LastRow        int     `gorm:"not null;default:0"` // rows up to here have their gift
	SentCount      int     `gorm:"not null;default:0"`
	LockedUntil    *time.Time
	SentAt         *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// BulkRow is one valid row of a batch that has no gift yet: the normalised
// input with the partners resolved.
type BulkRow struct {
	BatchID uint   `gorm:"primaryKey;autoIncrement:false"`
	Row     int    `gorm:"primaryKey;autoIncrement:false"`
	Data    string `gorm:"type:text;not null"`
}

// AccountBulkReserve holds a sending batch's reserved total.
func AccountBulkReserve(batchID uint) string { return fmt.Sprintf("bulk:%d:reserve", batchID) }

// bulkGiftKeyPrefix starts the idempotency key of every gift of a batch
// ("bulk:<batch>:<row>"): the unique index on (company, key) makes a
// second gift for the same row impossible, whatever happens.
func bulkGiftKeyPrefix(batchPublicID string) string { return "bulk:" + batchPublicID + ":" }

// Errors returns the stored row errors.
func (b *BulkBatch) Errors() []BulkRowError {
	var out []BulkRowError
	if b.ErrorsJSON != "" {
		_ = json.Unmarshal([]byte(b.ErrorsJSON), &out)
	}
	return out
}

// BulkRowError is one problem of one row. Row counts like a spreadsheet for
// CSV (the header is row 1, the first gift row 2) and from 1 for JSON.
type BulkRowError struct {
	Row   int    `json:"row"`
	Field string `json:"field"`
	Code  string `json:"code"` // a message key
}

// BulkFileError rejects a whole file (encoding, missing columns, size).
type BulkFileError struct {
	Code    string
	Columns []string // the missing (or duplicated) columns, for MsgBulkColumns
}

func (e *BulkFileError) Error() string {
	if len(e.Columns) > 0 {
		return "bulk file: " + e.Code + ": " + strings.Join(e.Columns, ", ")
	}
	return "bulk file: " + e.Code
}

// BulkInput is one gift of a batch as given. MerchantRefs are the CSV's
// partner ids or slugs, resolved by PrepareBulk; JSON gives MerchantIDs.
type BulkInput struct {
	Row          int
	In           GiftInput
	MerchantRefs []string
	AmountField  string // the column the amount came from, for messages
	Errors       []BulkRowError
}

// BulkCSV is a parsed upload.
type BulkCSV struct {
	Rows           []BulkInput
	IgnoredColumns []string
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// looksBinary reports whether data is not text at all: a PDF, or control
// bytes other than tab and line breaks near the start (an Excel .xlsx is a
// ZIP, images have binary headers). Such a file gets "this is not a CSV"
// rather than the encoding advice meant for Windows-1252 text.
func looksBinary(data []byte) bool {
	if bytes.HasPrefix(data, []byte("%PDF")) {
		return true
	}
	head := data[:min(len(data), 1024)]
	for _, b := range head {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != 0x0c {
			return true
		}
	}
	return false
}

// ParseBulkCSV reads a bulk CSV: UTF-8 (a BOM is allowed), a header row, ";"
// or "," as delimiter (whichever the header uses more). Other encodings are
// rejected rather than guessed, because a wrong guess would garble names.
// Cells that a spreadsheet would run as a formula (starting with = + - @,
// tab or carriage return) are rejected per row.
func ParseBulkCSV(data []byte, lang string) (*BulkCSV, error) {
	if len(data) > BulkMaxBytes {
		return nil, &BulkFileError{Code: MsgBulkTooLarge}
	}
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, &BulkFileError{Code: MsgBulkEncoding} // UTF-16
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if looksBinary(data) {
		return nil, &BulkFileError{Code: MsgBulkNotCSV} // an .xlsx, PDF or image instead of the CSV
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return nil, &BulkFileError{Code: MsgBulkEncoding}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &BulkFileError{Code: MsgBulkEmpty}
	}
	header, _, _ := bytes.Cut(data, []byte("\n"))
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = ','
	if bytes.Count(header, []byte(";")) > bytes.Count(header, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, &BulkFileError{Code: MsgBulkMalformed}
	}
	col := map[string]int{}
	var ignored, dup []string
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
		case !slices.Contains(BulkColumns, h):
			ignored = append(ignored, h)
		case col[h] > 0:
			dup = append(dup, h)
		default:
			col[h] = i + 1 // 0 means absent
		}
	}
	if len(dup) > 0 {
		return nil, &BulkFileError{Code: MsgBulkColumnDup, Columns: dup}
	}
	var missing []string
	if col["amount"] == 0 && col["amount_cents"] == 0 {
		missing = append(missing, "amount | amount_cents")
	}
	if col["merchant"] == 0 && col["near"] == 0 {
		missing = append(missing, "merchant | near")
	}
	if col["recipient_email"] == 0 && col["notify"] == 0 {
		missing = append(missing, "recipient_email")
	}
	if len(missing) > 0 {
		return nil, &BulkFileError{Code: MsgBulkColumns, Columns: missing}
	}
	out := &BulkCSV{IgnoredColumns: ignored}
	for rowNo := 2; ; rowNo++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				return nil, &BulkFileError{Code: MsgBulkMalformed}
			}
			return nil, err
		}
		empty := true
		for _, c := range rec {
			if strings.TrimSpace(c) != "" {
				empty = false
				break
			}
		}
		if empty {
			continue // blank lines (often at the end of an export)
		}
		if len(out.Rows) == BulkMaxRows {
			return nil, &BulkFileError{Code: MsgBulkTooMany}
		}
		b := BulkInput{Row: rowNo, In: GiftInput{Lang: lang}}
		cell := func(name string) string {
			i := col[name]
			if i == 0 || i > len(rec) {
				return ""
			}
			v := rec[i-1]
			if isFormula(v) {
				b.Errors = append(b.Errors, BulkRowError{Row: rowNo, Field: name, Code: MsgBulkFormula})
				return ""
			}
			return strings.Clone(v)
		}
		b.In.RecipientEmail = cell("recipient_email")
		b.In.RecipientName = cell("recipient_name")
		b.In.Currency = cell("currency")
		b.In.Near = cell("near")
		b.In.Message = cell("message")
		b.In.Reference = cell("reference")
		b.In.ReasonCode = strings.TrimSpace(cell("reason_code"))
		b.In.Notify = strings.ToLower(strings.TrimSpace(cell("notify")))
		if l := strings.ToLower(strings.TrimSpace(cell("language"))); l != "" {
			b.In.Lang = l
			if l != "de" && l != "en" {
				b.Errors = append(b.Errors, BulkRowError{Row: rowNo, Field: "language", Code: MsgInvalid})
			}
		}
		for _, ref := range strings.Split(cell("merchant"), "|") {
			if ref = strings.TrimSpace(ref); ref != "" {
				b.MerchantRefs = append(b.MerchantRefs, ref)
			}
		}
		b.AmountField = "amount"
		if col["amount"] > 0 && strings.TrimSpace(cell("amount")) != "" {
			c, ok := ParseCents(cell("amount"))
			if !ok && !hasError(b.Errors, "amount") {
				b.Errors = append(b.Errors, BulkRowError{Row: rowNo, Field: "amount", Code: MsgBulkAmount})
			}
			b.In.AmountCents = c
		} else if col["amount_cents"] > 0 {
			b.AmountField = "amount_cents"
			raw := strings.TrimSpace(cell("amount_cents"))
			c, err := strconv.ParseInt(raw, 10, 64)
			if (err != nil || c <= 0) && !hasError(b.Errors, "amount_cents") {
				b.Errors = append(b.Errors, BulkRowError{Row: rowNo, Field: "amount_cents", Code: MsgBulkAmount})
			}
			b.In.AmountCents = c
		}
		out.Rows = append(out.Rows, b)
	}
	if len(out.Rows) == 0 {
		return nil, &BulkFileError{Code: MsgBulkEmpty}
	}
	return out, nil
}

// isFormula reports whether a spreadsheet would evaluate the cell (OWASP
// CSV injection: = + - @, tab, carriage return; leading spaces do not
// protect).
func isFormula(v string) bool {
	if v == "" {
		return false
	}
	if v[0] == '\t' || v[0] == '\r' {
		return true
	}
	t := strings.TrimLeft(v, " \u00a0")
	return t != "" && strings.ContainsRune("=+-@", rune(t[0]))
}

func hasError(es []BulkRowError, field string) bool {
	for _, e := range es {
		if e.Field == field {
			return true
		}
	}
	return false
}

// ParseCents reads an amount typed as euros ("12", "12,50", "12.50 €",
// "1.000,50").
func ParseCents(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimSuffix(s, "€"), "€")
	s = strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "\u00a0", "")
	// "1.000,50" and "1,000.50": the first of two different separators groups thousands.
	if i, j := strings.IndexByte(s, '.'), strings.IndexByte(s, ','); i >= 0 && j >= 0 {
		s = strings.ReplaceAll(s, string(s[min(i, j)]), "")
	}
	if s == "" || len(s) > 12 {
		return 0, false
	}
	s = strings.Replace(s, ",", ".", 1)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if hasFrac && (len(frac) == 0 || len(frac) > 2) {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || f < 0 || strings.ContainsAny(whole+frac, "+-") {
		return 0, false
	}
	return w*100 + f, true
}

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

func uniq[T comparable](xs []T) []T {
	seen := make(map[T]bool, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func chunks[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > 0 {
		k := min(n, len(xs))
		out = append(out, xs[:k])
		xs = xs[k:]
	}
	return out
}

// newBulkBatch builds the batch row and its pending rows from a plan.
func (s *Store) newBulkBatch(plan *BulkPlan, sender GiftSender, source, fileName, status string) (*BulkBatch, []BulkRow, error) {
	kept := plan.Errors
	if len(kept) > BulkErrorsKept {
		kept = kept[:BulkErrorsKept]
	}
	errJSON, err := json.Marshal(kept)
	if err != nil {
		return nil, nil, err
	}
	mJSON, err := json.Marshal(plan.merchants)
	if err != nil {
		return nil, nil, err
	}
	if utf8.RuneCountInString(fileName) > 200 {
		fileName = string([]rune(fileName)[:200])
	}
	b := &BulkBatch{PublicID: newPublicID(), CompanyID: plan.CompanyID, SenderUserID: sender.UserID, SenderAPIKeyID: sender.APIKeyID,
		Source: source, FileName: cleanText(fileName), Status: status, Rows: plan.Rows, ValidRows: len(plan.Valid),
		ErrorCount: len(plan.Errors), TotalCents: plan.TotalCents, Currency: plan.Currency,
		ErrorsJSON: string(errJSON), MerchantsJSON: string(mJSON), IgnoredColumns: strings.Join(plan.IgnoredColumns, ", ")}
	if len(b.IgnoredColumns) > 500 {
		b.IgnoredColumns = b.IgnoredColumns[:500]
	}
	rows := make([]BulkRow, 0, len(plan.Valid))
	for _, r := range plan.Valid {
		d, err := json.Marshal(r.In)
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, BulkRow{Row: r.Row, Data: string(d)})
	}
	return b, rows, nil
}

func insertBulk(tx *gorm.DB, b *BulkBatch, rows []BulkRow) error {
	if err := tx.Omit("Company").Create(b).Error; err != nil {
		return err
	}
	for i := range rows {
		rows[i].BatchID = b.ID
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.CreateInBatches(rows, bulkInsertNarrow).Error
}

// CreateBulkPreview stores a web upload's valid rows as a preview to be
// sent with one click (SendBulkBatch). A plan without valid rows is not
// stored (ValidationErrors{"file": MsgBulkNoRows}).
func (s *Store) CreateBulkPreview(ctx context.Context, sender GiftSender, plan *BulkPlan, fileName string) (*BulkBatch, error) {
	if len(plan.Valid) == 0 {
		return nil, ValidationErrors{"file": MsgBulkNoRows}
	}
	if sender.CompanyID != plan.CompanyID {
		return nil, ErrForbidden
	}
	b, rows, err := s.newBulkBatch(plan, sender, "web", fileName, BulkPreview)
	if err != nil {
		return nil, err
	}
	if err := s.tx(ctx, func(tx *gorm.DB) error { return insertBulk(tx, b, rows) }); err != nil {
		return nil, err
	}
	return b, nil
}

// BulkBatchByPublicID returns a company's batch; another company's id is
// ErrNotFound like an unknown one.
func (s *Store) BulkBatchByPublicID(ctx context.Context, companyID uint, publicID string) (*BulkBatch, error) {
	if publicID == "" || len(publicID) > 32 {
		return nil, ErrNotFound
	}
	var b BulkBatch
	err := s.db.WithContext(ctx).Where("company_id = ? AND public_id = ?", companyID, publicID).First(&b).Error
	return &b, notFound(err)
}

// BulkReplay returns the company's batch for an API idempotency key (ErrNotFound: none), or
// ErrConflict when the key was used for a different request.
func (s *Store) BulkReplay(ctx context.Context, companyID uint, key, reqHash string) (*BulkBatch, error) {
	var b BulkBatch
	if err := s.db.WithContext(ctx).Where("company_id = ? AND idempotency_key = ?", companyID, key).First(&b).Error; err != nil {
		return nil, notFound(err)
	}
	if b.RequestHash != reqHash {
		return nil, ErrConflict
	}
	return &b, nil
}

// SendBulkBatch sends a web preview: in one transaction the preview becomes
// sending (a conditional update, so a double click or a second tab sends
// once; the loser gets ErrConflict), the total moves from the company's
// credit to the batch's reserve (ErrInsufficientBalance: nothing changes),
// agent limits and partner caps are checked again. The job queue then
// writes the gifts and queues their mails (RunBulkBatches).
//
// Agent limits apply to the batch as a whole: when any row is above the
// agent's maximum per gift or the total does not fit the rest of the
// month's budget, the batch is refused (ValidationErrors{"batch":
// MsgBulkOverLimit}) rather than parked for approval row by row; an admin
// can send it instead.
func (s *Store) SendBulkBatch(ctx context.Context, sender GiftSender, publicID string) (*BulkBatch, error) {
	b, err := s.BulkBatchByPublicID(ctx, sender.CompanyID, publicID)
	if err != nil {
		return nil, err
	}
	if sender.UserID == nil || b.SenderUserID == nil || *b.SenderUserID != *sender.UserID {
		return nil, ErrNotFound // only the uploader sends a preview
	}
	if b.Status != BulkPreview {
		return b, ErrConflict
	}
	limited, err := s.senderLimits(ctx, sender)
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&BulkBatch{}).Where("id = ? AND status = ?", b.ID, BulkPreview).
			Updates(map[string]any{"status": BulkSending, "updated_at": s.Now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		return s.reserveBulk(tx, b, sender, limited)
	})
	if err != nil {
		return b, err
	}
	return s.BulkBatchByPublicID(ctx, sender.CompanyID, publicID)
}

// SubmitBulk stores an API plan whose rows are all valid, as sending, with
// its total reserved from the credit in the same transaction; the job queue
// writes the gifts (RunBulkBatches). With the same
// idempotency key and request hash it returns the earlier batch
// (created=false); a different request under the same key is ErrConflict.
// Insufficient credit is ErrInsufficientBalance with nothing written.
func (s *Store) SubmitBulk(ctx context.Context, sender GiftSender, plan *BulkPlan, idemKey, reqHash string) (*BulkBatch, bool, error) {
	if idemKey == "" || len(idemKey) > IdempotencyKeyMax {
		return nil, false, ValidationErrors{"idempotency_key": MsgInvalid}
	}
	if prev, err := s.BulkReplay(ctx, sender.CompanyID, idemKey, reqHash); !errors.Is(err, ErrNotFound) {
		return prev, false, err
	}
	if len(plan.Errors) > 0 || len(plan.Valid) == 0 {
		return nil, false, ValidationErrors{"gifts": MsgBulkNoRows}
	}
	if sender.CompanyID != plan.CompanyID {
		return nil, false, ErrForbidden
	}
	limited, err := s.senderLimits(ctx, sender)
	if err != nil {
		return nil, false, err
	}
	b, rows, err := s.newBulkBatch(plan, sender, "api", "", BulkSending)
	if err != nil {
		return nil, false, err
	}
	b.IdempotencyKey, b.RequestHash = &idemKey, reqHash
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := insertBulk(tx, b, rows); err != nil {
			return err
		}
		return s.reserveBulk(tx, b, sender, limited)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) || errors.Is(err, ErrConflict) {
		// A concurrent request with the same key won the race.
		if prev, perr := s.BulkReplay(ctx, sender.CompanyID, idemKey, reqHash); !errors.Is(perr, ErrNotFound) {
			return prev, false, perr
		}
		return nil, false, ErrConflict
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// reserveBulk books the batch's total from the credit to its reserve and
// checks the agent's limits and the partners' caps under the credit's row
// lock (taken by the booking), like a single send.
func (s *Store) reserveBulk(tx *gorm.DB, b *BulkBatch, sender GiftSender, limited *AgentLimit) error {
	if _, err := s.book(tx, Booking{Kind: "bulk.reserved", IdempotencyKey: "bulk.reserved:" + b.PublicID, Currency: b.Currency,
		Memo: "bulk " + b.PublicID, Postings: Move(AccountCompanyCredit(b.CompanyID), AccountBulkReserve(b.ID), b.TotalCents)}); err != nil {
		return err
	}
	if limited != nil {
		if limited.MaxPerGiftCents != nil {
			var rows []BulkRow
			if err := tx.Where("batch_id = ?", b.ID).Find(&rows).Error; err != nil {
				return err
			}
			for _, r := range rows {
				var in GiftInput
				if err := json.Unmarshal([]byte(r.Data), &in); err != nil {
					return err
				}
				if in.AmountCents > *limited.MaxPerGiftCents {
					return ValidationErrors{"batch": MsgBulkOverLimit}
				}
			}
		}
		if limited.MonthlyBudgetCents != nil {
			// The reserve just booked counts as used: exclude it once.
			used, err := s.agentMonthUse(tx, sender.CompanyID, *sender.UserID, 0)
			if err != nil {
				return err
			}
			if used > *limited.MonthlyBudgetCents {
				return ValidationErrors{"batch": MsgBulkOverLimit}
			}
		}
	}
	counts := map[uint]int{}
	if b.MerchantsJSON != "" {
		if err := json.Unmarshal([]byte(b.MerchantsJSON), &counts); err != nil {
			return err
		}
	}
	now := s.Now()
	ids := make([]uint, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	for _, chunk := range chunks(ids, 500) {
		var ms []Merchant
		if err := tx.Where("id IN ?", chunk).Find(&ms).Error; err != nil {
			return err
		}
		if len(ms) != len(chunk) {
			return ValidationErrors{"batch": MsgBulkStale}
		}
		for i := range ms {
			issued, err := merchantGiftsThisMonth(tx, ms[i].ID, now)
			if err != nil {
				return err
			}
			if !ms[i].AcceptsGifts(now, issued+int64(counts[ms[i].ID])-1) {
				return ValidationErrors{"batch": MsgBulkStale}
			}
		}
	}
	return audit(tx, sender.actor(), "bulk.reserved", "bulk_batch", &b.ID, map[string]any{"public_id": b.PublicID, "rows": b.ValidRows, "amount_cents": b.TotalCents})
}

// bulkReservedCents sums the reserves of a company's batches that are
// sending (only those of one agent when userID is set).
func bulkReservedCents(tx *gorm.DB, companyID uint, userID *uint) (int64, error) {
	q := tx.Table("bulk_batches b").Joins("JOIN ledger_accounts a ON a.code = 'bulk:' || CAST(b.id AS TEXT) || ':reserve'").
		Where("b.company_id = ? AND b.status = ?", companyID, BulkSending)
	if userID != nil {
		q = q.Where("b.sender_user_id = ?", *userID)
	}
	var n int64
	err := q.Select("COALESCE(SUM(a.balance), 0)").Scan(&n).Error
	return n, err
}

// runBulk writes a sending batch's gifts chunk by chunk until none is left.
// After a crash (or when ctx ends) another run resumes at the next chunk.
func (s *Store) runBulk(ctx context.Context, batchID uint, compose GiftMailComposer) (*BulkBatch, error) {
	for {
		done, err := s.bulkChunk(ctx, batchID, compose)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	var b BulkBatch
	err := s.db.WithContext(ctx).First(&b, batchID).Error
	return &b, notFound(err)
}

// bulkChunk writes the next bulkChunkRows gifts of a batch in one
// transaction, like SendGift writes one: gift rows and offers, one ledger
// transaction per gift (reserve → voucher), the audit entries, gift.sent
// webhooks and the recipients' mails. The batch's cursor moves by a
// conditional update, so two workers can never write the same chunk.
func (s *Store) bulkChunk(ctx context.Context, batchID uint, compose GiftMailComposer) (bool, error) {
	done := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var b BulkBatch
		if err := tx.Preload("Company").First(&b, batchID).Error; err != nil {
			return err
		}
		if b.Status != BulkSending {
			done = true
			return nil
		}
		now := s.Now()
		var rows []BulkRow
		if err := tx.Where("batch_id = ? AND row > ?", b.ID, b.LastRow).Order("row").Limit(bulkChunkRows).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return s.finishBulk(tx, &b, now, &done)
		}
		sender := GiftSender{CompanyID: b.CompanyID, UserID: b.SenderUserID, APIKeyID: b.SenderAPIKeyID}
		gifts := make([]Gift, len(rows))
		offers := make([][]uint, len(rows))
		merchantIDs := []uint{}
		var chunkTotal int64
		for i, r := range rows {
			var in GiftInput
			if err := json.Unmarshal([]byte(r.Data), &in); err != nil {
				return err
			}
			in.IdempotencyKey = bulkGiftKeyPrefix(b.PublicID) + strconv.Itoa(r.Row)
			_, reqHash := s.validateGift(&in)
			gifts[i] = s.newGift(b.CompanyID, sender, &in, in.MerchantIDs, reqHash, now)
			gifts[i].SentAt = &now
			offers[i] = in.MerchantIDs
			merchantIDs = append(merchantIDs, in.MerchantIDs...)
			chunkTotal += in.AmountCents
		}
		if err := tx.Omit("Offers", "Company", "SenderUser", "Merchant").CreateInBatches(&gifts, bulkInsertBatch).Error; err != nil {
			return err
		}
		var gm []GiftMerchant
		var audits []AuditLog
		a := sender.actor()
		for i := range gifts {
			for pos, id := range offers[i] {
				gm = append(gm, GiftMerchant{GiftID: gifts[i].ID, MerchantID: id, Position: pos})
			}
			d, _ := json.Marshal(map[string]any{"public_id": gifts[i].PublicID, "amount_cents": gifts[i].AmountCents, "status": gifts[i].Status, "bulk": b.PublicID})
			audits = append(audits, AuditLog{ActorKind: a.Kind, ActorID: a.ID, Action: "gift.created", SubjectType: "gift", SubjectID: &gifts[i].ID, Detail: string(d)})
		}
		if err := tx.Omit("Merchant").CreateInBatches(gm, bulkInsertNarrow).Error; err != nil {
			return err
		}
		if err := tx.CreateInBatches(audits, bulkInsertNarrow).Error; err != nil {
			return err
		}
		if err := s.bookGiftsSent(tx, AccountBulkReserve(b.ID), b.Currency, gifts, chunkTotal); err != nil {
			return err
		}
		if err := s.bulkHooks(tx, b.CompanyID, gifts); err != nil {
			return err
		}
		if err := s.bulkMails(tx, &b, gifts, offers, uniq(merchantIDs), compose, now); err != nil {
			return err
		}
		last := rows[len(rows)-1].Row
		lease := now.Add(bulkLease)
		res := tx.Model(&BulkBatch{}).Where("id = ? AND last_row = ? AND status = ?", b.ID, b.LastRow, BulkSending).
			Updates(map[string]any{"last_row": last, "sent_count": gorm.Expr("sent_count + ?", len(rows)), "locked_until": lease, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrConflict
		}
		return nil
	})
	return done, err
}

func (s *Store) finishBulk(tx *gorm.DB, b *BulkBatch, now time.Time, done *bool) error {
	left, err := accountBalanceTx(tx, AccountBulkReserve(b.ID))
	if err != nil {
		return err
	}
	if left != 0 {
		return fmt.Errorf("bulk %s: %d cents left on the reserve after the last chunk", b.PublicID, left)
	}
	if err := tx.Where("batch_id = ?", b.ID).Delete(&BulkRow{}).Error; err != nil {
		return err
	}
	res := tx.Model(&BulkBatch{}).Where("id = ? AND status = ?", b.ID, BulkSending).
		Updates(map[string]any{"status": BulkSent, "sent_at": now, "locked_until": nil, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if err := audit(tx, ActorSystem, "bulk.sent", "bulk_batch", &b.ID, map[string]any{"public_id": b.PublicID, "gifts": b.SentCount}); err != nil {
		return err
	}
	*done = true
	return nil
}

func accountBalanceTx(tx *gorm.DB, code string) (int64, error) {
	var acc LedgerAccount
	err := tx.Where("code = ?", code).First(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	return acc.Balance, err
}

// bookGiftsSent writes, for many new gifts at once, what book writes for
// one: a balanced "gift.sent" transaction per gift moving its amount from
// the source wallet to the gift's (new) voucher account. The source moves
// once by the chunk's total with the same conditional UPDATE as book, so it
// cannot go below zero.
func (s *Store) bookGiftsSent(tx *gorm.DB, from, currency string, gifts []Gift, total int64) error {
	src, err := ensureAccount(tx, from, currency)
	if err != nil {
		return err
	}
	if src.Currency != currency {
		return fmt.Errorf("ledger: account %s is in %s, not %s", src.Code, src.Currency, currency)
	}
	res := tx.Model(&LedgerAccount{}).Where("id = ? AND balance - ? >= 0", src.ID, total).
		Updates(map[string]any{"balance": gorm.Expr("balance - ?", total), "updated_at": s.Now()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrInsufficientBalance
	}
	lts := make([]LedgerTransaction, len(gifts))
	accs := make([]LedgerAccount, len(gifts))
	for i := range gifts {
		if gifts[i].AmountCents <= 0 {
			return fmt.Errorf("ledger: gift.sent %s has a zero amount", gifts[i].PublicID)
		}
		key := "gift.sent:" + gifts[i].PublicID
		lts[i] = LedgerTransaction{Kind: "gift.sent", IdempotencyKey: &key, Memo: "gift " + gifts[i].PublicID}
		accs[i] = LedgerAccount{Code: AccountVoucher(gifts[i].ID), Currency: currency, Balance: gifts[i].AmountCents}
	}
	if err := tx.CreateInBatches(&lts, bulkInsertNarrow).Error; err != nil {
		return err
	}
	if err := tx.CreateInBatches(&accs, bulkInsertNarrow).Error; err != nil {
		return err
	}
	entries := make([]LedgerEntry, 0, 2*len(gifts))
	for i := range gifts {
		entries = append(entries,
			LedgerEntry{TransactionID: lts[i].ID, AccountID: src.ID, Amount: -gifts[i].AmountCents, Currency: currency},
			LedgerEntry{TransactionID: lts[i].ID, AccountID: accs[i].ID, Amount: gifts[i].AmountCents, Currency: currency})
	}
	return tx.Omit("Account").CreateInBatches(entries, bulkInsertNarrow).Error
}

// bulkHooks queues gift.sent for every endpoint of the company, as
// emitHook does for one gift.
func (s *Store) bulkHooks(tx *gorm.DB, companyID uint, gifts []Gift) error {
	var es []WebhookEndpoint
	if err := tx.Where("company_id = ?", companyID).Find(&es).Error; err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	ds := make([]WebhookDelivery, 0, len(es)*len(gifts))
	for i := range gifts {
		for _, e := range es {
			d, err := s.newHookDelivery(e, HookGiftSent, giftHookData(&gifts[i]))
			if err != nil {
				return err
			}
			ds = append(ds, d)
		}
	}
	return tx.Omit("Endpoint").CreateInBatches(ds, bulkInsertBatch).Error
}

// bulkMails renders the recipients' mails with the same composer as single
// gifts. They become due bulkMailSpacing apart, so a single gift sent
// meanwhile is not stuck behind thousands of bulk mails.
func (s *Store) bulkMails(tx *gorm.DB, b *BulkBatch, gifts []Gift, offers [][]uint, merchantIDs []uint, compose GiftMailComposer, now time.Time) error {
	if compose == nil {
		return nil
	}
	ms := map[uint]Merchant{}
	for _, chunk := range chunks(merchantIDs, 500) {
		var list []Merchant
		if err := tx.Where("id IN ?", chunk).Find(&list).Error; err != nil {
			return err
		}
		for _, m := range list {
			ms[m.ID] = m
		}
	}
	// The queue position continues after the mails of earlier chunks.
	base := now
	if b.SentCount > 0 {
		base = now.Add(time.Duration(b.SentCount) * bulkMailSpacing)
	}
	var mails []Mail
	for i := range gifts {
		g := gifts[i]
		if !wantsGiftMail(&g, compose) {
			continue
		}
		g.Company = b.Company
		for pos, id := range offers[i] {
			g.Offers = append(g.Offers, GiftMerchant{GiftID: g.ID, MerchantID: id, Position: pos, Merchant: ms[id]})
		}
		if g.MerchantID != nil {
			m := ms[*g.MerchantID]
			g.Merchant = &m
		}
		m, err := s.giftMail(&g, compose)
		if err != nil {
			return err
		}
		mails = append(mails, queuedMail(m, base.Add(time.Duration(i)*bulkMailSpacing)))
	}
	if len(mails) == 0 {
		return nil
	}
	return tx.CreateInBatches(mails, bulkInsertBatch).Error
}

// RunBulkBatches is the bulk job: it writes the gifts of batches that are
// sending and not leased by another run (new ones, and those left by a
// crashed or stopped instance once their lease ran out), and expires
// previews older than BulkPreviewTTL (their rows, which hold recipient
// addresses, are deleted). Several instances may run it at once: a batch is
// leased by a conditional update and its cursor moves by one. It returns
// how many batches it finished.
func (s *Store) RunBulkBatches(ctx context.Context, compose GiftMailComposer) (int, error) {
	db := s.db.WithContext(ctx)
	now := s.Now()
	var stale []BulkBatch
	if err := db.Where("status = ? AND created_at < ?", BulkPreview, now.Add(-BulkPreviewTTL)).Limit(100).Find(&stale).Error; err != nil {
		return 0, err
	}
	for _, b := range stale {
		err := s.tx(ctx, func(tx *gorm.DB) error {
			res := tx.Model(&BulkBatch{}).Where("id = ? AND status = ?", b.ID, BulkPreview).Updates(map[string]any{"status": BulkExpired, "updated_at": now})
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			return tx.Where("batch_id = ?", b.ID).Delete(&BulkRow{}).Error
		})
		if err != nil {
			return 0, err
		}
	}
	var ids []uint
	if err := db.Model(&BulkBatch{}).Where("status = ? AND (locked_until IS NULL OR locked_until < ?)", BulkSending, now).Limit(10).Pluck("id", &ids).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		res := db.Model(&BulkBatch{}).Where("id = ? AND status = ? AND (locked_until IS NULL OR locked_until < ?)", id, BulkSending, now).
			Update("locked_until", now.Add(bulkLease))
		if res.Error != nil {
			return n, res.Error
		}
		if res.RowsAffected != 1 {
			continue // another instance took it
		}
		if _, err := s.runBulk(ctx, id, compose); err != nil {
			if ctx.Err() != nil {
				// Stopping: hand the batch to the next run at once.
				s.db.WithContext(context.WithoutCancel(ctx)).Model(&BulkBatch{}).Where("id = ?", id).Update("locked_until", nil)
			}
			return n, err
		}
		n++
	}
	return n, nil
}
