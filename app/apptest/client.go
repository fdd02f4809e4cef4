package apptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// Client drives the real router like a browser: it keeps cookies and sends
// the CSRF token with forms.
type Client struct {
	t    testing.TB
	app  *fiber.App
	Jar  map[string]*http.Cookie
	Head map[string]string // headers sent with every request
}

// NewClient starts a cookie-keeping client on app.
func NewClient(t testing.TB, app *fiber.App) *Client {
	return &Client{t: t, app: app, Jar: map[string]*http.Cookie{}, Head: map[string]string{}}
}

// Response is a fully read response.
type Response struct {
	Status int
	Header http.Header
	Body   string
	Cookie map[string]*http.Cookie
}

// Do sends a request through the router and reads the whole response.
func (c *Client) Do(req *http.Request) *Response {
	c.t.Helper()
	for k, v := range c.Head {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, v)
		}
	}
	for _, ck := range c.Jar {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	res, err := c.app.Test(req, -1)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	out := &Response{Status: res.StatusCode, Header: res.Header, Body: string(b), Cookie: map[string]*http.Cookie{}}
	for _, ck := range res.Cookies() {
		out.Cookie[ck.Name] = ck
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.Jar, ck.Name)
		} else {
			c.Jar[ck.Name] = ck
		}
	}
	return out
}

// Get fetches a path.
func (c *Client) Get(path string) *Response {
	c.t.Helper()
	return c.Do(httptest.NewRequest(http.MethodGet, path, nil))
}

// CSRF returns the current CSRF token, fetching the home page first if the
// client has none yet.
func (c *Client) CSRF() string {
	c.t.Helper()
	csrfCookie := func() (*http.Cookie, bool) {
		if ck, ok := c.Jar["tp_csrf"]; ok {
			return ck, true
		}
		ck, ok := c.Jar["__Host-tp_csrf"] // the app's name over https
		return ck, ok
	}
	if ck, ok := csrfCookie(); ok {
		return ck.Value
	}
	c.Get("/login")
	ck, ok := csrfCookie()
	if !ok {
		c.t.Fatal("no CSRF cookie after GET /login")
	}
	return ck.Value
}

// PostForm submits a form with the CSRF token.
func (c *Client) PostForm(path string, vals url.Values) *Response {
	c.t.Helper()
	if vals == nil {
		vals = url.Values{}
	}
	if vals.Get("_csrf") == "" {
		vals.Set("_csrf", c.CSRF())
	}
	return c.PostRaw(path, vals)
}

// PostRaw submits a form exactly as given (no CSRF token added).
func (c *Client) PostRaw(path string, vals url.Values) *Response {
	c.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// Login logs in and fails the test unless it succeeds.
func (c *Client) Login(email, password string) {
	c.t.Helper()
	res := c.PostForm("/login", url.Values{"email": {email}, "password": {password}})
	if res.Status != http.StatusSeeOther {
		c.t.Fatalf("login %s: status %d\n%s", email, res.Status, res.Body)
	}
}

var linkRe = regexp.MustCompile(`https?://[^\s"<]+`)

// Links returns the absolute URLs in a text.
func Links(s string) []string { return linkRe.FindAllString(s, -1) }
