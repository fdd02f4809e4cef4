package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
)

// The demo keeps one secret key under the data directory, created with
// owner-only permissions and reused at the next start.
func TestDemoSecretKeyIsCreatedOnceAndKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := apptest.Env{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "demo.db"), "BCRYPT_COST": "4"}
	var keys [][]byte
	for i := 0; i < 2; i++ {
		cfg, err := app.LoadConfig(env.Get, true)
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(cfg, apptest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, a.Cfg.SecretKey)
		a.Close()
	}
	st, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key: %v %v", err, st)
	}
	if len(keys[0]) < 32 || !bytes.Equal(keys[0], keys[1]) {
		t.Fatal("demo secret not kept between starts")
	}
}
