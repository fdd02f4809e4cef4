package models

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// DatevAccount maps a ledger account to an SKR03 account. The mapping is
// deliberately coarse: the books' sub-ledgers (one account per company,
// voucher and merchant) stay in the app, the accountant gets the general
// ledger. Moves between ledger accounts that map to the same SKR03 account
// (a gift reserving credit, an expiry returning it, a payout's transit) are
// not bookings for the accountant and are left out of the export.
//
//	cash:stripe, payout:stripe           1360 Geldtransit (Stripe balance)
//	cash:invoice                         1200 Bank
//	company:*:credit, voucher:*,
//	refund:company:*                     1710 Erhaltene Anzahlungen (prepaid credit and vouchers, multi-purpose)
//	merchant:*:payable, transit:*,
//	held:merchant:*                      1600 Verbindlichkeiten aus Lieferungen und Leistungen (partners)
//	platform:commission                  8200 Erlöse (the commission; its VAT is booked from the commission invoices)
//	shortfall:refund                     1500 Sonstige Vermögensgegenstände (refunds to recover from companies)
//	anything else                        1590 Durchlaufende Posten (for the accountant to clear)
func DatevAccount(code string) string {
	switch {
	case code == AccountCashStripe || code == AccountPayoutStripe:
		return "1360"
	case code == AccountCashInvoice:
		return "1200"
	case strings.HasPrefix(code, "company:") || strings.HasPrefix(code, "voucher:") || strings.HasPrefix(code, "refund:company:"):
		return "1710"
	case strings.HasPrefix(code, "merchant:") || strings.HasPrefix(code, "transit:merchant:") || strings.HasPrefix(code, "held:merchant:"):
		return "1600"
	case code == AccountPlatformCommission:
		return "8200"
	case code == AccountShortfall:
		return "1500"
	}
	return "1590"
}

// DatevExport describes one EXTF Buchungsstapel: the accountant's numbers
// and a date range inside one fiscal year (the calendar year; dates are
// German local time).
type DatevExport struct {
	Consultant string // Beraternummer, 1001–9999999
	Client     string // Mandantennummer, 1–99999
	From, To   time.Time
	Created    time.Time
}

// Validate checks the accountant's numbers and the range.
func (d DatevExport) Validate() error {
	v := ValidationErrors{}
	if n, ok := digitsValue(d.Consultant, 7); !ok || n < 1001 {
		v.Add("consultant", MsgInvalid)
	}
	if n, ok := digitsValue(d.Client, 5); !ok || n < 1 {
		v.Add("client", MsgInvalid)
	}
	if d.From.IsZero() {
		v.Add("from", MsgInvalid)
	}
	if d.To.IsZero() || (!d.From.IsZero() && (d.To.Before(d.From) || d.To.Year() != d.From.Year())) {
		v.Add("to", MsgDatevRange)
	}
	return v.Err()
}

// MsgDatevRange: the range must lie in one calendar (fiscal) year.
const MsgDatevRange = "datev_range"

func digitsValue(s string, maxLen int) (int, bool) {
	if s == "" || len(s) > maxLen {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

type datevLine struct {
	cents         int64
	debit, credit string
	date          time.Time
	beleg, text   string
}

// WriteDatev writes the ledger's transactions in the range as a DATEV EXTF
// Buchungsstapel (header version 700, category 21, format version 13):
// Windows-1252, ";"-separated, CRLF, amounts with decimal comma and always
// "S" with the debit account in Konto and the credit account in Gegenkonto,
// Belegdatum DDMM (the year is the header's), Belegfeld 1 the ledger
// transaction ("TP-<id>"), Buchungstext kind and memo. Transactions with
// more than two legs are split into two-account lines; legs that map to the
// same SKR03 account net out.
func (s *Store) WriteDatev(ctx context.Context, d DatevExport, w io.Writer) error {
	if err := d.Validate(); err != nil {
		return err
	}
	from := time.Date(d.From.Year(), d.From.Month(), d.From.Day(), 0, 0, 0, 0, berlin)
	to := time.Date(d.To.Year(), d.To.Month(), d.To.Day(), 0, 0, 0, 0, berlin).AddDate(0, 0, 1)
	var rows []LedgerEntryRow
	if err := s.db.WithContext(ctx).Table("ledger_entries e").
		Select("t.id AS transaction_id, t.kind, t.memo, t.created_at, a.code AS account, e.amount, e.currency").
		Joins("JOIN ledger_transactions t ON t.id = e.transaction_id").
		Joins("JOIN ledger_accounts a ON a.id = e.account_id").
		Where("t.created_at >= ? AND t.created_at < ?", from.UTC(), to.UTC()).
		Order("t.id, e.id").Scan(&rows).Error; err != nil {
		return err
	}
	var lines []datevLine
	for i := 0; i < len(rows); {
		j := i
		net := map[string]int64{}
		for j < len(rows) && rows[j].TransactionID == rows[i].TransactionID {
			net[DatevAccount(rows[j].Account)] += rows[j].Amount
			j++
		}
		lines = append(lines, splitDatev(rows[i], net)...)
		i = j
	}

	var buf bytes.Buffer
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	ymd := func(t time.Time) string { return t.Format("20060102") }
	created := d.Created.In(berlin)
	header := []string{`"EXTF"`, "700", "21", `"Buchungsstapel"`, "13", created.Format("20060102150405") + fmt.Sprintf("%03d", created.Nanosecond()/1e6),
		"", `"RE"`, `"Trostpflaster"`, `""`, d.Consultant, d.Client,
		fmt.Sprintf("%d0101", d.From.Year()), "4", ymd(d.From), ymd(d.To),
		q(fmt.Sprintf("TP %s–%s", d.From.Format("02.01."), d.To.Format("02.01.2006"))), `""`, "1", "0", "0", `"EUR"`,
		"", `""`, "", "", `"03"`, "", "", `""`, `""`}
	buf.WriteString(strings.Join(header, ";") + "\r\n")
	buf.WriteString("Umsatz (ohne Soll/Haben-Kz);Soll/Haben-Kennzeichen;WKZ Umsatz;Kurs;Basis-Umsatz;WKZ Basis-Umsatz;Konto;" +
		"Gegenkonto (ohne BU-Schlüssel);BU-Schlüssel;Belegdatum;Belegfeld 1;Belegfeld 2;Skonto;Buchungstext;Postensperre;" +
		"Diverse Adressnummer;Geschäftspartnerbank;Sachverhalt;Zinssperre;Beleglink\r\n")
	for _, l := range lines {
		rec := []string{Euros(l.cents), `"S"`, `"EUR"`, "", "", "", l.debit, l.credit, `""`, l.date.In(berlin).Format("0201"),
			q(l.beleg), `""`, "", q(truncRunes(l.text, 60)), "", `""`, "", "", "", `""`}
		buf.WriteString(strings.Join(rec, ";") + "\r\n")
	}
	_, err := w.Write(toCP1252(buf.String()))
	return err
}

// splitDatev turns one transaction's net amounts per SKR03 account into
// two-account lines (negative = Soll/debit, positive = Haben/credit in the
// ledger's convention), largest first so the lines are stable.
func splitDatev(r LedgerEntryRow, net map[string]int64) []datevLine {
	type leg struct {
		acc string
		amt int64
	}
	var debits, credits []leg
	for acc, amt := range net {
		switch {
		case amt < 0:
			debits = append(debits, leg{acc, -amt})
		case amt > 0:
			credits = append(credits, leg{acc, amt})
		}
	}
	order := func(ls []leg) {
		sort.Slice(ls, func(i, j int) bool {
			if ls[i].amt != ls[j].amt {
				return ls[i].amt > ls[j].amt
			}
			return ls[i].acc < ls[j].acc
		})
	}
	order(debits)
	order(credits)
	text := r.Kind
	if r.Memo != "" {
		text += " " + r.Memo
	}
	var out []datevLine
	for i, j := 0, 0; i < len(debits) && j < len(credits); {
		n := min(debits[i].amt, credits[j].amt)
		out = append(out, datevLine{cents: n, debit: debits[i].acc, credit: credits[j].acc, date: r.CreatedAt,
			beleg: fmt.Sprintf("TP-%d", r.TransactionID), text: text})
		debits[i].amt -= n
		credits[j].amt -= n
		if debits[i].amt == 0 {
			i++
		}
		if credits[j].amt == 0 {
			j++
		}
	}
	return out
}

func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// toCP1252 encodes text as Windows-1252, DATEV's character set; characters
// it lacks become "?".
func toCP1252(s string) []byte {
	special := map[rune]byte{'€': 0x80, '‚': 0x82, '„': 0x84, '…': 0x85, '‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '–': 0x96, '—': 0x97}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		switch b, ok := special[r]; {
		case ok:
			out = append(out, b)
		case r < 0x80 || (r >= 0xA0 && r <= 0xFF):
			out = append(out, byte(r))
		default:
			out = append(out, '?')
		}
	}
	return out
}
