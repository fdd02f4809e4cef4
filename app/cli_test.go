package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

func runCLI(t *testing.T, env apptest.Env, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := app.Main(args, env.Get, &out, &errb)
	return code, out.String(), errb.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestCLI(t *testing.T) {
	t.Parallel()
	env := apptest.BaseEnv(t, "sqlite")

	for _, args := range [][]string{{"--help"}, {"migrate", "--help"}, {"user", "create", "--help"}, {"apikey", "create", "--help"}, {"credit", "grant", "--help"}, {"ledger", "verify", "--help"}, {"seed-demo", "--help"}, {"serve", "--help"}, {"demo", "--help"}} {
		if code, out, errs := runCLI(t, env, args...); code != 0 || out+errs == "" {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	if code, _, errs := runCLI(t, env, "frobnicate"); code != 1 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, apptest.Env{}, "migrate"); code != 1 || !strings.Contains(errs, "SECRET_KEY is required") {
		t.Errorf("missing secret: %d %s", code, errs)
	}

	if code, out, errs := runCLI(t, env, "migrate"); code != 0 || !strings.Contains(out, "migrations applied") {
		t.Fatalf("migrate: %d %s %s", code, out, errs)
	}
	for i := 0; i < 2; i++ { // idempotent
		if code, out, errs := runCLI(t, env, "seed-demo"); code != 0 || !strings.Contains(out, "chefin@beispiel-verlag.example") {
			t.Fatalf("seed-demo #%d: %d %s %s", i, code, out, errs)
		}
	}

	env2 := apptest.Env{}
	for k, v := range env {
		env2[k] = v
	}
	env2["TP_PASSWORD"] = "operator password 1"
	if code, out, errs := runCLI(t, env2, "user", "create", "--email", "Ops@Example.com", "--role", "admin"); code != 0 || !strings.Contains(out, "ops@example.com") {
		t.Fatalf("user create: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, env2, "user", "create", "--email", "ops@example.com"); code != 1 || !strings.Contains(errs, "email") {
		t.Fatalf("duplicate user: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, env, "user", "create", "--email", "not-an-address"); code != 1 {
		t.Fatal("bad e-mail accepted")
	}

	code, out, errs := runCLI(t, env, "apikey", "create", "--company", "beispiel-verlag", "--name", "Zendesk")
	key := lastLine(out)
	if code != 0 || !strings.HasPrefix(key, models.APIKeyPrefix) || len(key) < 40 {
		t.Fatalf("apikey: %d %q %s", code, out, errs)
	}
	if code, out, _ := runCLI(t, env, "apikey", "create", "--merchant", "radhaus-flingern"); code != 0 || lastLine(out) == key {
		t.Fatal("merchant key")
	}
	if code, _, _ := runCLI(t, env, "apikey", "create", "--company", "nope"); code != 1 {
		t.Fatal("key for unknown company")
	}
	if code, _, _ := runCLI(t, env, "apikey", "create"); code != 1 {
		t.Fatal("key without owner")
	}

	if code, out, errs := runCLI(t, env, "credit", "grant", "--company", "beispiel-verlag", "--amount-cents", "12345", "--reference", "RE-1"); code != 0 || !strings.Contains(out, "62345 cents") {
		t.Fatalf("credit grant: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCLI(t, env, "credit", "grant", "--company", "beispiel-verlag", "--amount-cents", "12345", "--reference", "RE-1"); code != 0 || !strings.Contains(out, "62345 cents") {
		t.Fatalf("repeated invoice booked twice: %s", out)
	}
	for _, bad := range [][]string{{"--company", "beispiel-verlag", "--amount-cents", "-5"}, {"--company", "beispiel-verlag", "--amount-cents", "zwölf"}, {"--company", "ghost", "--amount-cents", "100"}} {
		if code, _, _ := runCLI(t, env, append([]string{"credit", "grant"}, bad...)...); code == 0 {
			t.Errorf("credit grant %v succeeded", bad)
		}
	}
	if code, out, _ := runCLI(t, env, "ledger", "verify"); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("ledger verify: %d %q", code, out)
	}

	// The database holds no API key or session token in clear.
	a := apptest.NewApp(t, env)
	c := apptest.NewClient(t, a.HTTP)
	c.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	session := c.Jar["tp_session"].Value
	a.Close()
	path := strings.TrimPrefix(env["DATABASE_URL"], "sqlite:")
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(key)) || bytes.Contains(b, []byte(key[len(models.APIKeyPrefix)+6:])) || bytes.Contains(b, []byte(session)) {
			t.Fatalf("%s contains a secret in clear", filepath.Base(f))
		}
	}

	// Broken books: exit 1 and say what is wrong.
	b := apptest.NewApp(t, env)
	b.DB.Exec("UPDATE ledger_accounts SET balance = balance + 99 WHERE code = 'cash:invoice'")
	b.Close()
	if code, out, _ := runCLI(t, env, "ledger", "verify"); code != 1 || !strings.Contains(out, "cash:invoice") {
		t.Fatalf("ledger verify on broken books: %d %q", code, out)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	bad := apptest.Env{"ADDR": "nonsense", "BASE_URL": "ftp://x", "DATABASE_URL": "mysql://x", "SECRET_KEY": "short",
		"SMTP_URL": "http://mail", "MAIL_FROM": "nobody", "STRIPE_WEBHOOK_SECRET": "abc", "TRUSTED_PROXIES": "10.0.0.0/8,banana", "BCRYPT_COST": "99"}
	_, err := app.LoadConfig(bad.Get, false)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"ADDR", "BASE_URL", "DATABASE_URL", "SECRET_KEY", "SMTP_URL", "MAIL_FROM", "STRIPE_WEBHOOK_SECRET", "TRUSTED_PROXIES", "BCRYPT_COST"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no message about %s in %v", want, err)
		}
	}
	cfg, err := app.LoadConfig(apptest.Env{}.Get, true)
	if err != nil || cfg.Addr != "127.0.0.1:8080" || cfg.DatabaseURL != "sqlite:data/trostpflaster.db" || cfg.BaseURL != "http://127.0.0.1:8080" {
		t.Fatalf("demo defaults: %v %+v", err, cfg)
	}
}
