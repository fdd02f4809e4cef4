package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

const goodPW = "correct horse battery"

func signupForm(kind string, over map[string]string) url.Values {
	v := url.Values{"org_name": {"Muster GmbH"}, "name": {"Maria Muster"}, "email": {"maria@muster.example"},
		"password": {goodPW}, "confirm": {goodPW}}
	if kind == "merchant" {
		v.Set("category", "bakery")
		v.Set("city", "Köln")
	}
	for k, val := range over {
		v.Set(k, val)
	}
	return v
}

func TestSignupAndLogin(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"company", "merchant"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
			c := apptest.NewClient(t, a.HTTP)
			res := c.PostForm("/signup/"+kind, signupForm(kind, nil))
			if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard" {
				t.Fatalf("signup: %d %s", res.Status, res.Body)
			}
			ck := res.Cookie["tp_session"]
			if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
				t.Fatalf("session cookie flags: %+v", ck)
			}
			res = c.Get("/dashboard")
			if res.Status != 200 || !strings.Contains(res.Body, "Muster GmbH") || !strings.Contains(res.Body, "Maria Muster") {
				t.Fatalf("dashboard after signup: %d\n%s", res.Status, res.Body)
			}
			if kind == "merchant" && !strings.Contains(res.Body, "noch nicht freigeschaltet") {
				t.Error("new merchant not told it awaits approval")
			}
			// A second sign-up with the same address (any case) is refused.
			c2 := apptest.NewClient(t, a.HTTP)
			res = c2.PostForm("/signup/"+kind, signupForm(kind, map[string]string{"email": "MARIA@muster.example", "org_name": "Zweite"}))
			if res.Status != 422 || !strings.Contains(res.Body, "bereits registriert") {
				t.Fatalf("duplicate e-mail: %d", res.Status)
			}
			// Log out, then log in again.
			res = c.PostForm("/logout", nil)
			if res.Status != http.StatusSeeOther {
				t.Fatalf("logout: %d", res.Status)
			}
			if res := c.Get("/dashboard"); res.Status != http.StatusSeeOther {
				t.Fatalf("dashboard after logout: %d", res.Status)
			}
			c.Login("maria@muster.example", goodPW)
			if res := c.Get("/dashboard"); res.Status != 200 {
				t.Fatalf("dashboard after login: %d", res.Status)
			}
		})
	}
}

func TestSignupRejectsBadInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	hostile := `<script>alert("x")</script>`
	cases := []struct {
		name  string
		kind  string
		over  map[string]string
		field string // expected error text fragment
	}{
		{"empty everything", "company", map[string]string{"org_name": "", "name": "", "email": "", "password": "", "confirm": ""}, "Bitte ausfüllen."},
		{"overlong name", "company", map[string]string{"org_name": long}, "Das ist zu lang."},
		{"malformed e-mail", "company", map[string]string{"email": "maria@@example"}, "gültige E-Mail-Adresse"},
		{"e-mail with display name", "company", map[string]string{"email": "Maria <maria@example.com>"}, "gültige E-Mail-Adresse"},
		{"e-mail without domain dot", "company", map[string]string{"email": "maria@localhost"}, "gültige E-Mail-Adresse"},
		{"password too short", "company", map[string]string{"password": "short", "confirm": "short"}, "mindestens 10 Zeichen"},
		{"password over 72 bytes", "company", map[string]string{"password": strings.Repeat("ä", 37), "confirm": strings.Repeat("ä", 37)}, "höchstens 72 Bytes"},
		{"passwords differ", "company", map[string]string{"confirm": "something else entirely"}, "stimmen nicht überein"},
		{"hostile name is escaped", "company", map[string]string{"org_name": hostile, "email": "bad"}, "&lt;script&gt;"},
		{"merchant without category", "merchant", map[string]string{"category": ""}, "Bitte ausfüllen."},
		{"merchant with unknown category", "merchant", map[string]string{"category": "weapons"}, "nicht gültig"},
		{"merchant with empty city", "merchant", map[string]string{"city": " "}, "Bitte ausfüllen."},
		{"invalid UTF-8", "company", map[string]string{"org_name": "\xff\xfe", "name": "\xff"}, "Bitte ausfüllen."},
	}
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := apptest.NewClient(t, a.HTTP)
			res := c.PostForm("/signup/"+tc.kind, signupForm(tc.kind, tc.over))
			if res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d\n%s", res.Status, res.Body)
			}
			if !strings.Contains(res.Body, tc.field) {
				t.Errorf("no message %q in page", tc.field)
			}
			if strings.Contains(res.Body, "<script>alert") {
				t.Error("hostile input rendered unescaped")
			}
			if strings.Contains(res.Body, goodPW) {
				t.Error("password echoed back into the form")
			}
			if res.Cookie["tp_session"] != nil {
				t.Error("session started despite errors")
			}
		})
	}
	var users, companies, merchants int64
	db := a.DB
	db.Model(&models.User{}).Count(&users)
	db.Model(&models.Company{}).Count(&companies)
	db.Model(&models.Merchant{}).Count(&merchants)
	if users+companies+merchants != 0 {
		t.Fatalf("bad sign-ups created %d users, %d companies, %d merchants", users, companies, merchants)
	}
}

func TestLoginFailuresAndRateLimit(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	cases := []struct{ name, email, pw string }{
		{"wrong password", "chefin@beispiel-verlag.example", "wrong password!"},
		{"unknown user", "nobody@example.com", goodPW},
		{"empty", "", ""},
		{"overlong", strings.Repeat("a", 5000) + "@x.de", strings.Repeat("p", 5000)},
		{"hostile", `"><script>alert(1)</script>`, "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := apptest.NewClient(t, a.HTTP)
			c.Head["X-Forwarded-For"] = "198.51.100." + string(rune('1'+len(tc.name)%8))
			res := c.PostForm("/login", url.Values{"email": {tc.email}, "password": {tc.pw}})
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "stimmen nicht") {
				t.Fatalf("status %d", res.Status)
			}
			if strings.Contains(res.Body, "<script>alert") || res.Cookie["tp_session"] != nil {
				t.Fatal("unescaped echo or session on failure")
			}
		})
	}

	// Ten attempts per IP per five minutes; X-Forwarded-For from an untrusted
	// client does not give a fresh budget.
	b := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	c := apptest.NewClient(t, b.HTTP)
	statuses := map[int]int{}
	for i := 0; i < 14; i++ {
		c.Head["X-Forwarded-For"] = "203.0.113." + string(rune('0'+i%10))
		res := c.PostForm("/login", url.Values{"email": {"x" + string(rune('a'+i)) + "@example.com"}, "password": {"whatever123"}})
		statuses[res.Status]++
		if res.Status == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if statuses[422] != 10 || statuses[429] != 4 {
		t.Fatalf("rate limit: %v", statuses)
	}
}

func TestSessionsEndAtLogoutAndPasswordChange(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	const email, pw = "agent1@beispiel-verlag.example", "demo-agent-2026"

	// Log-in issues a new session id even if the browser brought one.
	fixed := apptest.NewClient(t, a.HTTP)
	fixed.Login(email, pw)
	first := fixed.Jar["tp_session"].Value
	fixed.Login(email, pw)
	if fixed.Jar["tp_session"].Value == first {
		t.Fatal("session id not renewed at log-in")
	}
	stolen := apptest.NewClient(t, a.HTTP)
	stolen.Jar["tp_session"] = &http.Cookie{Name: "tp_session", Value: first}
	if res := stolen.Get("/dashboard"); res.Status != http.StatusSeeOther {
		t.Fatal("replaced session still valid")
	}

	phone := apptest.NewClient(t, a.HTTP)
	phone.Login(email, pw)
	laptop := apptest.NewClient(t, a.HTTP)
	laptop.Login(email, pw)

	// Wrong current password: 422, nothing changes.
	res := laptop.PostForm("/account/password", url.Values{"current": {"nope nope nope"}, "new": {"a brand new secret"}, "confirm": {"a brand new secret"}})
	if res.Status != 422 {
		t.Fatalf("wrong current password: %d", res.Status)
	}
	res = laptop.PostForm("/account/password", url.Values{"current": {pw}, "new": {"a brand new secret"}, "confirm": {"a brand new secret"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("change password: %d %s", res.Status, res.Body)
	}
	if res := laptop.Get("/dashboard"); res.Status != 200 {
		t.Fatal("the changing browser lost its session")
	}
	if res := phone.Get("/dashboard"); res.Status != http.StatusSeeOther {
		t.Fatal("other session survived a password change")
	}
	// Log-out kills the session server-side: the old cookie is worthless.
	cookie := laptop.Jar["tp_session"].Value
	laptop.PostForm("/logout", nil)
	replay := apptest.NewClient(t, a.HTTP)
	replay.Jar["tp_session"] = &http.Cookie{Name: "tp_session", Value: cookie}
	if res := replay.Get("/dashboard"); res.Status != http.StatusSeeOther {
		t.Fatal("session valid after log-out")
	}
	replay.Login(email, "a brand new secret")
}

func TestPasswordResetByMail(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	const email = "chefin@beispiel-verlag.example"
	old := apptest.NewClient(t, a.HTTP)
	old.Login(email, "demo-chefin-2026")

	c := apptest.NewClient(t, a.HTTP)
	// Unknown address: same answer, no mail.
	if res := c.PostForm("/forgot", url.Values{"email": {"nobody@example.com"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("forgot unknown: %d", res.Status)
	}
	if res := c.PostForm("/forgot", url.Values{"email": {"not an address"}}); res.Status != 422 {
		t.Fatalf("forgot malformed: %d", res.Status)
	}
	if res := c.PostForm("/forgot", url.Values{"email": {email}}); res.Status != http.StatusSeeOther {
		t.Fatalf("forgot: %d", res.Status)
	}
	mails, err := a.Store.RecentMails(t.Context(), 10)
	if err != nil || len(mails) != 1 || mails[0].To != email {
		t.Fatalf("mails: %v %+v", err, mails)
	}
	links := apptest.Links(mails[0].Text)
	if len(links) != 1 || !strings.Contains(links[0], "/reset/") {
		t.Fatalf("no reset link in %q", mails[0].Text)
	}
	path := strings.TrimPrefix(links[0], "http://127.0.0.1:8080")
	if res := c.Get(path); res.Status != 200 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reset form: %d", res.Status)
	}
	if res := c.PostForm(path, url.Values{"password": {"short"}, "confirm": {"short"}}); res.Status != 422 {
		t.Fatalf("weak reset password: %d", res.Status)
	}
	if res := c.PostForm(path, url.Values{"password": {"my new long password"}, "confirm": {"my new long password"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("reset: %d", res.Status)
	}
	// The link is single-use, old sessions are gone, the new password works.
	if res := c.Get(path); res.Status != 404 {
		t.Fatalf("reset link reused: %d", res.Status)
	}
	if res := old.Get("/dashboard"); res.Status != http.StatusSeeOther {
		t.Fatal("old session survived a reset")
	}
	c.Login(email, "my new long password")
	// Delivery: the worker hands the mail to the (dev) mailer and marks it.
	if n := a.DeliverMails(t.Context()); n != 1 {
		t.Fatalf("delivered %d mails", n)
	}
	m, _ := a.Store.MailByID(t.Context(), mails[0].ID)
	if m.Status != models.MailSent {
		t.Fatalf("mail status %s", m.Status)
	}
}

// /dev/mail shows reset and claim links: an instance listening on loopback
// behind a proxy (the documented set-up) with a public BASE_URL and no SMTP
// yet must not serve it; a development instance (loopback BASE_URL) does.
func TestDevMailboxOnlyOnDevelopmentInstances(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base string
		want int
	}{
		{"https://gutschein.example", 404},
		{"http://127.0.0.1:8080", 200},
		{"http://localhost:8080", 200},
	} {
		env := apptest.BaseEnv(t, "sqlite")
		env["BASE_URL"] = tc.base
		env["ADDR"] = "127.0.0.1:8080"
		c := apptest.NewClient(t, apptest.NewApp(t, env).HTTP)
		if res := c.Get("/dev/mail"); res.Status != tc.want {
			t.Errorf("BASE_URL %s: /dev/mail %d, want %d", tc.base, res.Status, tc.want)
		}
		if res := c.Get("/"); (tc.want == 200) != strings.Contains(res.Body, `href="/dev/mail"`) {
			t.Errorf("BASE_URL %s: dev mailbox link shown: %v", tc.base, !(tc.want == 200))
		}
	}
}

// A reset link is good until the password changes: using one reset link,
// or changing the password on the account page, voids every other
// outstanding link of the account (a stale mail in a shared or compromised
// mailbox must not reopen it).
func TestPasswordResetVoidsOtherLinks(t *testing.T) {
	t.Parallel()
	for _, dialect := range apptest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			a := apptest.NewSeededApp(t, dialect)
			const email = "chefin@beispiel-verlag.example"
			c := apptest.NewClient(t, a.HTTP)
			seen := map[string]bool{}
			// requestReset asks for a reset link and returns its path.
			requestReset := func() string {
				t.Helper()
				if res := c.PostForm("/forgot", url.Values{"email": {email}}); res.Status != http.StatusSeeOther {
					t.Fatalf("forgot: %d", res.Status)
				}
				mails, err := a.Store.RecentMails(t.Context(), 1)
				if err != nil || len(mails) != 1 || mails[0].To != email {
					t.Fatalf("mails: %v %+v", err, mails)
				}
				links := apptest.Links(mails[0].Text)
				if len(links) != 1 || !strings.Contains(links[0], "/reset/") || seen[links[0]] {
					t.Fatalf("no new reset link in %q", mails[0].Text)
				}
				seen[links[0]] = true
				return strings.TrimPrefix(links[0], "http://127.0.0.1:8080")
			}
			first, second := requestReset(), requestReset()
			if res := c.Get(second); res.Status != 200 {
				t.Fatalf("second link before use: %d", res.Status)
			}
			const pw = "my new long password"
			if res := c.PostForm(first, url.Values{"password": {pw}, "confirm": {pw}}); res.Status != http.StatusSeeOther {
				t.Fatalf("reset: %d", res.Status)
			}
			// The other link gets the answer of a used or expired one.
			if res := c.Get(second); res.Status != 404 {
				t.Errorf("second link after a reset with the first: %d, want 404", res.Status)
			}
			if res := c.PostForm(second, url.Values{"password": {"taken over account"}, "confirm": {"taken over account"}}); res.Status != 404 {
				t.Errorf("second link used after a reset with the first: %d, want 404", res.Status)
			}
			c.Login(email, pw)

			// A password change on the account page voids earlier links too.
			third := requestReset()
			if res := c.Get(third); res.Status != 200 {
				t.Fatalf("third link before the change: %d", res.Status)
			}
			if res := c.PostForm("/account/password", url.Values{"current": {pw}, "new": {"changed on the account page"},
				"confirm": {"changed on the account page"}}); res.Status != http.StatusSeeOther {
				t.Fatalf("change password: %d %s", res.Status, res.Body)
			}
			if res := c.Get(third); res.Status != 404 {
				t.Errorf("reset link after a password change: %d, want 404", res.Status)
			}
			c.Login(email, "changed on the account page")
		})
	}
}

func TestSecureCookiesBehindTLS(t *testing.T) {
	t.Parallel()
	env := apptest.BaseEnv(t, "sqlite")
	env["BASE_URL"] = "https://gutschein.example"
	a := apptest.NewApp(t, env)
	if _, err := a.Store.CreateUser(t.Context(), models.NewUser{Email: "a@example.com", Password: goodPW}); err != nil {
		t.Fatal(err)
	}
	c := apptest.NewClient(t, a.HTTP)
	res := c.Get("/login")
	if ck := res.Cookie["__Host-tp_csrf"]; ck == nil || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("csrf cookie over https: %+v", res.Cookie)
	}
	c.Login("a@example.com", goodPW) // the form's token is checked against the __Host- cookie
	forged := apptest.NewClient(t, a.HTTP)
	forged.Jar["tp_csrf"] = &http.Cookie{Name: "tp_csrf", Value: c.CSRF()} // planted under the plain name
	if res := forged.PostForm("/login", url.Values{"_csrf": {c.CSRF()}, "email": {"a@example.com"}, "password": {goodPW}}); res.Status != http.StatusForbidden {
		t.Fatalf("a token under the plain cookie name over https: %d", res.Status)
	}
	// HSTS depends on how the request arrived: TestSecurityHeaders.
}
