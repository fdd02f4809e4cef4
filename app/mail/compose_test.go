package mail

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trostpflaster/models"
	"trostpflaster/views"
	"trostpflaster/views/i18n"
)

// update rewrites testdata/*.golden from the templates of today (after a
// deliberate change of a mail's wording: review the diff).
var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const testBaseURL = "https://trostpflaster.example"

func newTestComposer(t *testing.T) *Composer {
	t.Helper()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewComposer(views.FS(), cat, testBaseURL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mailCase is one mail to compose: the kind and language in its name, the
// inputs in the fields the kind uses.
type mailCase struct {
	name     string
	kind     string // gift_sent, expiry_reminder, gift_decision, merchant_<decision>, password_reset, staff_invite
	gift     *models.Gift
	token    string
	user     *models.User // agent, owner or reset user
	approved bool
	merchant *models.Merchant
	reason   string
	invite   *models.MerchantInvite
	lang     string // staff invites: the inviter's page language
}

// mailCases covers every kind in both languages, with the branches of its
// templates: a name or none, a message or none, one or several partners,
// notes, references, HTML-special characters, an unknown language.
func mailCases() []mailCase {
	cafe := models.Merchant{ID: 1, Name: "Café Rheinblick", City: "Köln", Slug: "cafe-rheinblick"}
	book := models.Merchant{ID: 2, Name: "Buch & <Kunst>", Slug: "buch-kunst"}
	shop := models.Merchant{ID: 3, Name: "Blumen \"Rosa\"", City: "Bonn", Slug: "blumen-rosa"}
	expires := time.Date(2029, 12, 31, 22, 59, 59, 0, time.UTC)
	offers := func(ms ...models.Merchant) []models.GiftMerchant {
		out := make([]models.GiftMerchant, len(ms))
		for i, m := range ms {
			out[i] = models.GiftMerchant{MerchantID: m.ID, Position: i, Merchant: m}
		}
		return out
	}
	full := func(lang string) *models.Gift {
		return &models.Gift{ID: 7, PublicID: "a1b2c3d4e5f6g7h8", Company: models.Company{Name: "Müller & Söhne <GmbH>"},
			RecipientName: "Kim <Kundin>", RecipientEmail: "kim@example.com", AmountCents: 1234567, BalanceCents: 98765, Currency: "EUR",
			Message: "Es tut uns leid.\nBitte entschuldigen Sie <die> Verspätung & den Ärger.", Lang: lang, ExpiresAt: expires,
			Offers: offers(cafe, book, shop)}
	}
	bare := func(lang string) *models.Gift {
		return &models.Gift{ID: 8, PublicID: "zz99yy88xx77ww66", Company: models.Company{Name: "Beispiel Verlag"},
			RecipientEmail: "anon@example.com", AmountCents: 5, BalanceCents: 5, Currency: "EUR", Lang: lang, ExpiresAt: expires,
			Offers: offers(book)}
	}
	decided := func(lang, name, ref, note string) *models.Gift {
		return &models.Gift{ID: 9, PublicID: "d3c1d3dd3c1d3dd0", Company: models.Company{Name: "Beispiel Verlag"}, RecipientName: name,
			RecipientEmail: "r@example.com", Reference: ref, DecisionNote: note, AmountCents: 250000, Currency: "EUR", Lang: lang}
	}
	agent := func(locale, name string) *models.User {
		return &models.User{ID: 4, Email: "agent1@beispiel-verlag.example", Name: name, Locale: locale}
	}
	owner := func(locale string) *models.User {
		return &models.User{ID: 5, Email: "inhaber@rheinblick.example", Name: "Ina <Inhaberin>", Locale: locale}
	}
	var cs []mailCase
	for _, lang := range []string{"de", "en"} {
		each := []mailCase{
			mailCase{name: "gift_sent_full", kind: "gift_sent", gift: full(lang), token: "tok-full-0123456789"},
			mailCase{name: "gift_sent_bare", kind: "gift_sent", gift: bare(lang), token: "tok-bare-0123456789"},
			mailCase{name: "expiry_reminder_full", kind: "expiry_reminder", gift: full(lang), token: "tok-full-0123456789"},
			mailCase{name: "expiry_reminder_bare", kind: "expiry_reminder", gift: bare(lang), token: "tok-bare-0123456789"},
			mailCase{name: "gift_decision_approved", kind: "gift_decision", approved: true, user: agent(lang, "Alex"),
				gift: decided("de", "Kim <Kundin>", "TICKET-42", "Passt so.\nDanke & Gruß")},
			mailCase{name: "gift_decision_declined_ref", kind: "gift_decision", user: agent(lang, ""),
				gift: decided("en", "", "TICKET-43", "Zu hoch <bitte> kleiner")},
			mailCase{name: "gift_decision_declined_anon", kind: "gift_decision", user: agent(lang, "Alex"),
				gift: decided("de", "", "", "")},
			mailCase{name: "password_reset", kind: "password_reset", user: &models.User{Email: "chefin@beispiel-verlag.example", Name: "Chefin & Co", Locale: lang}, token: "reset-token-abc"},
			mailCase{name: "staff_invite", kind: "staff_invite", lang: lang, merchant: &cafe, user: &models.User{Name: "Ina <Inhaberin>"},
				invite: &models.MerchantInvite{Email: "neu@rheinblick.example"}, token: "invite-token-xyz"},
		}
		for _, d := range []string{"approved", "rejected", "suspended", "reactivated"} {
			each = append(each, mailCase{name: "merchant_" + d, kind: "merchant_" + d, user: owner(lang), merchant: &shop, reason: "Bitte Öffnungszeiten & <Logo> ergänzen."})
		}
		for _, c := range each {
			c.name += "." + lang
			cs = append(cs, c)
		}
	}
	// Languages the product does not speak fall back to German.
	cs = append(cs,
		mailCase{name: "gift_sent_full.xx", kind: "gift_sent", gift: full("fr"), token: "tok-full-0123456789"},
		mailCase{name: "gift_decision_approved.xx", kind: "gift_decision", approved: true, user: agent("fr", "Alex"), gift: decided("de", "Kim", "", "")},
		mailCase{name: "password_reset.xx", kind: "password_reset", user: &models.User{Email: "x@example.com", Name: "X", Locale: "fr"}, token: "reset-token-abc"},
		mailCase{name: "merchant_approved.xx", kind: "merchant_approved", user: owner("fr"), merchant: &cafe},
	)
	return cs
}

// goldenText is how a composed mail is kept in testdata: recipient,
// subject, the plain text and the HTML part, byte for byte.
func goldenText(m models.Mail) string {
	return "To: " + m.To + "\nSubject: " + m.Subject + "\n\n" + m.Text + "-- HTML --\n" + m.HTML
}

// composedCase is a case and the mail the Composer made of it.
type composedCase struct {
	mailCase
	m models.Mail
}

// composeAll composes every case with the Composer of views/mail.
func composeAll(t *testing.T) []composedCase {
	t.Helper()
	c := newTestComposer(t)
	var out []composedCase
	for _, mc := range mailCases() {
		m, err := mc.compose(c)
		if err != nil {
			t.Fatalf("%s: %v", mc.name, err)
		}
		out = append(out, composedCase{mc, m})
	}
	return out
}

// compose runs the Composer method of the case's kind.
func (mc mailCase) compose(c *Composer) (models.Mail, error) {
	switch {
	case mc.kind == "gift_sent":
		return c.GiftSent(mc.gift, mc.token)
	case mc.kind == "expiry_reminder":
		return c.ExpiryReminder(mc.gift, mc.token)
	case mc.kind == "gift_decision":
		return c.GiftDecision(mc.gift, mc.user, mc.approved)
	case mc.kind == "password_reset":
		return c.PasswordReset(mc.user, mc.token)
	case mc.kind == "staff_invite":
		return c.StaffInvite(mc.invite, mc.merchant, mc.user, mc.token, mc.lang)
	case strings.HasPrefix(mc.kind, "merchant_"):
		return c.MerchantDecision(strings.TrimPrefix(mc.kind, "merchant_"), mc.user, mc.merchant, mc.reason)
	}
	panic("unknown mail kind " + mc.kind)
}

// TestMailsMatchGolden: every kind of mail in both languages — recipient,
// subject, plain text and HTML — is byte for byte what testdata holds. The
// golden files were written by the composers in handlers before they moved
// here (handlers/mail.go, handlers/auth.go, handlers/merchant_staff.go at
// bd7dd4e), so they prove the move changed no mail.
func TestMailsMatchGolden(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, mc := range composeAll(t) {
		got := goldenText(mc.m)
		file := filepath.Join("testdata", mc.name+".golden")
		seen[filepath.Base(file)] = true
		if *update {
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", mc.name, file, got, want)
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.golden"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s belongs to no case", f)
		}
	}
}

// Every kind has a subject and a text with its link and no raw translation
// key, in both languages; only the gift mail has an HTML part, in the
// gift's language.
func TestEveryKindInBothLanguages(t *testing.T) {
	t.Parallel()
	kinds := map[string]bool{}
	cases := composeAll(t)
	for _, mc := range cases {
		m := mc.m
		kinds[mc.kind] = true
		if m.To == "" || m.Subject == "" || !strings.HasSuffix(m.Text, "\n") || strings.Contains(m.Subject, "\n") {
			t.Errorf("%s: %+v", mc.name, m)
		}
		for _, part := range []string{m.Subject, m.Text, m.HTML} {
			if strings.Contains(part, "mail.") || strings.Contains(part, "gifts.anon") {
				t.Errorf("%s shows a raw translation key:\n%s", mc.name, part)
			}
		}
		if mc.token != "" && !strings.Contains(m.Text, testBaseURL+"/") {
			t.Errorf("%s: no link in\n%s", mc.name, m.Text)
		}
		if (m.HTML != "") != (mc.kind == "gift_sent") {
			t.Errorf("%s: HTML part %q", mc.name, m.HTML)
		}
		if mc.kind == "gift_sent" && !strings.Contains(m.HTML, `<html lang="`+i18n.Match(mc.gift.Lang)+`">`) {
			t.Errorf("%s: HTML not in the gift's language", mc.name)
		}
	}
	if len(kinds) != 9 {
		t.Errorf("cases cover %d kinds, want all 9", len(kinds))
	}
	// German and English differ, so each language really is its own.
	de, en := cases[0].m, cases[13].m
	if de.Subject == en.Subject || de.Text == en.Text {
		t.Errorf("German and English gift mails are the same:\n%s\n%s", de.Subject, en.Subject)
	}
}

// A broken template stops the start, not a send.
func TestNewComposerRefusesBrokenTemplates(t *testing.T) {
	t.Parallel()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewComposer(os.DirFS(t.TempDir()), cat, testBaseURL); err == nil {
		t.Error("no templates: composer built")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "mail"), 0o755)
	os.WriteFile(filepath.Join(dir, "mail", "x.txt"), []byte("Subject: {{t \"a\"\n"), 0o644)
	if _, err := NewComposer(os.DirFS(dir), cat, testBaseURL); err == nil {
		t.Error("broken template: composer built")
	}
	os.WriteFile(filepath.Join(dir, "mail", "x.txt"), []byte("no subject line"), 0o644)
	c, err := NewComposer(os.DirFS(dir), cat, testBaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.compose("de", "x", "a@example.com", nil); err == nil {
		t.Error("a mail without a subject line composed")
	}
	if _, err := c.compose("de", "missing", "a@example.com", nil); err == nil {
		t.Error("a mail without a template composed")
	}
}
