package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
)

// The delivery log a company sees names the cause in a few words and never
// the raw error with the operator's resolver or internal addresses.
func TestHookFailureText(t *testing.T) {
	t.Parallel()
	resolver := "10.255.255.53:53"
	cases := []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x", Server: resolver}}, "host not found (DNS)"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "connection refused"},
		{fmt.Errorf("webhook target 10.0.0.7: %w", errNotPublic), "refused: not a public address (loopback, private or link-local)"},
		{fmt.Errorf("Post: %w", context.DeadlineExceeded), "timeout: no answer within 10 s"},
		{fmt.Errorf("tls: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "hooks.example"}), "TLS error: certificate not valid for this host"},
		{hookStatusError("500 Internal Server Error"), "endpoint answered 500 Internal Server Error"},
		{errors.New("something odd at 10.1.2.3:8443"), "network error"},
	}
	for _, c := range cases {
		got := hookFailureText(c.err)
		if got != c.want {
			t.Errorf("%v: got %q, want %q", c.err, got, c.want)
		}
		if strings.Contains(got, "10.") {
			t.Errorf("%q leaks an address", got)
		}
	}
}

// The SSRF guard refuses, at connect time, every address that is not
// globally routable: CGNAT (cloud metadata services), NAT64 and 6to4
// addresses carrying a loopback IPv4 address, benchmarking ranges.
func TestHookClientRefusesNonPublic(t *testing.T) {
	t.Parallel()
	client := hookClient(false)
	for _, u := range []string{
		"http://100.64.0.1:9/", "http://100.100.100.200:9/", "http://[64:ff9b::7f00:1]:9/",
		"http://[2002:7f00:1::1]:9/", "http://198.18.0.1:9/", "http://127.0.0.1:9/", "http://[::ffff:127.0.0.1]:9/",
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
		}
		if !errors.Is(err, errNotPublic) {
			t.Errorf("%s: got %v, want the not-public refusal", u, err)
		}
	}
}

func TestPublicIP(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "100.64.0.1", "100.100.100.200", "100.127.255.255", "127.0.0.1",
		"169.254.169.254", "172.16.0.1", "192.0.0.8", "192.0.2.1", "192.168.1.1", "198.18.0.1", "198.19.255.255",
		"198.51.100.7", "203.0.113.9", "224.0.0.1", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
		"64:ff9b:1::808:808", "2002:7f00:1::1", "2002:808:808::1", "2001::1", "2001:db8::1", "fc00::1", "fd00::1",
		"fe80::1", "fe80::1%eth0", "fec0::1", "ff02::1", "100::1",
	} {
		if publicIP(netip.MustParseAddr(s)) {
			t.Errorf("%s counted as public", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "198.20.0.1", "::ffff:8.8.8.8",
		"64:ff9b::808:808", "2606:4700:4700::1111", "2a00:1450:4001:82b::200e"} {
		if !publicIP(netip.MustParseAddr(s)) {
			t.Errorf("%s refused though public", s)
		}
	}
}
