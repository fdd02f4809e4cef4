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
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"trostpflaster/models"
)

// hookClient posts outgoing webhooks. Unless private targets are allowed
// (development, tests), it refuses to connect to any address that is not
// public (publicIP: loopback, private, link-local, CGNAT, reserved, ...), so
// a company cannot make the server call into the operator's own network (SSRF); the check runs on the resolved address at
// connect time, so DNS tricks do not get around it.
func hookClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !publicIP(ip) {
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

// nonPublic lists the special-purpose ranges (IANA registries) a webhook
// must not reach beyond what netip's predicates cover: shared address space
// (CGNAT, where cloud metadata services such as 100.100.100.200 live),
// "this network", IETF protocol assignments, benchmarking, documentation,
// reserved and broadcast; on IPv6 the deprecated IPv4-compatible and
// site-local ranges, discard, documentation and the transition prefixes
// whose embedded IPv4 address is reached through a relay (6to4, Teredo,
// local-use NAT64).
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"::/96", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16", "64:ff9b:1::/48", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// nat64 is the well-known NAT64 prefix: its last 32 bits are an IPv4
// address, judged like that address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// publicIP reports whether a webhook may connect to ip: a globally routable
// unicast address, not loopback, private, link-local, multicast,
// unspecified or one of the special-purpose ranges above. IPv4-mapped and
// NAT64 addresses are judged by the IPv4 address they carry.
func publicIP(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
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
