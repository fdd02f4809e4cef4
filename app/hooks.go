package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"trostpflaster/models"
)

// hookClient posts outgoing webhooks. Unless private targets are allowed
// (development, tests), it refuses to connect to loopback, private and
// link-local addresses, so a company cannot make the server call into the
// operator's own network (SSRF); the check runs on the resolved address at
// connect time, so DNS tricks do not get around it.
func hookClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
				return fmt.Errorf("webhook target %s: %w", host, errNotPublic)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 5 * time.Second, MaxIdleConns: 10},
		// Redirects are not followed: the endpoint must answer itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// DeliverHooks sends every due outgoing webhook once, signed with the
// endpoint's secret: header Trostpflaster-Signature: t=<unix>,v1=<hex
// HMAC-SHA256(secret, "<unix>." + body)>. 2xx is delivered; anything else is
// retried with backoff.
func (a *App) DeliverHooks(ctx context.Context) int {
	sent := 0
	for ctx.Err() == nil {
		jobs, err := a.Store.ClaimHookDeliveries(ctx, 20, jobLease)
		if err != nil {
			if ctx.Err() == nil {
				a.Log.Warn("claiming webhook deliveries failed", "err", err)
			}
			return sent
		}
		if len(jobs) == 0 {
			return sent
		}
		for i, j := range jobs {
			if ctx.Err() != nil {
				a.releaseHooks(jobs[i:])
				return sent
			}
			// A delivery under way when shutdown begins is finished and
			// recorded (see DeliverMails).
			bg := context.WithoutCancel(ctx)
			status, err := a.postHook(bg, j.URL, j.Secret, []byte(j.Delivery.Payload))
			if err != nil {
				a.Log.Warn("webhook delivery failed", "delivery_id", j.Delivery.ID, "status", status, "err", err)
				a.Metrics.HookFailed()
				if ferr := a.Store.HookFailed(bg, j.Delivery, status, hookFailureText(err)); ferr != nil {
					a.Log.Error("recording webhook failure", "err", ferr)
				}
				continue
			}
			if err := a.Store.HookDelivered(bg, j.Delivery.ID, status); err != nil {
				a.Log.Error("recording webhook delivery", "err", err)
			}
			sent++
		}
	}
	return sent
}

func (a *App) releaseHooks(jobs []models.HookJob) {
	ids := make([]uint, len(jobs))
	for i, j := range jobs {
		ids[i] = j.Delivery.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Store.ReleaseHookDeliveries(ctx, ids); err != nil {
		a.Log.Warn("releasing claimed webhook deliveries", "err", err)
	}
}

func (a *App) postHook(ctx context.Context, url, secret string, body []byte) (int, error) {
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Trostpflaster-Webhooks/1")
	req.Header.Set("Trostpflaster-Signature", "t="+strconv.FormatInt(ts, 10)+",v1="+models.SignHook(secret, ts, body))
	res, err := a.hooks.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, hookStatusError(res.Status)
	}
	return res.StatusCode, nil
}

// errNotPublic marks a webhook target refused by the SSRF guard.
var errNotPublic = errors.New("not a public address")

// hookFailureText is what the company's delivery log shows for a failed
// delivery: the cause in a few words, never the raw Go error (which names
// the operator's resolver, internal addresses and ports; the full error
// goes to the server log).
func hookFailureText(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, errNotPublic):
		return "refused: not a public address (loopback, private or link-local)"
	case errors.As(err, &dnsErr):
		return "host not found (DNS)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the endpoint"
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &recErr):
		return "TLS error: certificate not valid for this host"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timeout: no answer within 10 s"
	}
	var statusErr hookStatusError
	if errors.As(err, &statusErr) {
		return "endpoint answered " + string(statusErr)
	}
	return "network error"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// hookStatusError is a non-2xx answer ("500 Internal Server Error").
type hookStatusError string

func (e hookStatusError) Error() string { return "endpoint answered " + string(e) }
