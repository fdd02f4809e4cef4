package models

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BulkColumns are the CSV columns understood, in documentation order.
// Either amount (euros: "12,50" or "12.50") or amount_cents is required, and
// either merchant (ids or slugs, several separated by "|") or near
// (postcode or city).
var BulkColumns = []string{"recipient_email", "recipient_name", "amount", "amount_cents", "currency", "merchant", "near",
	"message", "reference", "reason_code", "notify", "language"}

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
	data, err := bulkText(data)
	if err != nil {
		return nil, err
	}
	header, _, _ := bytes.Cut(data, []byte("\n"))
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = ','
	if bytes.Count(header, []byte(";")) > bytes.Count(header, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	col, ignored, err := bulkHeader(r)
	if err != nil {
		return nil, err
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
		if blankRecord(rec) {
			continue // blank lines (often at the end of an export)
		}
		if len(out.Rows) == BulkMaxRows {
			return nil, &BulkFileError{Code: MsgBulkTooMany}
		}
		out.Rows = append(out.Rows, parseBulkRow(rec, col, rowNo, lang))
	}
	if len(out.Rows) == 0 {
		return nil, &BulkFileError{Code: MsgBulkEmpty}
	}
	return out, nil
}

// bulkText checks that an upload is UTF-8 text of at most BulkMaxBytes
// and returns it without a BOM.
func bulkText(data []byte) ([]byte, error) {
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
	return data, nil
}

// bulkHeader reads the header row: the position (from 1; 0 = absent) of
// each known column, and the unknown columns, which are ignored. A column
// named twice, or a missing amount, partner or recipient column, rejects
// the file.
func bulkHeader(r *csv.Reader) (map[string]int, []string, error) {
	head, err := r.Read()
	if err != nil {
		return nil, nil, &BulkFileError{Code: MsgBulkMalformed}
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
		return nil, nil, &BulkFileError{Code: MsgBulkColumnDup, Columns: dup}
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
		return nil, nil, &BulkFileError{Code: MsgBulkColumns, Columns: missing}
	}
	return col, ignored, nil
}

// blankRecord reports whether every cell of a record is empty.
func blankRecord(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// parseBulkRow reads one data row into a gift input, with the row's
// problems (formula cells, language, amount) as its errors.
func parseBulkRow(rec []string, col map[string]int, rowNo int, lang string) BulkInput {
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
	return b
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
