package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"trostpflaster/models"
)

const usage = `Trostpflaster — a regional partner-voucher marketplace.

Usage: trostpflaster <command> [flags]

Commands:
  serve           run the web server and background worker (default)
  demo            migrate, seed the demo region and serve (no keys needed)
  migrate         bring the database schema up to date
  seed-demo       create the demo region, partners and logins (idempotent)
  user create     create a user (e.g. a platform admin)
  apikey create   create an API key for a company or merchant
  credit grant    book an invoice payment as company credit
  ledger verify   check every ledger invariant (exit 1 when one is broken)
  settle          pay merchants their redeemed balances (Stripe transfers)
  merchant connect  create a merchant's Stripe account and print its onboarding link
  stripe-events retry  process stored Stripe events whose processing failed again
  backup          write a consistent copy of the SQLite database (--to FILE)

Each command has --help. Configuration comes from the environment: ADDR
(listen address, default 127.0.0.1:8080), BASE_URL, DATABASE_URL, SECRET_KEY,
STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE, SMTP_URL, MAIL_FROM,
TRUSTED_PROXIES, REDIS_URL, REDIS_PREFIX, METRICS_TOKEN, BCRYPT_COST,
SETTLEMENT_MIN_CENTS, RETENTION_DAYS, WEBHOOKS_ALLOW_PRIVATE (see README.md).
`

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

type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if (cmd == "user" || cmd == "apikey" || cmd == "credit" || cmd == "ledger" || cmd == "merchant" || cmd == "stripe-events") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = cmd+" "+args[0], args[1:]
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	open := func(demo bool) (*App, error) {
		cfg, err := LoadConfig(getenv, demo)
		if err != nil {
			return nil, err
		}
		return New(cfg, log)
	}
	ctx := context.Background()

	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve", "demo":
		fs.Usage = func() {
			fmt.Fprintf(stderr, "Usage: trostpflaster %s\n\n", cmd)
			if cmd == "demo" {
				fmt.Fprintln(stderr, "Migrates, seeds the demo region and serves it. Uses data/ for the SQLite file and a generated secret key.")
			} else {
				fmt.Fprintln(stderr, "Serves the marketplace on ADDR and runs the background worker. Needs SECRET_KEY.")
			}
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		SetServerMemoryLimit(os.Getenv)
		a, err := open(cmd == "demo")
		if err != nil {
			return err
		}
		defer a.Close()
		if cmd == "demo" {
			logins, err := SeedDemo(ctx, a.Store, a.Places)
			if err != nil {
				return err
			}
			printDemo(stdout, a.Cfg, logins)
		}
		sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return a.Serve(sctx)
	case "migrate":
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: trostpflaster migrate\n\nApplies pending schema migrations and exits.")
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		a, err := open(false)
		if err != nil {
			return err
		}
		defer a.Close()
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "seed-demo":
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: trostpflaster seed-demo\n\nCreates the demo region, partners, company and logins. Safe to run again.")
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		a, err := open(getenv("SECRET_KEY") == "")
		if err != nil {
			return err
		}
		defer a.Close()
		logins, err := SeedDemo(ctx, a.Store, a.Places)
		if err != nil {
			return err
		}
		printDemo(stdout, a.Cfg, logins)
		return nil
	case "user create":
		email := fs.String("email", "", "e-mail address (required)")
		name := fs.String("name", "", "display name")
		role := fs.String("role", "admin", "admin (platform admin) or none")
		password := fs.String("password", "", "password (default: read from the environment variable TP_PASSWORD, else generated and printed)")
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: trostpflaster user create --email ADDRESS [--role admin] [--name NAME]")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *email == "" {
			fs.Usage()
			return errors.New("--email is required")
		}
		if *role != "admin" && *role != "none" {
			return errors.New("--role must be admin or none")
		}
		pw := *password
		generated := false
		if pw == "" {
			pw = getenv("TP_PASSWORD")
		}
		if pw == "" {
			pw, generated = randomPassword(), true
		}
		a, err := open(false)
		if err != nil {
			return err
		}
		defer a.Close()
		u, err := a.Store.CreateUser(ctx, models.NewUser{Email: *email, Name: *name, Password: pw, PlatformAdmin: *role == "admin"})
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "created user %d <%s> role=%s\n", u.ID, u.Email, *role)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return nil
	case "apikey create":
		company := fs.String("company", "", "company slug")
		merchant := fs.String("merchant", "", "merchant slug")
		name := fs.String("name", "cli", "a name to recognise the key by")
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: trostpflaster apikey create --company SLUG | --merchant SLUG [--name NAME]\n\nPrints the new key alone on the last line; only its hash is stored.")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		if (*company == "") == (*merchant == "") {
			fs.Usage()
			return errors.New("give exactly one of --company or --merchant")
		}
		a, err := open(false)
		if err != nil {
			return err
		}
		defer a.Close()
		var cid, mid *uint
		if *company != "" {
			c, err := a.Store.CompanyBySlug(ctx, *company)
			if err != nil {
				return fmt.Errorf("company %q: %w", *company, err)
			}
			cid = &c.ID
		} else {
			m, err := a.Store.MerchantBySlug(ctx, *merchant)
			if err != nil {
				return fmt.Errorf("merchant %q: %w", *merchant, err)
			}
			mid = &m.ID
		}
		key, k, err := a.Store.CreateAPIKey(ctx, cid, mid, *name, models.ActorCLI)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "created API key %d (%s…), shown once:\n%s\n", k.ID, k.Prefix, key)
		return nil
	case "credit grant":
		company := fs.String("company", "", "company slug (required)")
		amount := fs.Int64("amount-cents", 0, "amount in cents, e.g. 50000 for 500,00 € (required)")
		ref := fs.String("reference", "", "invoice number; repeating a grant with the same reference books nothing")
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: trostpflaster credit grant --company SLUG --amount-cents N [--reference INVOICE]\n\nBooks a paid invoice as company credit (cash:invoice → company credit).")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *company == "" || *amount <= 0 {
			fs.Usage()
			return errors.New("--company and a positive --amount-cents are required")
		}
		a, err := open(false)
		if err != nil {
			return err
		}
		defer a.Close()
		c, err := a.Store.CompanyBySlug(ctx, *company)
		if err != nil {
			return fmt.Errorf("company %q: %w", *company, err)
		}
		idem := ""
		if *ref != "" {
			idem = "invoice:" + c.Slug + ":" + *ref
		}
		lt, err := a.Store.GrantCredit(ctx, c.ID, *amount, idem, "invoice "+*ref, models.ActorCLI)
		if err != nil {
			return describe(err)
		}
		bal, err := a.Store.AccountBalance(ctx, models.AccountCompanyCredit(c.ID))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "booked ledger transaction %d; %s credit is now %d cents\n", lt.ID, c.Slug, bal)
		return nil
	case "backup":
		to := fs.String("to", "", "file to write the copy to; must not exist (required)")
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: trostpflaster backup --to FILE\n\nWrites a consistent copy of the SQLite database while the server runs\n(VACUUM INTO). Never overwrites a file. For PostgreSQL use pg_dump.")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *to == "" {
			fs.Usage()
			return errors.New("--to is required")
		}
		// No secret is needed to copy the file, and no migrations run.
		cfg, err := LoadConfig(getenv, true)
		if err != nil {
			return err
		}
		if err := BackupSQLite(ctx, cfg, log, *to); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "backup written to %s\n", *to)
		return nil
	case "settle":
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: trostpflaster settle\n\nPays merchants their redeemed balances by Stripe transfer (one per merchant and run; safe to re-run after a crash).")
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		a, err := open(false)
		if err != nil {
			return err
		}
		defer a.Close()
		r, err := a.Settle(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "settled: %d paid (%d cents), %d refused by Stripe\n", r.Paid, r.PaidCents, r.Failed)
		return nil
	case "ledger verify":
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: trostpflaster ledger verify\n\nChecks every ledger invariant; prints ok and exits 0, or lists what is wrong and exits 1.")
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		a, err := open(false)
		if err != nil {
			return err
		}
		defer a.Close()
		problems, err := a.Store.VerifyLedger(ctx)
		if err != nil {
			return err
		}
		if len(problems) == 0 {
			fmt.Fprintln(stdout, "ok")
			return nil
		}
		for _, p := range problems {
			fmt.Fprintln(stdout, p.String())
		}
		return exitError{1}
	}
	if handled, err := runStripeEventsCommand(ctx, cmd, args, fs, open, stdout, stderr); handled {
		return err
	}
	if handled, err := runStripeCommand(ctx, cmd, args, fs, open, stdout, stderr, log); handled {
		return err
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// describe turns validation errors into a readable line for the terminal.
func describe(err error) error {
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return fmt.Errorf("invalid input: %s", strings.TrimPrefix(v.Error(), "validation failed: "))
	}
	return err
}

func randomPassword() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)
}
