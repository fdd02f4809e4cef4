// Command bench measures Trostpflaster on this machine (`make bench`).
//
// It seeds a SQLite database in a temporary directory (the demo region plus
// -merchants approved partners spread over real German postcodes), starts
// the real app as a child process on loopback (so its peak RSS is its own),
// and drives it with a bounded load generator of -conns keep-alive
// connections for -duration per scenario: closed loop (each connection
// sends its next request when the previous one answered) for throughput,
// open loop (a fixed rate, latency from each request's planned time) for the
// p99 targets; see load in bench/load.go. Every figure is compared with a
// baseline measured in the same run: a bare Fiber handler in the same child
// process that reads one SQLite row by primary key (and, for writes, one
// durable UPDATE + INSERT transaction); open-loop rates are fractions of it.
//
// It prints a table and writes a JSON summary (-out) so runs can be compared
// across commits. New scenarios (claim page, redemption, bulk send) are
// one line each in scenarioList (bench/load.go). After the run the ledger
// is verified, as `trostpflaster ledger verify` does.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options are the command-line settings of a run.
type Options struct {
	Duration  time.Duration
	Warmup    time.Duration
	Conns     int
	Merchants int
	Out       string
	Only      string
	// BulkMails waits for the whole bulk mailing (about 200 s: it is paced).
	BulkMails bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve-child" {
		os.Exit(serveChild(os.Args[2:]))
	}
	var o Options
	flag.DurationVar(&o.Duration, "duration", 5*time.Second, "measuring time per scenario")
	flag.DurationVar(&o.Warmup, "warmup", 500*time.Millisecond, "unmeasured load before each scenario")
	flag.IntVar(&o.Conns, "conns", 64, "concurrent connections (closed loop; the most in flight in open loop)")
	flag.IntVar(&o.Merchants, "merchants", 10000, "approved merchants to seed")
	flag.StringVar(&o.Out, "out", "bench/results/latest.json", "JSON summary to write (empty: none)")
	flag.StringVar(&o.Only, "only", "", "comma-separated scenario names to run (default: all)")
	flag.BoolVar(&o.BulkMails, "bulk-mails", true, "after the bulk scenarios, wait until every mail of the batch is out (paced at 100 a second)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o Options) error {
	dir, err := os.MkdirTemp("", "trostpflaster-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := benchEnv(dir)

	t0 := time.Now()
	fx, err := seed(ctx, env, o.Merchants)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("seeded %d merchants in %.1f s (SQLite in %s)\n", o.Merchants, time.Since(t0).Seconds(), dir)

	srv, err := startChild(ctx, env, dir)
	if err != nil {
		return err
	}
	defer srv.stop()

	sum := Summary{
		Commit:    gitCommit(),
		Date:      time.Now().UTC().Format(time.RFC3339),
		GoVersion: runtime.Version(),
		CPUs:      runtime.NumCPU(),
		Duration:  o.Duration.String(),
		Merchants: o.Merchants,
	}
	results, err := runScenarios(ctx, o, srv, fx, &sum)
	if err != nil {
		return err
	}
	if o.Only == "" || contains(strings.Split(o.Only, ","), "bulk") { // bench/bulk.go
		rs, err := benchBulk(ctx, env, srv, fx, o, results)
		if err != nil {
			return fmt.Errorf("bulk: %w", err)
		}
		sum.Scenarios = append(sum.Scenarios, rs...)
	}
	sum.PeakRSSMB = srv.peakRSSMB()
	srv.stop()
	problems, err := verifyLedger(ctx, env)
	if err != nil {
		return fmt.Errorf("ledger verify: %w", err)
	}
	sum.LedgerOK, sum.LedgerProblems = len(problems) == 0, problems
	sum.RSSTargetMB = 150
	sum.RSSPass = sum.PeakRSSMB < sum.RSSTargetMB
	printTable(os.Stdout, sum)
	return writeSummary(o.Out, sum)
}

// runScenarios runs the scenarios of scenarioList (those -only names, and
// every baseline) against the child, appends their results to sum and
// returns them by name.
func runScenarios(ctx context.Context, o Options, srv *child, fx *Fixtures, sum *Summary) (map[string]*Result, error) {
	results := map[string]*Result{}
	for _, sc := range scenarios(fx) {
		if o.Only != "" && sc.Server != "baseline" && !contains(strings.Split(o.Only, ","), sc.Name) {
			continue
		}
		conns := o.Conns
		if sc.Conns > 0 && sc.Conns < conns {
			conns = sc.Conns
		}
		base := srv.appURL
		if sc.Server == "baseline" {
			base = srv.baselineURL
		}
		rate := 0.0
		if sc.RateOf > 0 {
			b := results[sc.Baseline]
			if b == nil || b.Throughput == 0 {
				return nil, fmt.Errorf("%s: its baseline %q has not run", sc.Name, sc.Baseline)
			}
			rate = sc.RateOf * b.Throughput
			fmt.Printf("running %-20s open loop at %.0f req/s (%.2f × %s), up to %d conns, %s …\n", sc.Name, rate, sc.RateOf, sc.Baseline, conns, o.Duration)
		} else {
			fmt.Printf("running %-20s %d conns, %s …\n", sc.Name, conns, o.Duration)
		}
		cpu0 := srv.cpuSeconds()
		r, err := load(ctx, base, sc, conns, rate, o.Warmup, o.Duration)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.Name, err)
		}
		r.setServerCPU(srv.cpuSeconds() - cpu0)
		if b := results[sc.Baseline]; b != nil && b.Throughput > 0 && rate == 0 {
			r.Baseline = sc.Baseline
			r.Ratio = r.Throughput / b.Throughput
		}
		r.PeakRSSMB = srv.peakRSSMB()
		r.judge(sc.Target)
		results[sc.Name] = r
		sum.Scenarios = append(sum.Scenarios, r)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return results, nil
}

// writeSummary writes the run's JSON summary to path (-out; empty: none).
func writeSummary(path string, sum Summary) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("summary written to %s\n", path)
	return nil
}

func benchEnv(dir string) []string {
	return []string{
		"DATABASE_URL=sqlite:" + filepath.Join(dir, "bench.db"),
		"SECRET_KEY=" + strings.Repeat("be", 32),
		"BCRYPT_COST=4",
		"ADDR=127.0.0.1:0",
		"BASE_URL=http://127.0.0.1:8080",
	}
}

func getenvFrom(env []string) func(string) string {
	return func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
}

// child is the server process under test.
type child struct {
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	appURL      string
	baselineURL string
	once        sync.Once
}

// startChild re-executes this binary as the server and waits for it to
// print its addresses. The child exits when its stdin closes, so it never
// outlives the benchmark.
func startChild(ctx context.Context, env []string, dir string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "serve-child")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "READY" {
				c.appURL, c.baselineURL = "http://"+f[1], "http://"+f[2]
				ready <- nil
				io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- fmt.Errorf("server exited before it was ready; see %s", logf.Name())
	}()
	select {
	case err := <-ready:
		if err != nil {
			c.stop()
			return nil, err
		}
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, fmt.Errorf("server did not start in 30 s")
	}
	return c, nil
}

func (c *child) stop() {
	c.once.Do(func() {
		c.stdin.Close()
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	})
}

// cpuSeconds is the CPU time (user + system) the child has used so far.
func (c *child) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name in parentheses; utime and stime
	// are the 14th and 15th fields, in clock ticks (100 a second on Linux).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// peakRSSMB reads the child's high-water mark of resident memory.
func (c *child) peakRSSMB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		commit += "+dirty"
	}
	return commit
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
