package handlers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"trostpflaster/views"
	"trostpflaster/views/i18n"
)

// Every translation key the templates and the handlers name exists (in
// both languages: i18n.Load refuses a key one of them lacks), so renaming
// a key cannot leave a page or a mail showing the raw key. Keys built at run
// time (printf "gifts.status.%s", "onboarding.step."+step) must match at
// least one key.
func TestTranslationKeysExist(t *testing.T) {
	t.Parallel()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string]bool{}
	for _, k := range cat.Keys(i18n.Default) {
		msgs[k] = true
	}
	check := func(where, key string) {
		t.Helper()
		if _, ok := msgs[key]; !ok {
			t.Errorf("%s: no translation %q", where, key)
		}
	}
	checkPattern := func(where, pattern string) {
		t.Helper()
		re := regexp.MustCompile("^" + pattern + "$")
		for k := range msgs {
			if re.MatchString(k) {
				return
			}
		}
		t.Errorf("%s: no translation matches %q", where, pattern)
	}
	n := 0
	for where, ref := range templateKeys(t) {
		n++
		if ref.pattern {
			checkPattern(where, ref.key)
		} else {
			check(where, ref.key)
		}
	}
	for where, ref := range goKeys(t, ".") {
		n++
		if ref.pattern {
			checkPattern(where, ref.key)
		} else {
			check(where, ref.key)
		}
	}
	// The messages models attaches to a field (models.Msg…) are shown as
	// "err." keys next to the field.
	for where, msg := range modelMessages(t, filepath.Join("..", "models")) {
		n++
		check(where, "err."+msg)
	}
	if n < 500 {
		t.Fatalf("found only %d key references; is the scan still right?", n)
	}
}

type keyRef struct {
	key     string
	pattern bool // a regular expression (a key built at run time)
}

var (
	tLiteral = regexp.MustCompile(`\bt\s+"([^"]+)"`)
	tPrintf  = regexp.MustCompile(`\bt\s+\(printf\s+"([^"]+)"`)
	verb     = regexp.MustCompile(`%[sd]`)
)

// formatPattern turns a printf format ("gifts.status.%s") into a pattern
// of the keys it can make.
func formatPattern(format string) string {
	parts := verb.Split(format, -1)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return strings.Join(parts, "[^.]+")
}

// templateKeys finds {{t "key"}} and {{t (printf "format" …)}} in every
// page, partial, layout and mail template.
func templateKeys(t *testing.T) map[string]keyRef {
	out := map[string]keyRef{}
	err := fs.WalkDir(views.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".html") || strings.HasSuffix(path, ".txt")) {
			return err
		}
		b, err := fs.ReadFile(views.FS(), path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			at := path + ":" + strconv.Itoa(i+1)
			for _, m := range tLiteral.FindAllStringSubmatch(line, -1) {
				out[at+" "+m[1]] = keyRef{key: m[1]}
			}
			for _, m := range tPrintf.FindAllStringSubmatch(line, -1) {
				out[at+" "+m[1]] = keyRef{key: formatPattern(m[1]), pattern: true}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keyArgs are the calls in this package that take a translation key, and
// which argument it is; flash keys get "flash." put in front.
var keyArgs = map[string]struct {
	arg    int
	prefix string
}{
	"T":              {1, ""},       // h.r.T(lang, key, …)
	"t":              {0, ""},       // t(key, …), a translating closure
	"page":           {1, ""},       // h.page(c, titleKey)
	"merchantPage":   {1, ""},       // h.merchantPage(c, titleKey, step)
	"flash":          {2, "flash."}, // h.flash(c, kind, key)
	"settingsResult": {4, "flash."}, // h.settingsResult(c, form, err, prefix, flash)
}

// goKeys finds the keys the package's Go code passes to keyArgs, and the
// messages of models.ValidationErrors literals (shown as "err." keys).
func goKeys(t *testing.T, dir string) map[string]keyRef {
	fset, files := parseSources(t, dir)
	out := map[string]keyRef{}
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					name := ""
					switch fun := n.Fun.(type) {
					case *ast.Ident:
						name = fun.Name
					case *ast.SelectorExpr:
						name = fun.Sel.Name
						if name == "t" {
							name = "" // only the local closure is t
						}
					}
					spec, ok := keyArgs[name]
					if !ok || len(n.Args) <= spec.arg {
						return true
					}
					for _, ref := range keyExprs(fn, n.Args[spec.arg]) {
						if ref.pattern {
							ref.key = regexp.QuoteMeta(spec.prefix) + ref.key
						} else {
							ref.key = spec.prefix + ref.key
						}
						out[fset.Position(n.Pos()).String()+" "+ref.key] = ref
					}
				case *ast.CompositeLit:
					if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "ValidationErrors" {
						for _, el := range n.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								if s, ok := stringLit(kv.Value); ok {
									out[fset.Position(kv.Pos()).String()+" err."+s] = keyRef{key: "err." + s}
								}
							}
						}
					}
				}
				return true
			})
		}
	}
	return out
}

// keyExprs evaluates a key argument: a literal, a literal prefix plus
// something ("onboarding.step."+step), a fmt.Sprintf format, or a local
// variable set from those in the same function. Parameters are checked
// where the caller passes them (keyArgs).
func keyExprs(fn *ast.FuncDecl, e ast.Expr) []keyRef {
	switch e := e.(type) {
	case *ast.BasicLit:
		if s, ok := stringLit(e); ok && s != "" { // "": a page without a title
			return []keyRef{{key: s}}
		}
	case *ast.BinaryExpr:
		if s, ok := stringLit(e.X); ok && e.Op == token.ADD {
			return []keyRef{{key: regexp.QuoteMeta(s) + ".+", pattern: true}}
		}
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			if s, ok := stringLit(e.Args[0]); ok {
				return []keyRef{{key: formatPattern(s), pattern: true}}
			}
		}
	case *ast.Ident:
		var refs []keyRef
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
				for i, l := range as.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == e.Name {
						refs = append(refs, keyExprs(fn, as.Rhs[i])...)
					}
				}
			}
			return true
		})
		return refs
	}
	return nil
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// modelMessages lists the string constants named Msg… in package models.
func modelMessages(t *testing.T, dir string) map[string]string {
	_, files := parseSources(t, dir)
	out := map[string]string{}
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Msg") || i >= len(vs.Values) {
						continue
					}
					if s, ok := stringLit(vs.Values[i]); ok {
						out["models."+name.Name] = s
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Msg constants in %s", dir)
	}
	return out
}

// parseSources parses the Go files of dir, without its tests.
func parseSources(t *testing.T, dir string) (*token.FileSet, []*ast.File) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			files = append(files, f)
		}
	}
	return fset, files
}
