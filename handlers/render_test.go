package handlers

import (
	"testing"

	"trostpflaster/views"
	"trostpflaster/views/i18n"
)

// Every page template parses in every language; NewRenderer refuses to
// start otherwise (and i18n.Load refuses a key one language lacks).
func TestRendererParsesEverything(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t)
	for _, lang := range Languages {
		if len(r.pages[lang]) < 10 {
			t.Errorf("%s: only %d pages", lang, len(r.pages[lang]))
		}
	}
	if r.T("de", "nav.login") != "Anmelden" || r.T("en", "nav.login") != "Log in" {
		t.Error("translations")
	}
}

func newTestRenderer(t *testing.T) *Renderer {
	t.Helper()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer(views.FS(), cat)
	if err != nil {
		t.Fatal(err)
	}
	return r
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
