// Package mail is the mail adapter: it composes every mail the product sends
// from the templates in views/mail and the i18n catalogue (Composer, the
// domain's models.MailComposer port), and delivers them over SMTP or keeps
// them for the developer mailbox (Sender, used by the worker in app).
//
// Composing runs inside the domain's transactions (a gift and its mail are
// written together), so it only renders: no I/O, no database.
package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"strings"
	texttemplate "text/template"

	"trostpflaster/models"
	"trostpflaster/views/i18n"
)

// Composer renders mails from views/mail: mail/NAME.txt is the subject line
// and the plain text (always sent), mail/NAME.html an optional HTML
// alternative. Templates are parsed once at start per language, so a broken
// one stops the start, not a send.
type Composer struct {
	baseURL string // links in mails: BASE_URL + /c/…, /reset/…
	cat     *i18n.Catalog
	text    map[string]map[string]*texttemplate.Template // lang → name → mail/NAME.txt
	html    map[string]map[string]*htmltemplate.Template // lang → name → mail/NAME.html
}

var _ models.MailComposer = (*Composer)(nil)

// NewComposer parses mail/*.txt and mail/*.html from fsys (views.FS()) for
// every language of cat; links in mails start with baseURL.
func NewComposer(fsys fs.FS, cat *i18n.Catalog, baseURL string) (*Composer, error) {
	c := &Composer{baseURL: baseURL, cat: cat,
		text: map[string]map[string]*texttemplate.Template{}, html: map[string]map[string]*htmltemplate.Template{}}
	textFiles, err := fs.Glob(fsys, "mail/*.txt")
	if err != nil {
		return nil, err
	}
	htmlFiles, err := fs.Glob(fsys, "mail/*.html")
	if err != nil {
		return nil, err
	}
	if len(textFiles) == 0 {
		return nil, fmt.Errorf("no mail templates in mail/*.txt")
	}
	for _, lang := range i18n.Languages() {
		funcs := cat.Funcs(lang)
		if c.text[lang], err = parseEach(textFiles, ".txt", func(name, file string) (*texttemplate.Template, error) {
			return texttemplate.New(name).Funcs(funcs).ParseFS(fsys, file)
		}); err != nil {
			return nil, err
		}
		if c.html[lang], err = parseEach(htmlFiles, ".html", func(name, file string) (*htmltemplate.Template, error) {
			return htmltemplate.New(name).Funcs(funcs).ParseFS(fsys, file)
		}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseEach parses every file with parse (given the file's base name and
// path) and keys the templates by the base name without ext.
func parseEach[T any](files []string, ext string, parse func(name, file string) (T, error)) (map[string]T, error) {
	out := map[string]T{}
	for _, f := range files {
		t, err := parse(path.Base(f), f)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(path.Base(f), ext)] = t
	}
	return out, nil
}

// compose renders mail NAME in lang (a language the product speaks: callers
// pass it through i18n.Match) into a mail to to.
func (c *Composer) compose(lang, name, to string, data any) (models.Mail, error) {
	subject, text, err := c.renderText(lang, name, data)
	if err != nil {
		return models.Mail{}, err
	}
	html, err := c.renderHTML(lang, name, data)
	if err != nil {
		return models.Mail{}, err
	}
	return models.Mail{To: to, Subject: subject, Text: text, HTML: html}, nil
}

// renderText renders mail/NAME.txt: the first line is "Subject: …", then a
// blank line and the plain-text body.
func (c *Composer) renderText(lang, name string, data any) (subject, body string, err error) {
	t, ok := c.text[lang][name]
	if !ok {
		return "", "", fmt.Errorf("no mail template %q", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", "", err
	}
	head, rest, ok := strings.Cut(buf.String(), "\n\n")
	if !ok || !strings.HasPrefix(head, "Subject: ") {
		return "", "", fmt.Errorf("mail %s: first line must be 'Subject: …' followed by a blank line", name)
	}
	return strings.TrimPrefix(head, "Subject: "), strings.TrimSpace(rest) + "\n", nil
}

// renderHTML renders mail/NAME.html, the optional HTML alternative of a
// mail (the plain-text part is always sent too); "" when the mail has no
// HTML template.
func (c *Composer) renderHTML(lang, name string, data any) (string, error) {
	t, ok := c.html[lang][name]
	if !ok {
		return "", nil
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// link is an absolute link into the product.
func (c *Composer) link(path string) string { return c.baseURL + path }
