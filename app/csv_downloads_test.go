package app_test

import (
	"strings"
	"testing"

	"trostpflaster/app/apptest"
)

// CSV downloads start with a UTF-8 byte-order mark, so Excel shows
// "Bäckerei" rather than "BÃ¤ckerei".
func TestCSVDownloadsOpenInExcel(t *testing.T) {
	t.Parallel()
	a := apptest.NewSeededApp(t, "sqlite")
	admin := apptest.NewClient(t, a.HTTP)
	admin.Login("chefin@beispiel-verlag.example", "demo-chefin-2026")
	platform := apptest.NewClient(t, a.HTTP)
	platform.Login("admin@trostpflaster.example", "demo-admin-2026")
	for path, c := range map[string]*apptest.Client{
		"/gifts/export.csv":            admin,
		"/company/report/months.csv":   admin,
		"/company/report/partners.csv": admin,
		"/admin/ledger.csv":            platform,
	} {
		res := c.Get(path)
		if res.Status != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(res.Body, "\ufeff") {
			t.Errorf("%s: %d %q %q", path, res.Status, res.Header.Get("Content-Type"), res.Body[:min(len(res.Body), 10)])
		}
	}
}
