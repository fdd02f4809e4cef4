package handlers

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/models"
)

// LoginForm shows the log-in page.
func (h *Handlers) LoginForm(c *fiber.Ctx) error {
	if currentUser(c) != nil {
		return seeOther(c, "/dashboard")
	}
	p := h.page(c, "login.title")
	p.Form = map[string]string{"next": safeNext(c.Query("next"))}
	return h.render(c, fiber.StatusOK, "login", p)
}

// Login checks the credentials and starts a fresh session (a new session id
// at every log-in, so a planted cookie is worthless).
func (h *Handlers) Login(c *fiber.Ctx) error {
	form := formValues(c, "email", "password", "next")
	u, err := h.store.Authenticate(c.UserContext(), form["email"], form["password"])
	if errors.Is(err, models.ErrInvalidCredentials) {
		p := h.page(c, "login.title")
		p.Form = map[string]string{"email": form["email"], "next": safeNext(form["next"])}
		p.Flash, p.FlashKind = h.r.T(p.Lang, "login.failed"), "error"
		return h.render(c, fiber.StatusUnprocessableEntity, "login", p)
	}
	if err != nil {
		return err
	}
	if old := c.Cookies(cookieSession); old != "" {
		_ = h.store.DeleteSession(c.UserContext(), old)
	}
	tok, err := h.store.CreateSession(c.UserContext(), u.ID, ClientIP(c), string(c.Request().Header.UserAgent()))
	if err != nil {
		return err
	}
	h.setSessionCookie(c, tok)
	return seeOther(c, safeNext(form["next"]))
}

// LoginRateLimited answers a log-in attempt over the limit.
func (h *Handlers) LoginRateLimited(c *fiber.Ctx) error {
	p := h.page(c, "login.title")
	p.Form = map[string]string{"email": strings.Clone(c.FormValue("email")), "next": safeNext(c.FormValue("next"))}
	p.Flash, p.FlashKind = h.r.T(p.Lang, "login.rate_limited"), "error"
	c.Set(fiber.HeaderRetryAfter, "300")
	return h.render(c, fiber.StatusTooManyRequests, "login", p)
}

// Logout ends the session server-side and clears the cookie.
func (h *Handlers) Logout(c *fiber.Ctx) error {
	if tok := c.Cookies(cookieSession); tok != "" {
		if err := h.store.DeleteSession(c.UserContext(), tok); err != nil {
			return err
		}
	}
	h.clearSessionCookie(c)
	h.flash(c, "success", "logged_out")
	return seeOther(c, "/")
}

type signupPage struct {
	Page
	Kind string // company or merchant
}

var signupFields = []string{"org_name", "name", "email", "password", "confirm", "category", "city"}

// SignupForm shows the company or merchant sign-up form.
func (h *Handlers) SignupForm(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return h.render(c, fiber.StatusOK, "signup", signupPage{Page: h.page(c, "signup."+kind+".title"), Kind: kind})
	}
}

// Signup creates the account and logs the new user in.
func (h *Handlers) Signup(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		form := formValues(c, signupFields...)
		in := models.Signup{OrgName: form["org_name"], Name: form["name"], Email: form["email"],
			Password: form["password"], Confirm: form["confirm"], Category: form["category"],
			City: form["city"], Locale: langOf(c)}
		var u *models.User
		var err error
		if kind == "merchant" {
			u, _, err = h.store.SignupMerchant(c.UserContext(), in)
		} else {
			u, _, err = h.store.SignupCompany(c.UserContext(), in)
		}
		if err != nil {
			var v models.ValidationErrors
			if errors.As(err, &v) {
				form["password"], form["confirm"] = "", ""
				p := h.withForm(h.page(c, "signup."+kind+".title"), form, err)
				return h.render(c, fiber.StatusUnprocessableEntity, "signup", signupPage{Page: p, Kind: kind})
			}
			return err
		}
		tok, err := h.store.CreateSession(c.UserContext(), u.ID, ClientIP(c), string(c.Request().Header.UserAgent()))
		if err != nil {
			return err
		}
		h.setSessionCookie(c, tok)
		h.flash(c, "success", "welcome_"+kind)
		return seeOther(c, "/dashboard")
	}
}

// ForgotForm asks for the e-mail address to send a reset link to.
func (h *Handlers) ForgotForm(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "forgot", h.page(c, "forgot.title"))
}

// Forgot queues a reset mail when the address has an account, and answers the
// same either way.
func (h *Handlers) Forgot(c *fiber.Ctx) error {
	form := formValues(c, "email")
	err := h.store.RequestPasswordReset(c.UserContext(), form["email"])
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return h.render(c, fiber.StatusUnprocessableEntity, "forgot", h.withForm(h.page(c, "forgot.title"), form, err))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "reset_sent")
	return seeOther(c, "/login")
}

type resetPage struct {
	Page
	Token string
}

// ResetForm shows the new-password form for a valid reset link.
func (h *Handlers) ResetForm(c *fiber.Ctx) error {
	token := strings.Clone(c.Params("token"))
	if err := h.store.CheckPasswordReset(c.UserContext(), token); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, fiber.StatusOK, "reset", resetPage{Page: h.page(c, "reset.title"), Token: token})
}

// Reset sets the new password; every old session ends.
func (h *Handlers) Reset(c *fiber.Ctx) error {
	token := strings.Clone(c.Params("token"))
	form := formValues(c, "password", "confirm")
	_, err := h.store.ResetPassword(c.UserContext(), token, form["password"], form["confirm"])
	var v models.ValidationErrors
	if errors.As(err, &v) {
		p := h.withForm(h.page(c, "reset.title"), map[string]string{}, err)
		return h.render(c, fiber.StatusUnprocessableEntity, "reset", resetPage{Page: p, Token: token})
	}
	if err != nil {
		return err
	}
	h.clearSessionCookie(c)
	h.flash(c, "success", "password_reset")
	return seeOther(c, "/login")
}

// AccountForm shows the account page (change password).
func (h *Handlers) AccountForm(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "account", h.page(c, "account.title"))
}

// ChangePassword changes the password, ends all sessions and starts a new one
// for this browser.
func (h *Handlers) ChangePassword(c *fiber.Ctx) error {
	u := currentUser(c)
	form := formValues(c, "current", "new", "confirm")
	err := h.store.ChangePassword(c.UserContext(), u.ID, models.PasswordChange{Current: form["current"], New: form["new"], Confirm: form["confirm"]})
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return h.render(c, fiber.StatusUnprocessableEntity, "account", h.withForm(h.page(c, "account.title"), map[string]string{}, err))
	}
	if err != nil {
		return err
	}
	tok, err := h.store.CreateSession(c.UserContext(), u.ID, ClientIP(c), string(c.Request().Header.UserAgent()))
	if err != nil {
		return err
	}
	h.setSessionCookie(c, tok)
	h.flash(c, "success", "password_changed")
	return seeOther(c, "/account")
}

// SetLanguage switches the UI language and goes back where the user was.
func (h *Handlers) SetLanguage(c *fiber.Ctx) error {
	lang := c.FormValue("lang")
	if lang != "de" && lang != "en" {
		return models.ValidationErrors{"lang": models.MsgInvalid}
	}
	c.Cookie(&fiber.Cookie{Name: cookieLang, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HTTPOnly: true, SameSite: "Lax", Secure: h.opt.SecureCookies})
	if u := currentUser(c); u != nil {
		if err := h.store.SetUserLocale(c.UserContext(), u.ID, lang); err != nil {
			return err
		}
	}
	back := c.FormValue("back")
	if back == "" {
		back = "/"
	}
	// Checked again on the way out: shortening works on the decoded path,
	// so /%2Fdashboard/x would otherwise become //dashboard, another host.
	return seeOther(c, safeNextOr(pageToReturnTo(c.App(), safeNextOr(back, "/")), "/"))
}

// pageToReturnTo makes sure the language switch lands on a page: a back
// target without a GET route (the URL of a form's POST, shown with its
// errors) is shortened to the nearest path that has one
// (/company/settings/cap → /company/settings), keeping the query. A path
// with an empty segment or a backslash (/%2Fx, /%5Cx decode to //x, /\x:
// protocol-relative once shortened or normalised) goes to the start page.
func pageToReturnTo(app *fiber.App, back string) string {
	u, err := url.Parse(back)
	if err != nil || strings.Contains(u.Path, "//") || strings.Contains(u.Path, "\\") {
		return "/"
	}
	var patterns []string
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodGet {
			patterns = append(patterns, r.Path)
		}
	}
	for p := u.Path; p != "" && p != "/"; p = p[:strings.LastIndex(p, "/")] {
		for _, pat := range patterns {
			if routeMatches(pat, p) {
				u.Path = p
				return u.RequestURI()
			}
		}
	}
	return "/"
}

// routeMatches reports whether path fits a route pattern with :params and a
// trailing *.
func routeMatches(pattern, path string) bool {
	ps, xs := strings.Split(strings.Trim(pattern, "/"), "/"), strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range ps {
		if seg == "*" {
			return true
		}
		if i >= len(xs) {
			return false
		}
		if strings.HasPrefix(seg, ":") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if seg != xs[i] {
			return false
		}
	}
	return len(ps) == len(xs)
}

func safeNextOr(next, def string) string {
	if s := safeNext(next); s != "/dashboard" || next == "/dashboard" {
		return s
	}
	return def
}
