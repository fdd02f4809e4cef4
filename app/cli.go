package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"trostpflaster/models"
)

// A command is one subcommand of the trostpflaster binary: the words an
// operator types ("serve", "user create"), the line `trostpflaster help`
// shows for it, and the function that parses its own flags (with its own
// -h text) and runs it. Each lives in cli_<subcommand>.go.
type command struct {
	name    string
	summary string
	run     func(c *cli, args []string) error
}

// commands is the table of subcommands in the order help lists them; a
// new subcommand is one line here and one function in its own file.
func commands() []command {
	return []command{
		{"serve", "run the web server and background worker (default)", runServe},
		{"demo", "migrate, seed the demo region and serve (no keys needed)", runDemo},
		{"migrate", "bring the database schema up to date", runMigrate},
		{"seed-demo", "create the demo region, partners and logins (idempotent)", runSeedDemo},
		{"user create", "create a user (e.g. a platform admin)", runUserCreate},
		{"apikey create", "create an API key for a company or merchant", runAPIKeyCreate},
		{"credit grant", "book an invoice payment as company credit", runCreditGrant},
		{"ledger verify", "check every ledger invariant (exit 1 when one is broken)", runLedgerVerify},
		{"settle", "pay merchants their redeemed balances (Stripe transfers)", runSettle},
		{"merchant connect", "create a merchant's Stripe account and print its onboarding link", runMerchantConnect},
		{"stripe-events retry", "process stored Stripe events whose processing failed again", runStripeEventsRetry},
		{"backup", "write a consistent copy of the SQLite database (--to FILE)", runBackup},
	}
}

const usageHead = `Trostpflaster — a regional partner-voucher marketplace.

Usage: trostpflaster <command> [flags]

Commands:
`

const usageTail = `
Each command has --help. Configuration comes from the environment: ADDR
(listen address, default 127.0.0.1:8080), BASE_URL, DATABASE_URL, SECRET_KEY,
STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE, SMTP_URL, MAIL_FROM,
TRUSTED_PROXIES, REDIS_URL, REDIS_PREFIX, METRICS_TOKEN, BCRYPT_COST,
SETTLEMENT_MIN_CENTS, RETENTION_DAYS, WEBHOOKS_ALLOW_PRIVATE,
CLAIM_PAGE_CACHE_BYTES (see docs/configuration.md).
`

// printUsage writes the shared help: what the binary is, the table of
// subcommands with their summaries, and where configuration comes from.
func printUsage(w io.Writer, table []command) {
	var b strings.Builder
	b.WriteString(usageHead)
	for _, cmd := range table {
		// Names longer than the column keep two spaces before the summary.
		fmt.Fprintf(&b, "  %-14s  %s\n", cmd.name, cmd.summary)
	}
	b.WriteString(usageTail)
	fmt.Fprint(w, b.String())
}

// Main runs the command line and returns the process exit code.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := run(args, getenv, stdout, stderr)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}

// exitError ends the process with code without printing an error line (the
// command has already said what is wrong, as ledger verify does).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run finds the subcommand named by the first argument (or the first two,
// for "user create" and the like; no argument means serve) and runs it.
// An unknown one prints the table to stderr.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	table := commands()
	name := "serve"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	if isCommandGroup(table, name) && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = name+" "+args[0], args[1:]
	}
	switch name {
	case "help", "-h", "--help":
		printUsage(stdout, table)
		return nil
	}
	c := &cli{
		ctx:    context.Background(),
		getenv: getenv,
		stdout: stdout,
		stderr: stderr,
		log:    slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	for _, cmd := range table {
		if cmd.name == name {
			return cmd.run(c, args)
		}
	}
	printUsage(stderr, table)
	return fmt.Errorf("unknown command %q", name)
}

// isCommandGroup reports whether word is the first of a two-word command
// ("user" of "user create").
func isCommandGroup(table []command, word string) bool {
	for _, cmd := range table {
		if strings.HasPrefix(cmd.name, word+" ") {
			return true
		}
	}
	return false
}

// cli is what every subcommand gets: the process's environment and output
// streams, a JSON logger on stderr, and a way to open the app.
type cli struct {
	ctx            context.Context
	getenv         func(string) string
	stdout, stderr io.Writer
	log            *slog.Logger
}

// open loads the configuration (demo: with the demo defaults and a secret
// key under data/) and opens the app, which applies pending migrations.
func (c *cli) open(demo bool) (*App, error) {
	cfg, err := LoadConfig(c.getenv, demo)
	if err != nil {
		return nil, err
	}
	return New(cfg, c.log)
}

// flagSet makes a subcommand's flag set. usage is its help text, printed
// to stderr with the flags' defaults on -h, on a bad flag, and when the
// command finds a required flag missing.
func (c *cli) flagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// describe turns validation errors into a readable line for the terminal.
func describe(err error) error {
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return fmt.Errorf("invalid input: %s", strings.TrimPrefix(v.Error(), "validation failed: "))
	}
	return err
}
