package handlers

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-pdf/fpdf"
	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"trostpflaster/models"
	"trostpflaster/views/i18n"
)

// ClaimPDF is the voucher as a downloadable A4 PDF: company, partner,
// amount or balance, the grouped code, its QR code, expiry and how to
// redeem in store and online. It carries the claim page's headers (no
// caching, no referrer, not indexed); unknown tokens are the same 404 as
// everywhere, and a gift not yet claimed goes back to the claim page.
func (h *Handlers) ClaimPDF(c *fiber.Ctx) error {
	claimHeaders(c)
	token := strings.Clone(c.Params("token"))
	g, err := h.store.GiftByClaimToken(c.UserContext(), token)
	if err != nil {
		return err
	}
	if g.CodeHash == nil || g.Merchant == nil {
		return c.Redirect("/c/"+token, fiber.StatusSeeOther)
	}
	var logo []byte
	if g.Merchant.HasLogo() {
		if l, lerr := h.store.MerchantLogoByID(c.UserContext(), g.Merchant.ID); lerr == nil && l.ContentType == "image/png" {
			logo = l.Data
		}
	}
	lang := langOf(c)
	doc, err := h.voucherPDF(lang, g, h.store.VoucherCode(g), logo)
	if err != nil && logo != nil {
		doc, err = h.voucherPDF(lang, g, h.store.VoucherCode(g), nil) // a logo fpdf cannot read must not cost the voucher
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.pdf"`, h.r.T(lang, "voucher.pdf.file"), g.Merchant.Slug))
	return c.Send(doc)
}

// voucherPDF lays out the voucher: the header, the voucher box and how to
// redeem it. Text uses the PDF core fonts in cp1252 (umlauts, ß, € and
// dashes are in it); anything outside becomes "?".
func (h *Handlers) voucherPDF(lang string, g *models.Gift, code string, logo []byte) ([]byte, error) {
	d := voucherDoc{g: g, t: func(key string, args ...any) string { return h.r.T(lang, key, args...) },
		money: func(cents int64) string { return i18n.FormatMoney(lang, cents, g.Currency) }}
	d.start(lang)
	d.header(logo)
	if err := d.voucherBox(code); err != nil {
		return nil, err
	}
	d.howToRedeem()
	var out bytes.Buffer
	if err := d.pdf.Output(&out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// voucherDoc is a voucher PDF being laid out, top to bottom.
type voucherDoc struct {
	pdf   *fpdf.Fpdf
	g     *models.Gift
	t     func(key string, args ...any) string
	money func(cents int64) string
	tr    func(string) string // UTF-8 to the core fonts' cp1252
}

// voucherPDFWidth is the text width in mm: A4 less 20 mm margins.
const voucherPDFWidth = 170.0

// start opens an A4 page; the document's dates are the voucher's issue
// (claim) time, so the same voucher gives the same file.
func (d *voucherDoc) start(lang string) {
	m := d.g.Merchant
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(d.t("voucher.heading", m.Name), true)
	pdf.SetAuthor("Trostpflaster", true)
	pdf.SetCreator("Trostpflaster", true)
	pdf.SetLang(lang)
	issued := d.g.CreatedAt
	if d.g.ClaimedAt != nil {
		issued = *d.g.ClaimedAt
	}
	pdf.SetCreationDate(issued)
	pdf.SetModificationDate(issued)
	pdf.SetMargins(20, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	pdf.AddPage()
	d.pdf, d.tr = pdf, pdf.UnicodeTranslatorFromDescriptor("")
}

// header writes "From <company>" and the partner, with its logo.
func (d *voucherDoc) header(logo []byte) {
	pdf, tr, t := d.pdf, d.tr, d.t
	top := pdf.GetY()
	textX := 20.0
	if logo != nil {
		pdf.RegisterImageOptionsReader("logo", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(logo))
		pdf.ImageOptions("logo", 20, top, 22, 0, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		textX = 48
	}
	pdf.SetXY(textX, top)
	pdf.SetFont("Helvetica", "", 11)
	pdf.SetTextColor(101, 92, 85)
	pdf.CellFormat(0, 6, tr(t("claim.from", d.g.Company.Name)), "", 2, "L", false, 0, "")
	pdf.SetFont("Helvetica", "B", 20)
	pdf.SetTextColor(31, 26, 23)
	pdf.MultiCell(voucherPDFWidth-(textX-20), 9, tr(t("voucher.heading", d.g.Merchant.Name)), "", "L", false)
	pdf.SetY(max(pdf.GetY(), top+24) + 4)
}

// voucherBox writes the framed voucher: amount or balance, code, QR code,
// expiry, and whether it is used up or expired.
func (d *voucherDoc) voucherBox(code string) error {
	pdf, tr, t, g := d.pdf, d.tr, d.t, d.g
	boxTop := pdf.GetY()
	pdf.SetDrawColor(194, 65, 12)
	pdf.SetLineWidth(0.6)
	pdf.RoundedRect(20, boxTop, voucherPDFWidth, 78, 4, "1234", "D")
	png, err := qrcode.Encode(code, qrcode.Medium, 512)
	if err != nil {
		return err
	}
	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
	pdf.ImageOptions("qr", 132, boxTop+6, 52, 52, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	pdf.SetXY(28, boxTop+8)
	pdf.SetFont("Helvetica", "", 11)
	pdf.SetTextColor(101, 92, 85)
	label := t("voucher.value")
	if g.BalanceCents != g.AmountCents {
		label = t("voucher.balance", d.money(g.AmountCents))
	}
	pdf.CellFormat(100, 6, tr(label), "", 2, "L", false, 0, "")
	pdf.SetFont("Helvetica", "B", 30)
	pdf.SetTextColor(31, 26, 23)
	pdf.CellFormat(100, 14, tr(d.money(g.BalanceCents)), "", 2, "L", false, 0, "")
	pdf.Ln(4)
	pdf.SetX(28)
	pdf.SetFont("Helvetica", "", 11)
	pdf.SetTextColor(101, 92, 85)
	pdf.CellFormat(100, 6, tr(t("voucher.code")), "", 2, "L", false, 0, "")
	pdf.SetFont("Courier", "B", 15)
	pdf.SetTextColor(31, 26, 23)
	pdf.CellFormat(100, 8, code, "", 2, "L", false, 0, "")
	pdf.SetXY(28, boxTop+66)
	pdf.SetFont("Helvetica", "", 11)
	pdf.CellFormat(100, 6, tr(t("claim.valid_until", g.ExpiresAt.Format("02.01.2006"))), "", 0, "L", false, 0, "")
	pdf.SetXY(132, boxTop+60)
	pdf.SetFont("Helvetica", "", 9)
	pdf.SetTextColor(101, 92, 85)
	pdf.CellFormat(52, 5, tr(t("voucher.pdf.qr_hint")), "", 0, "C", false, 0, "")
	if g.Status == models.GiftRedeemed || g.Status == models.GiftExpired {
		key := "voucher.used_up"
		if g.Status == models.GiftExpired {
			key = "voucher.expired"
		}
		pdf.SetXY(28, boxTop+72)
		pdf.SetTextColor(133, 77, 14)
		pdf.CellFormat(100, 5, tr(t(key)), "", 0, "L", false, 0, "")
	}
	pdf.SetY(boxTop + 86)
	return nil
}

// howToRedeem writes where the voucher is taken (in store with address and
// opening hours, online with the shop's link), the shop's notes and the
// footer.
func (d *voucherDoc) howToRedeem() {
	pdf, tr, t, m := d.pdf, d.tr, d.t, d.g.Merchant
	const width = voucherPDFWidth
	heading := func(s string) {
		pdf.SetFont("Helvetica", "B", 13)
		pdf.SetTextColor(31, 26, 23)
		pdf.MultiCell(width, 7, tr(s), "", "L", false)
	}
	body := func(s string) {
		pdf.SetFont("Helvetica", "", 11)
		pdf.SetTextColor(31, 26, 23)
		pdf.MultiCell(width, 5.5, tr(s), "", "L", false)
	}
	small := func(s string) {
		pdf.SetFont("Helvetica", "", 10)
		pdf.SetTextColor(101, 92, 85)
		pdf.MultiCell(width, 5, tr(s), "", "L", false)
	}
	heading(t("voucher.how"))
	pdf.Ln(1)
	if m.RedeemsInStore() || !m.RedeemsOnline() {
		pdf.SetFont("Helvetica", "B", 11)
		pdf.MultiCell(width, 6, tr(t("voucher.in_store")), "", "L", false)
		body(t("voucher.in_store_text"))
		if m.Address != "" {
			small(m.Address + ", " + m.Postcode + " " + m.City)
		}
		if hours := strings.TrimSpace(m.OpeningHours); hours != "" {
			small(strings.ReplaceAll(hours, "\n", " · "))
		}
		pdf.Ln(3)
	}
	if m.RedeemsOnline() {
		pdf.SetFont("Helvetica", "B", 11)
		pdf.MultiCell(width, 6, tr(t("voucher.online")), "", "L", false)
		body(t("voucher.online_text"))
		if shop := firstNonEmpty(m.ShopURL, m.Website); shop != "" {
			pdf.SetFont("Helvetica", "U", 11)
			pdf.SetTextColor(154, 52, 18)
			pdf.WriteLinkString(5.5, tr(shop), shop)
			pdf.Ln(8)
		}
		pdf.Ln(1)
	}
	if m.RedeemInstructions != "" {
		pdf.SetFont("Helvetica", "B", 11)
		pdf.SetTextColor(31, 26, 23)
		pdf.MultiCell(width, 6, tr(t("voucher.instructions")), "", "L", false)
		body(m.RedeemInstructions)
		pdf.Ln(3)
	}
	pdf.Ln(4)
	small(t("voucher.pdf.footer"))
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
