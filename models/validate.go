package models

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message keys used in ValidationErrors; the views translate them.
const (
	MsgRequired      = "required"
	MsgTooLong       = "too_long"
	MsgTooShort      = "too_short"
	MsgInvalidEmail  = "invalid_email"
	MsgInvalid       = "invalid"
	MsgTaken         = "taken"
	MsgPasswordLong  = "password_too_long"
	MsgPasswordShort = "password_too_short"
	MsgMismatch      = "mismatch"
	MsgUnknownPlace  = "unknown_place"
	MsgInvalidURL    = "invalid_url"
)

// cleanText trims, normalises whitespace and drops control characters. Text
// is stored as typed; escaping is the templates' job.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

func checkText(v ValidationErrors, field, s string, min, max int) string {
	s = cleanText(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && min > 0:
		v.Add(field, MsgRequired)
	case n < min:
		v.Add(field, MsgTooShort)
	case n > max:
		v.Add(field, MsgTooLong)
	}
	return s
}

// NormalizeEmail lower-cases and trims an address; it does not validate it.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkEmail(v ValidationErrors, field, s string) string {
	s = NormalizeEmail(s)
	if s == "" {
		v.Add(field, MsgRequired)
		return s
	}
	if len(s) > 254 {
		v.Add(field, MsgTooLong)
		return s
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		v.Add(field, MsgInvalidEmail)
	}
	return s
}

// Password limits: bcrypt reads at most 72 bytes, so longer passwords are
// refused rather than silently truncated.
const (
	PasswordMinRunes = 10
	PasswordMaxBytes = 72
)

func checkPassword(v ValidationErrors, field, pw string) {
	switch {
	case pw == "":
		v.Add(field, MsgRequired)
	case len(pw) > PasswordMaxBytes:
		v.Add(field, MsgPasswordLong)
	case utf8.RuneCountInString(pw) < PasswordMinRunes:
		v.Add(field, MsgPasswordShort)
	}
}

var slugStrip = regexp.MustCompile(`[^a-z0-9]+`)

// Slugify turns a name into a URL-safe slug ("Café Müller" → "cafe-mueller").
func Slugify(s string) string {
	s = FoldText(s)
	s = slugStrip.ReplaceAllString(s, "-")
	s = strings.Trim(s, "-")
	if len(s) > 60 {
		s = strings.Trim(s[:60], "-")
	}
	if s == "" {
		s = "x"
	}
	return s
}

var foldReplacer = strings.NewReplacer(
	"ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss",
	"á", "a", "à", "a", "â", "a", "é", "e", "è", "e", "ê", "e", "ë", "e",
	"í", "i", "ì", "i", "î", "i", "ï", "i", "ó", "o", "ò", "o", "ô", "o",
	"ú", "u", "ù", "u", "û", "u", "ç", "c", "ñ", "n",
)

// FoldText lower-cases and folds German umlauts and common accents to ASCII,
// so "Köln", "koeln" and "KOELN" compare equal in search.
func FoldText(s string) string {
	return foldReplacer.Replace(strings.ToLower(strings.TrimSpace(s)))
}
