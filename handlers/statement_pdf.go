package handlers

import (
	"bytes"

	"github.com/go-pdf/fpdf"

	"trostpflaster/models"
)

// StatementPDF renders a payout's settlement statement on A4: payout,
// partner, commission rate and rounding rule, one line per redemption or
// reversal (date, voucher number, till reference, gross, commission, net)
// and the totals. Text goes through cp1252 (the core fonts' encoding), so
// umlauts and € print correctly; no customer data is on it.
func StatementPDF(st *models.Statement) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	pdf.SetTitle("Abrechnung "+st.Payout.PublicID, true)
	pdf.SetCreator("Trostpflaster", true)
	pdf.SetAutoPageBreak(true, 15)
	pdf.SetMargins(15, 15, 15)
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 9, tr("Abrechnung "+st.Payout.PublicID), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	eur := func(c int64) string { return tr(models.Euros(c) + " €") }
	info := [][2]string{
		{"Partner", st.Merchant.Name},
		{"Datum", st.Payout.CreatedAt.UTC().Format("02.01.2006")},
		{"Status", st.Payout.Status},
		{"Stripe-Überweisung", st.Payout.StripeTransferID},
		{"Provisionssatz", models.BasisPoints(st.CommissionBP)},
	}
	for _, kv := range info {
		pdf.CellFormat(45, 6, tr(kv[0]), "", 0, "L", false, 0, "")
		pdf.CellFormat(0, 6, tr(kv[1]), "", 1, "L", false, 0, "")
	}
	pdf.SetFont("Helvetica", "I", 9)
	pdf.MultiCell(0, 5, tr("Rundung: "+models.CommissionRule+"."), "", "L", false)
	pdf.Ln(4)

	cols := []struct {
		w     float64
		title string
		align string
	}{{22, "Datum", "L"}, {30, "Gutschein", "L"}, {52, "Referenz", "L"}, {26, "Brutto", "R"}, {25, "Provision", "R"}, {25, "Netto", "R"}}
	header := func() {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.SetFillColor(235, 235, 235)
		for _, c := range cols {
			pdf.CellFormat(c.w, 7, tr(c.title), "B", 0, c.align, true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont("Helvetica", "", 9)
	}
	header()
	for _, l := range st.Lines {
		if pdf.GetY() > 270 {
			pdf.AddPage()
			header()
		}
		ref := l.Reference
		if l.Reversal {
			ref = "Storno " + ref
		}
		if len([]rune(ref)) > 32 {
			ref = string([]rune(ref)[:31]) + "…"
		}
		cells := []string{l.Date.UTC().Format("02.01.2006"), l.Voucher, ref, eur(l.GrossCents), eur(l.CommissionCents), eur(l.NetCents)}
		for i, c := range cols {
			txt := cells[i]
			if i < 3 {
				txt = tr(txt)
			}
			pdf.CellFormat(c.w, 6, txt, "", 0, c.align, false, 0, "")
		}
		pdf.Ln(-1)
	}
	if len(st.Lines) == 0 {
		pdf.CellFormat(0, 6, tr("Keine einzeln erfassten Einlösungen."), "", 1, "L", false, 0, "")
	}
	pdf.SetFont("Helvetica", "B", 9)
	pdf.CellFormat(104, 7, tr("Summe"), "T", 0, "L", false, 0, "")
	pdf.CellFormat(26, 7, eur(st.GrossCents), "T", 0, "R", false, 0, "")
	pdf.CellFormat(25, 7, eur(st.CommissionCents), "T", 0, "R", false, 0, "")
	pdf.CellFormat(25, 7, eur(st.NetCents), "T", 1, "R", false, 0, "")
	if st.AdjustmentCents != 0 {
		pdf.SetFont("Helvetica", "", 9)
		pdf.CellFormat(155, 6, tr("Korrekturen (z. B. freigegebene Rückbuchungen)"), "", 0, "L", false, 0, "")
		pdf.CellFormat(25, 6, eur(st.AdjustmentCents), "", 1, "R", false, 0, "")
		pdf.SetFont("Helvetica", "B", 9)
	}
	pdf.CellFormat(155, 7, tr("Auszahlung"), "", 0, "L", false, 0, "")
	pdf.CellFormat(25, 7, eur(st.Payout.AmountCents), "", 1, "R", false, 0, "")
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "", 8)
	pdf.MultiCell(0, 4, tr("Die Provision ist eine Leistung der Plattform und wird gesondert mit Umsatzsteuer in Rechnung gestellt. "+
		"Die Gutscheine sind Mehrzweck-Gutscheine (§ 3 Abs. 15 UStG): Die Umsatzsteuer entsteht bei der Einlösung, beim Partner."), "", "L", false)
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
