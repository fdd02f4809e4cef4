package app_test

import (
	"flag"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"trostpflaster/app/apptest"
)

var updateRoutes = flag.Bool("update-routes", false, "rewrite testdata/routes.golden from the router")

// The route table is a promise to every link, form, bookmark and API client:
// each (method, path) and the chain of handlers it runs. Reshaping
// app/routes.go must leave this list as it is; a new route is added here on
// purpose (go test ./app -run TestRouteTable -update-routes).
func TestRouteTable(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	got := strings.Join(routeLines(a.HTTP), "\n") + "\n"
	const golden = "testdata/routes.golden"
	if *updateRoutes {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		t.Fatalf("routes differ from %s:\n  only now: %v\n  only before: %v", golden, minus(gl, wl), minus(wl, gl))
	}
}

// A static segment must be registered before a parameter that would match
// it, or Fiber sends the request to the parameter's handler
// (/gifts/bulk to /gifts/:id).
func TestRouteTableStaticBeforeParam(t *testing.T) {
	t.Parallel()
	a := apptest.NewApp(t, apptest.BaseEnv(t, "sqlite"))
	param := regexp.MustCompile(`:[a-zA-Z_]+`)
	routes := a.HTTP.GetRoutes(true)
	for i, r := range routes {
		if !strings.Contains(r.Path, ":") {
			continue
		}
		re := regexp.MustCompile("^" + param.ReplaceAllString(regexp.QuoteMeta(r.Path), `[^/]+`) + "$")
		for _, later := range routes[i+1:] {
			if later.Method == r.Method && !strings.Contains(later.Path, ":") && re.MatchString(later.Path) {
				t.Errorf("%s %s is registered after %s, which catches it", later.Method, later.Path, r.Path)
			}
		}
	}
}

// routeLines lists the router's routes, sorted, one line each: method,
// path and the handlers it runs.
func routeLines(app *fiber.App) []string {
	var out []string
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue // Fiber adds HEAD for every GET
		}
		names := make([]string, 0, len(r.Handlers))
		for _, h := range r.Handlers {
			names = append(names, handlerName(h))
		}
		out = append(out, r.Method+" "+r.Path+"  "+strings.Join(names, " "))
	}
	sort.Strings(out)
	return out
}

var closure = regexp.MustCompile(`\.func\d+`)

// handlerName names a handler by its method (handlers.RequireUser); a
// closure is just "closure", as the compiler names it after whichever
// function it was inlined into.
func handlerName(h fiber.Handler) string {
	n := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
	if closure.MatchString(n) {
		return "closure"
	}
	n = strings.TrimSuffix(n, "-fm")
	n = strings.TrimPrefix(n, "trostpflaster/")
	return strings.ReplaceAll(n, "(*Handlers).", "")
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}
