package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// bulkFileMessage is a whole-file problem in the user's language, with the
// columns it names.
func (h *Handlers) bulkFileMessage(lang string, fe *models.BulkFileError) string {
	msg := h.r.T(lang, "err."+fe.Code)
	if len(fe.Columns) > 0 {
		msg += " " + strings.Join(fe.Columns, ", ")
	}
	return msg
}

type bulkErrorRow struct {
	Row     int
	Field   string
	Message string
}

type bulkUploadPage struct {
	Page
	Columns   []string
	FileError string
	MaxMB     int
}

type bulkShowPage struct {
	Page
	Batch     *models.BulkBatch
	Errors    []bulkErrorRow
	MoreErrs  int
	CanSend   bool
	SendError string
}

func (h *Handlers) bulkUploadForm(c *fiber.Ctx, status int, fileErr string) error {
	p := bulkUploadPage{Page: h.page(c, "bulk.title"), Columns: models.BulkColumns, FileError: fileErr, MaxMB: models.BulkMaxBytes >> 20}
	return h.render(c, status, "gifts_bulk", p)
}

// GiftBulkForm shows the CSV upload with the columns it understands.
func (h *Handlers) GiftBulkForm(c *fiber.Ctx) error { return h.bulkUploadForm(c, fiber.StatusOK, "") }

// GiftBulkSample is a small CSV to start from (UTF-8 with BOM, ";" as in
// German spreadsheets).
func (h *Handlers) GiftBulkSample(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="trostpflaster-sammelversand.csv"`)
	return c.SendString("\ufeffrecipient_email;recipient_name;amount;merchant;near;message;reference;notify;language\r\n" +
		"kim@example.com;Kim Kundin;12,50;cafe-rheinblick;;Entschuldigung für die Verspätung!;T-1001;email;de\r\n" +
		"alex@example.com;Alex Muster;20,00;;50667;Sorry for the trouble.;T-1002;email;en\r\n")
}

// GiftBulkUpload reads a CSV, validates every row and stores the valid ones
// as a preview (303 to it). Whole-file problems (size, encoding, columns)
// and files without a single valid row re-render the form with 422.
func (h *Handlers) GiftBulkUpload(c *fiber.Ctx) error {
	lang := langOf(c)
	fh, err := c.FormFile("file")
	if err != nil || fh.Size == 0 {
		return h.bulkUploadForm(c, fiber.StatusUnprocessableEntity, h.r.T(lang, "err."+models.MsgBulkEmpty))
	}
	if fh.Size > models.BulkMaxBytes { // checked before the file is read
		return h.bulkUploadForm(c, fiber.StatusUnprocessableEntity, h.r.T(lang, "err."+models.MsgBulkTooLarge))
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, models.BulkMaxBytes+1))
	f.Close()
	if err != nil {
		return err
	}
	parsed, err := models.ParseBulkCSV(data, lang)
	var fe *models.BulkFileError
	if errors.As(err, &fe) {
		return h.bulkUploadForm(c, fiber.StatusUnprocessableEntity, h.bulkFileMessage(lang, fe))
	}
	if err != nil {
		return err
	}
	sender := webSender(c)
	plan, err := h.store.PrepareBulk(c.UserContext(), h.places, sender.CompanyID, parsed.Rows)
	if err != nil {
		return err
	}
	plan.IgnoredColumns = parsed.IgnoredColumns
	if plan.ValidCount() == 0 {
		// Nothing to store: show the row errors right away.
		b := &models.BulkBatch{Status: models.BulkPreview, FileName: fh.Filename, Rows: plan.Rows, ErrorCount: plan.ErrorCount(),
			Currency: plan.Currency, IgnoredColumns: strings.Join(plan.IgnoredColumns, ", ")}
		return h.bulkShow(c, fiber.StatusUnprocessableEntity, b, plan.Errors, "")
	}
	b, err := h.store.CreateBulkPreview(c.UserContext(), sender, plan, strings.Clone(fh.Filename))
	if err != nil {
		return err
	}
	return seeOther(c, "/gifts/bulk/"+b.PublicID)
}

func (h *Handlers) bulkShow(c *fiber.Ctx, status int, b *models.BulkBatch, errs []models.BulkRowError, sendErr string) error {
	lang := langOf(c)
	p := bulkShowPage{Page: h.page(c, "bulk.show.title"), Batch: b, SendError: sendErr}
	const shown = 500
	for i, e := range errs {
		if i == shown {
			break
		}
		p.Errors = append(p.Errors, bulkErrorRow{Row: e.Row, Field: e.Field, Message: h.r.T(lang, "err."+e.Code)})
	}
	p.MoreErrs = b.ErrorCount - len(p.Errors)
	if u := currentUser(c); u != nil && b.ID != 0 && b.Status == models.BulkPreview && b.SenderUserID != nil && *b.SenderUserID == u.ID {
		p.CanSend = b.ValidRows > 0
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "gifts_bulk_show", p)
}

// GiftBulkShow shows a batch: the preview with its row errors and the send
// button, or the progress and result once sent.
func (h *Handlers) GiftBulkShow(c *fiber.Ctx) error {
	b, err := h.store.BulkBatchByPublicID(c.UserContext(), *companyMemberOf(c).CompanyID, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	return h.bulkShow(c, fiber.StatusOK, b, b.Errors(), "")
}

// GiftBulkSend sends a previewed batch. A second click (or a second tab)
// finds it no longer in preview and only shows the result.
func (h *Handlers) GiftBulkSend(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	b, err := h.store.SendBulkBatch(c.UserContext(), webSender(c), id)
	lang := langOf(c)
	var ve models.ValidationErrors
	switch {
	case errors.Is(err, models.ErrConflict) && b != nil && b.Status == models.BulkExpired:
		h.flash(c, "error", "bulk_expired")
		return seeOther(c, "/gifts/bulk/"+id)
	case errors.Is(err, models.ErrConflict):
		h.flash(c, "success", "bulk_already_sent")
		return seeOther(c, "/gifts/bulk/"+id)
	case errors.Is(err, models.ErrInsufficientBalance):
		return h.bulkShow(c, fiber.StatusPaymentRequired, b, b.Errors(), h.r.T(lang, "bulk.insufficient"))
	case errors.As(err, &ve) && b != nil:
		return h.bulkShow(c, fiber.StatusUnprocessableEntity, b, b.Errors(), h.r.T(lang, "err."+ve["batch"]))
	case err != nil:
		return err
	}
	h.flash(c, "success", "bulk_sent")
	return seeOther(c, "/gifts/bulk/"+b.PublicID)
}

// --- API ---

type apiBulkError struct {
	Row    int    `json:"row"`
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

type apiBulkProblem struct {
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Status     int            `json:"status"`
	Code       string         `json:"code"`
	Detail     string         `json:"detail,omitempty"`
	Columns    []string       `json:"columns,omitempty"`
	ErrorCount int            `json:"error_count,omitempty"`
	Errors     []apiBulkError `json:"errors,omitempty"`
}

type apiBulkBatch struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	Total       int        `json:"total"` // gifts in the batch
	Sent        int        `json:"sent"`  // gifts written so far
	AmountCents int64      `json:"amount_cents"`
	Currency    string     `json:"currency"`
	GiftsURL    string     `json:"gifts_url"`
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at"`
}

type apiBulkValidation struct {
	Valid       bool           `json:"valid"`
	Total       int            `json:"total"`
	ValidRows   int            `json:"valid_rows"`
	AmountCents int64          `json:"amount_cents"`
	Currency    string         `json:"currency"`
	ErrorCount  int            `json:"error_count"`
	Errors      []apiBulkError `json:"errors"`
}

func apiBulk(b *models.BulkBatch) apiBulkBatch {
	return apiBulkBatch{ID: b.PublicID, Status: b.Status, Total: b.ValidRows, Sent: b.SentCount, AmountCents: b.TotalCents,
		Currency: b.Currency, GiftsURL: "/api/v1/gifts/bulk/" + b.PublicID + "/gifts", CreatedAt: b.CreatedAt, SentAt: b.SentAt}
}

func (h *Handlers) apiBulkErrors(errs []models.BulkRowError) []apiBulkError {
	out := make([]apiBulkError, 0, min(len(errs), models.BulkErrorsKept))
	for i, e := range errs {
		if i == models.BulkErrorsKept {
			break
		}
		out = append(out, apiBulkError{Row: e.Row, Field: e.Field, Code: e.Code, Detail: h.r.T("en", "err."+e.Code)})
	}
	return out
}

func bulkProblem(c *fiber.Ctx, p apiBulkProblem) error {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = statusText(p.Status)
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(p.Status).JSON(p, "application/problem+json")
}

// bulkRequestProblem is a 422 about the request as a whole (row 0), in the
// same shape as the row errors.
func (h *Handlers) bulkRequestProblem(c *fiber.Ctx, field, code string) error {
	return bulkProblem(c, apiBulkProblem{Status: fiber.StatusUnprocessableEntity, Code: "validation_failed",
		Detail: "The request is invalid; nothing was sent. See errors.", ErrorCount: 1,
		Errors: []apiBulkError{{Row: 0, Field: field, Code: code, Detail: h.r.T("en", "err."+code)}}})
}

type apiBulkRequest struct {
	Gifts []apiGiftRequest `json:"gifts"`
}

// APIGiftBulkCreate sends many gifts in one request: text/csv (the web
// upload's format) or JSON {"gifts": [...]} with the fields of POST
// /api/v1/gifts. All or nothing: any invalid row is 422 with every row's
// errors and nothing is sent; credit that does not cover the total is 402.
// Otherwise 202 with the batch: the total is reserved, and the job queue
// writes the gifts and queues their mails within seconds (progress: GET
// /api/v1/gifts/bulk/{id}). ?dry_run=true validates only (200). The Idempotency-Key header
// is required (not for dry runs): a replay returns the same batch (200),
// the same key with another body is 409.
func (h *Handlers) APIGiftBulkCreate(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	dryRun := c.QueryBool("dry_run", false)
	body := c.Body()
	if len(body) > models.BulkMaxBytes {
		return bulkProblem(c, apiBulkProblem{Status: fiber.StatusRequestEntityTooLarge, Code: "payload_too_large",
			Detail: h.r.T("en", "err."+models.MsgBulkTooLarge)})
	}
	idem := strings.Clone(strings.TrimSpace(c.Get("Idempotency-Key")))
	if !dryRun && (idem == "" || len(idem) > models.IdempotencyKeyMax) {
		return bulkProblem(c, apiBulkProblem{Status: fiber.StatusBadRequest, Code: "idempotency_key",
			Detail: "An Idempotency-Key header of 1 to 200 characters is required."})
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	sum := sha256.Sum256(append([]byte(ct+"\n"), body...))
	reqHash := hex.EncodeToString(sum[:])
	sender := models.GiftSender{CompanyID: *k.CompanyID, APIKeyID: &k.ID}
	if !dryRun {
		// A replay answers from the stored batch, before anything is re-validated.
		b, err := h.store.BulkReplay(c.UserContext(), sender.CompanyID, idem, reqHash)
		if err == nil {
			c.Set("Idempotent-Replayed", "true")
			c.Location("/api/v1/gifts/bulk/" + b.PublicID)
			return c.Status(fiber.StatusOK).JSON(apiBulk(b))
		}
		if !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	var rows []models.BulkInput
	switch ct {
	case "text/csv":
		parsed, err := models.ParseBulkCSV(body, "de")
		var fe *models.BulkFileError
		if errors.As(err, &fe) {
			return bulkProblem(c, apiBulkProblem{Status: fiber.StatusUnprocessableEntity, Code: fe.Code,
				Detail: h.r.T("en", "err."+fe.Code), Columns: fe.Columns})
		}
		if err != nil {
			return err
		}
		rows = parsed.Rows
	case fiber.MIMEApplicationJSON:
		var req apiBulkRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&req); err != nil || dec.More() {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return h.bulkRequestProblem(c, te.Field, models.MsgInvalid)
			}
			return fiber.ErrBadRequest
		}
		if len(req.Gifts) == 0 {
			return h.bulkRequestProblem(c, "gifts", models.MsgRequired)
		}
		if len(req.Gifts) > models.BulkMaxRows {
			return h.bulkRequestProblem(c, "gifts", models.MsgBulkTooMany)
		}
		rows = make([]models.BulkInput, len(req.Gifts))
		for i, g := range req.Gifts {
			rows[i] = models.BulkInput{Row: i + 1, In: models.GiftInput{RecipientName: g.RecipientName, RecipientEmail: g.RecipientEmail,
				AmountCents: g.AmountCents, Currency: g.Currency, MerchantIDs: g.MerchantIDs, Near: g.Near, Message: g.Message,
				Reference: g.Reference, ReasonCode: g.ReasonCode, Notify: g.Notify, Lang: g.Language}}
			if g.Language == "" {
				rows[i].In.Lang = "de"
			} else if g.Language != "de" && g.Language != "en" {
				rows[i].Errors = append(rows[i].Errors, models.BulkRowError{Row: i + 1, Field: "language", Code: models.MsgInvalid})
			}
		}
	default:
		return fiber.ErrUnsupportedMediaType
	}
	plan, err := h.store.PrepareBulk(c.UserContext(), h.places, sender.CompanyID, rows)
	if err != nil {
		return err
	}
	if dryRun {
		return c.JSON(apiBulkValidation{Valid: plan.ErrorCount() == 0, Total: plan.Rows, ValidRows: plan.ValidCount(),
			AmountCents: plan.TotalCents, Currency: plan.Currency, ErrorCount: plan.ErrorCount(), Errors: h.apiBulkErrors(plan.Errors)})
	}
	if plan.ErrorCount() > 0 {
		return bulkProblem(c, apiBulkProblem{Status: fiber.StatusUnprocessableEntity, Code: "validation_failed",
			Detail: "Some rows are invalid; nothing was sent. See errors.", ErrorCount: plan.ErrorCount(), Errors: h.apiBulkErrors(plan.Errors)})
	}
	b, created, err := h.store.SubmitBulk(c.UserContext(), sender, plan, idem, reqHash)
	if err != nil {
		return err
	}
	status := fiber.StatusAccepted
	if !created {
		status = fiber.StatusOK
		c.Set("Idempotent-Replayed", "true")
	}
	c.Location("/api/v1/gifts/bulk/" + b.PublicID)
	return c.Status(status).JSON(apiBulk(b))
}

// APIGiftBulk shows a batch's progress; other companies' batches are 404.
func (h *Handlers) APIGiftBulk(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	b, err := h.store.BulkBatchByPublicID(c.UserContext(), *k.CompanyID, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	return c.JSON(apiBulk(b))
}

// APIGiftBulkGifts lists a batch's gifts like GET /api/v1/gifts.
func (h *Handlers) APIGiftBulkGifts(c *fiber.Ctx) error {
	k, err := giftCompanyKey(c)
	if err != nil {
		return err
	}
	b, err := h.store.BulkBatchByPublicID(c.UserContext(), *k.CompanyID, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	q := models.GiftQuery{BulkID: b.PublicID, Status: strings.Clone(c.Query("status")), Cursor: strings.Clone(c.Query("cursor"))}
	return h.giftListJSON(c, *k.CompanyID, q)
}
