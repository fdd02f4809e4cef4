package app_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"trostpflaster/app/apptest"
)

// The OpenAPI document describes exactly the API the router serves: a new
// endpoint without documentation (or a documented one that is gone) fails.
func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	param := regexp.MustCompile(`:([a-zA-Z_]+)`)
	served := map[string]bool{}
	for _, r := range a.HTTP.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Method == "HEAD" || strings.HasSuffix(r.Path, "*") {
			continue
		}
		served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	if len(served) < 8 {
		t.Fatalf("router lists only %d API routes: %v", len(served), served)
	}
	c := apptest.NewClient(t, a.HTTP)
	res := c.Get("/api/v1/openapi.json")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	var spec struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(res.Body), &spec); err != nil || !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	documented := map[string]bool{}
	for p, ops := range spec.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	var missing, stale []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 || len(stale) > 0 {
		t.Fatalf("OpenAPI out of date:\n  served but undocumented: %v\n  documented but not served: %v", missing, stale)
	}
	docs := c.Get("/api/docs")
	if docs.Status != 200 || !strings.Contains(docs.Body, "POST /api/v1/gifts") || !strings.Contains(docs.Body, "Idempotency-Key") {
		t.Fatalf("docs page: %d", docs.Status)
	}
}
