package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
