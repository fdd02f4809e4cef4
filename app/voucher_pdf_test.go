package app_test

import (
	"bytes"
	"compress/zlib"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// pdfText inflates every stream of a PDF and returns them with the
// uncompressed parts, so a test can look for the text drawn on the page.
func pdfText(t *testing.T, doc []byte) string {
	t.Helper()
	var out strings.Builder
	rest := doc
	for {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			break
		}
		out.Write(rest[:i])
		rest = rest[i+len("stream\n"):]
		j := bytes.Index(rest, []byte("endstream"))
		if j < 0 {
			t.Fatal("unterminated stream")
		}
		raw := rest[:j]
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			b, err := io.ReadAll(zr)
			if err == nil {
				out.Write(b)
			}
		} else {
			out.Write(raw)
		}
		rest = rest[j+len("endstream"):]
	}
	out.Write(rest)
	return out.String()
}

// The voucher as a PDF: a real PDF document carrying the code, partner,
// company, amount and expiry, with the claim page's headers; unknown
// tokens 404 like everywhere, unclaimed gifts go back to the choice.
func TestVoucherPDF(t *testing.T) {
	t.Parallel()
	for _, d := range apptest.Dialects(t) {
		t.Run(apptest.Name(d), func(t *testing.T) {
			t.Parallel()
			e := newVoucherEnv(t, d)
			mustLogo(t, e.a.Store, e.cafe)
			e.a.DB.Model(&models.Merchant{}).Where("id = ?", e.cafe.ID).Updates(map[string]any{"redeem_where": models.RedeemBoth,
				"shop_url": "https://shop.rheinblick.example", "redeem_instructions": "Online: Feld Gutschein im Warenkorb."})
			g, token := e.gift(t, 40_00, e.cafe, e.bakery)
			c := apptest.NewClient(t, e.a.HTTP)

			unknown := c.Get("/c/unknown-token-000000000000000000000/voucher.pdf")
			if unknown.Status != 404 {
				t.Fatalf("unknown token: %d", unknown.Status)
			}
			checkClaimHeaders(t, "unknown pdf", unknown)
			if res := c.Get("/c/" + token + "/voucher.pdf"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/c/"+token {
				t.Fatalf("unclaimed: %d %s", res.Status, res.Header.Get("Location"))
			}
			code := e.claim(t, token, e.cafe)
			if res := e.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", "p1", redeemBody(15_00)); res.Status != 201 {
				t.Fatal(res.Body)
			}
			res := c.Get("/c/" + token + "/voucher.pdf")
			checkClaimHeaders(t, "pdf", res)
			if res.Status != 200 || res.Header.Get("Content-Type") != "application/pdf" ||
				res.Header.Get("Content-Disposition") != `attachment; filename="gutschein-cafe-rheinblick.pdf"` {
				t.Fatalf("pdf: %d %v", res.Status, res.Header)
			}
			doc := []byte(res.Body)
			if dir := os.Getenv("TEST_ARTIFACTS"); dir != "" && d == "sqlite" {
				_ = os.MkdirAll(dir, 0o755)
				_ = os.WriteFile(filepath.Join(dir, "voucher.pdf"), doc, 0o644)
			}
			if !bytes.HasPrefix(doc, []byte("%PDF-1.")) || !bytes.HasSuffix(bytes.TrimSpace(doc), []byte("%%EOF")) || !bytes.Contains(doc, []byte("startxref")) {
				t.Fatal("not a complete PDF document")
			}
			text := pdfText(t, doc)
			cp1252 := func(s string) string { // the core fonts' encoding
				r := strings.NewReplacer("ä", "\xe4", "é", "\xe9", "€", "\x80", "ß", "\xdf", "ü", "\xfc")
				return r.Replace(s)
			}
			for _, want := range []string{"(" + code + ")", "Beispiel-Verlag", cp1252("Café Rheinblick"), cp1252("25,00 €"), cp1252("von 40,00 €"),
				"(Im Laden)", "(Im Onlineshop)", "https://shop.rheinblick.example", "Frankenwerft 7", "Feld Gutschein im Warenkorb",
				"/Subtype /Image", "/URI (https://shop.rheinblick.example)", g.ExpiresAt.Format("02.01.2006")} {
				if !strings.Contains(text, want) {
					t.Errorf("PDF lacks %q", want)
				}
			}
			if strings.Contains(text, token) {
				t.Fatal("the PDF carries the claim token")
			}
			// The QR code encodes the code (what the till reads), never the link.
			if n := strings.Count(text, "/Subtype /Image"); n < 2 {
				t.Fatalf("%d images, want QR and logo", n)
			}
			req, _ := http.NewRequest("GET", "/c/"+token+"/voucher.pdf", nil)
			req.Header.Set("Accept-Language", "en")
			if en := c.Do(req); en.Status != 200 || !strings.Contains(pdfText(t, []byte(en.Body)), "(In store)") || !strings.Contains(en.Header.Get("Content-Disposition"), "voucher-cafe-rheinblick.pdf") {
				t.Fatalf("English PDF: %d %s", en.Status, en.Header.Get("Content-Disposition"))
			}
		})
	}
}
