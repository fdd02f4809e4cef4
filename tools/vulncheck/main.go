// Command vulncheck supports the govulncheck step of scripts/test.sh.
//
//	go run ./tools/vulncheck index -osv "$(go env GOMODCACHE)/golang.org/x/vulndb@VERSION/data/osv" -out DIR
//	govulncheck -db file://DIR -format json ./... | go run ./tools/vulncheck gate
//
// index builds an offline Go vulnerability database in the layout
// `govulncheck -db file:///DIR` reads (golang.org/x/vuln's v1 database:
// index/db.json, index/modules.json, index/vulns.json and ID/<id>.json) from
// the OSV reports in golang.org/x/vulndb's data/osv: the public database
// (vuln.go.dev) is not reachable from the project's machines, while the Go
// module proxy, which serves the vulndb module, is. The reports are copied
// unchanged; the index lists, per module, every report that names it.
// "fixed" is left out of the module index: it is only a hint that lets
// govulncheck skip fetching a report, and govulncheck always decides from
// the report's own ranges.
//
// gate reads govulncheck's JSON and prints every vulnerability the code
// actually calls. It fails (exit 1) for those in modules, which go.mod can
// fix. Those in the standard library are fixed only by a newer Go
// release; they are listed with the Go version that fixes them and fail
// with -stdlib=fail (the default of scripts/test.sh, which runs on the
// patched release; VULNCHECK_STDLIB=list there only lists them).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type osv struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vulnEntry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: vulncheck index -osv DIR -out DIR | vulncheck gate [-stdlib=fail] < govulncheck.json")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "index":
		fs := flag.NewFlagSet("index", flag.ExitOnError)
		src := fs.String("osv", "", "directory of OSV JSON reports (golang.org/x/vulndb's data/osv)")
		out := fs.String("out", "", "directory to write the database to (replaced)")
		_ = fs.Parse(os.Args[2:])
		if *src == "" || *out == "" {
			fs.Usage()
			os.Exit(2)
		}
		if err := build(*src, *out); err != nil {
			fmt.Fprintln(os.Stderr, "vulncheck index:", err)
			os.Exit(1)
		}
	case "gate":
		fs := flag.NewFlagSet("gate", flag.ExitOnError)
		stdlib := fs.String("stdlib", "warn", "warn or fail on called standard-library vulnerabilities")
		_ = fs.Parse(os.Args[2:])
		os.Exit(gate(os.Stdin, os.Stdout, *stdlib == "fail"))
	default:
		fmt.Fprintln(os.Stderr, "vulncheck: unknown command", os.Args[1])
		os.Exit(2)
	}
}

type finding struct {
	OSV          string `json:"osv"`
	FixedVersion string `json:"fixed_version"`
	Trace        []struct {
		Module   string `json:"module"`
		Version  string `json:"version"`
		Package  string `json:"package"`
		Function string `json:"function"`
		Receiver string `json:"receiver"`
	} `json:"trace"`
}

// gate reports called vulnerabilities; see the package comment.
func gate(in io.Reader, w io.Writer, stdlibFails bool) int {
	dec := json.NewDecoder(in)
	type key struct{ id, module string }
	called := map[key]finding{}
	summaries := map[string]string{}
	imported := 0
	for {
		var msg struct {
			OSV *struct {
				ID      string `json:"id"`
				Summary string `json:"summary"`
			} `json:"osv"`
			Finding *finding `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(w, "vulncheck gate: reading govulncheck output:", err)
			return 1
		}
		if msg.OSV != nil {
			summaries[msg.OSV.ID] = msg.OSV.Summary
		}
		f := msg.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		if f.Trace[0].Function == "" {
			imported++ // in a module or package the code uses, but not called
			continue
		}
		k := key{f.OSV, f.Trace[0].Module}
		if prev, ok := called[k]; !ok || f.Trace[0].Package < prev.Trace[0].Package {
			called[k] = *f // one line per vulnerability, the same on every run
		}
	}
	var keys []key
	for k := range called {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].module+keys[i].id < keys[j].module+keys[j].id })
	fail := false
	for _, k := range keys {
		f := called[k]
		t := f.Trace[0]
		what := "FAIL"
		if k.module == "stdlib" {
			what = "toolchain"
			if stdlibFails {
				what = "FAIL"
			}
		}
		if what == "FAIL" {
			fail = true
		}
		fmt.Fprintf(w, "%-9s %s %s@%s (fixed in %s): %s\n", what, k.id, t.Package, t.Version, f.FixedVersion, summaries[k.id])
	}
	stdlib := 0
	for _, k := range keys {
		if k.module == "stdlib" {
			stdlib++
		}
	}
	fmt.Fprintf(w, "vulncheck: %d called vulnerabilities in modules, %d in the standard library (fixed by a newer Go toolchain), %d findings not called\n",
		len(keys)-stdlib, stdlib, imported)
	if fail {
		return 1
	}
	return 0
}

func build(src, out string) error {
	files, err := filepath.Glob(filepath.Join(src, "GO-*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no GO-*.json reports in %s", src)
	}
	tmp := out + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, "ID"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "index"), 0o755); err != nil {
		return err
	}
	mods := map[string][]moduleVuln{}
	var vulns []vulnEntry
	var latest time.Time
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var v osv
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if v.ID == "" || v.ID+".json" != filepath.Base(f) {
			return fmt.Errorf("%s: id %q does not match the file name", f, v.ID)
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", v.ID+".json"), raw, 0o644); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, a := range v.Affected {
			p := a.Package.Name
			if p == "" || seen[p] || (a.Package.Ecosystem != "" && a.Package.Ecosystem != "Go") {
				continue
			}
			seen[p] = true
			mods[p] = append(mods[p], moduleVuln{ID: v.ID, Modified: v.Modified})
		}
		vulns = append(vulns, vulnEntry{ID: v.ID, Modified: v.Modified, Aliases: v.Aliases})
		if v.Modified.After(latest) {
			latest = v.Modified
		}
	}
	var index []module
	for p, vs := range mods {
		sort.Slice(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID })
		index = append(index, module{Path: p, Vulns: vs})
	}
	sort.Slice(index, func(i, j int) bool { return index[i].Path < index[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })
	for name, v := range map[string]any{
		"db.json":      map[string]time.Time{"modified": latest},
		"modules.json": index,
		"vulns.json":   vulns,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "index", name), b, 0o644); err != nil {
			return err
		}
	}
	os.RemoveAll(out)
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	fmt.Printf("vulncheck index: %d reports, %d modules -> %s\n", len(vulns), len(index), strings.TrimSuffix(out, "/"))
	return nil
}
