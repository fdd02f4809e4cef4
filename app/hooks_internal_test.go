package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
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
