package handlers

import (
	"testing"

	"trostpflaster/views"
)

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	cases := []struct {
		lang  string
		cents int64
		want  string
	}{
		{"de", 1250, "12,50 €"},
		{"en", 1250, "€12.50"},
		{"de", 5, "0,05 €"},
		{"de", 123456789, "1.234.567,89 €"},
		{"en", 123456789, "€1,234,567.89"},
		{"de", -1999, "-19,99 €"},
		{"de", 0, "0,00 €"},
	}
	for _, c := range cases {
		if got := FormatMoney(c.lang, c.cents, "EUR"); got != c.want {
			t.Errorf("FormatMoney(%s, %d) = %q, want %q", c.lang, c.cents, got, c.want)
		}
	}
}

// Every template parses and every translation key exists in both languages;
// NewRenderer refuses to start otherwise.
func TestRendererParsesEverything(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(views.FS())
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Languages {
		if len(r.pages[lang]) < 10 {
			t.Errorf("%s: only %d pages", lang, len(r.pages[lang]))
		}
		subj, body, err := r.RenderMail(lang, "password_reset", map[string]any{"Name": "Ada", "Link": "https://x/reset/abc"})
		if err != nil || subj == "" || body == "" {
			t.Errorf("%s reset mail: %v", lang, err)
		}
	}
	if r.T("de", "nav.login") != "Anmelden" || r.T("en", "nav.login") != "Log in" {
		t.Error("translations")
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/account": "/account", "": "/dashboard", "https://evil.example": "/dashboard",
		"//evil.example": "/dashboard", "/\\evil.example": "/dashboard", "javascript:alert(1)": "/dashboard",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q", in, got)
		}
	}
}
