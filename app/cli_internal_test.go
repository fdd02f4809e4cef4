package app

import (
	"bytes"
	"strings"
	"testing"
)

// Every subcommand in the table answers -h and --help with its own usage
// and exit code 0 (before any configuration is read), and the shared help,
// on `help` and after an unknown subcommand, lists each with its summary.
func TestCLICommandTable(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(args, noEnv, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, list, errs := cli("help")
	if code != 0 || errs != "" || !strings.HasPrefix(list, "Trostpflaster — ") {
		t.Fatalf("help: exit %d, stdout %q, stderr %q", code, list, errs)
	}
	listed := func(list string, cmd command) bool {
		for _, line := range strings.Split(list, "\n") {
			if rest, ok := strings.CutPrefix(line, "  "+cmd.name+"  "); ok && strings.TrimLeft(rest, " ") == cmd.summary {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	for _, cmd := range commands() {
		if seen[cmd.name] || cmd.summary == "" || strings.Contains(cmd.summary, "\n") {
			t.Errorf("%q: names are unique, summaries one line", cmd.name)
		}
		seen[cmd.name] = true
		if !listed(list, cmd) {
			t.Errorf("help does not list %q with %q:\n%s", cmd.name, cmd.summary, list)
		}
		for _, h := range []string{"-h", "--help"} {
			args := append(strings.Fields(cmd.name), h)
			code, out, errs := cli(args...)
			if code != 0 || out != "" || !strings.HasPrefix(errs, "Usage: trostpflaster "+cmd.name) {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
			}
		}
	}

	for _, unknown := range [][]string{{"frobnicate"}, {"user"}, {"ledger", "balance"}} {
		code, out, errs := cli(unknown...)
		want := list + "error: unknown command \"" + strings.Join(unknown, " ") + "\"\n"
		if code != 1 || out != "" || errs != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", unknown, code, out, errs)
		}
	}
}
