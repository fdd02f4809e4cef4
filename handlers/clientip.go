package handlers

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIPKey is the Locals key under which ProxyTrust.Middleware leaves the
// request's client address.
const clientIPKey = "tp_client_ip"

// ProxyTrust finds the client address of a request that came through the
// operator's own proxies (TRUSTED_PROXIES). Rate limits, sessions and the
// access log key on it.
//
// Proxies append the address they received a request from to
// X-Forwarded-For ("client-supplied, …, real client, inner proxy"), so only
// the right end of the header is theirs: the client is the rightmost entry
// that is not one of the trusted proxies. Everything left of it was sent by
// the client and is ignored — taking the first entry, as Fiber's c.IP() does
// with ProxyHeader, would let anyone pick a fresh address (and so a fresh
// rate limit) per request. A request from a trusted proxy without a usable
// header keys on the proxy itself, never on an empty string.
type ProxyTrust struct {
	prefixes []netip.Prefix
}

// NewProxyTrust reads the TRUSTED_PROXIES entries (IPs or CIDRs, validated by
// the config loader); entries it cannot read are skipped.
func NewProxyTrust(entries []string) *ProxyTrust {
	p := &ProxyTrust{}
	for _, s := range entries {
		s = strings.TrimSpace(s)
		if pre, err := netip.ParsePrefix(s); err == nil {
			p.prefixes = append(p.prefixes, pre.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return p
}

func (p *ProxyTrust) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p.prefixes {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// parseForwardedAddr reads one X-Forwarded-For entry: an address, possibly
// with a port ("203.0.113.7:5123", "[2001:db8::1]:443").
func parseForwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// Resolve returns the client address of the request.
func (p *ProxyTrust) Resolve(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	peer = peer.Unmap()
	if len(p.prefixes) == 0 || !p.trusted(peer) {
		return peer.String()
	}
	client := peer
	header := c.Get(fiber.HeaderXForwardedFor)
	for header != "" {
		entry := header
		if i := strings.LastIndexByte(header, ','); i >= 0 {
			entry, header = header[i+1:], header[:i]
		} else {
			header = ""
		}
		a, ok := parseForwardedAddr(entry)
		if !ok {
			break // not written by a proxy of ours: stop at the last good hop
		}
		client = a
		if !p.trusted(a) {
			break
		}
	}
	return client.String()
}

// Middleware resolves the client address once per request for ClientIP.
func (p *ProxyTrust) Middleware(c *fiber.Ctx) error {
	c.Locals(clientIPKey, p.Resolve(c))
	return c.Next()
}

// ClientIP is the request's client address: the one ProxyTrust.Middleware
// resolved, or the peer's when it does not run (no TRUSTED_PROXIES).
func ClientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(clientIPKey).(string); ok {
		return ip
	}
	return c.IP()
}
