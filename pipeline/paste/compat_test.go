package paste

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// compatCase is one record of a cases.json (FORMAT.md §8).
type compatCase struct {
	Ini      string   `json:"ini"`
	Args     []string `json:"args"`
	Expected string   `json:"expected"`
	Error    *string  `json:"error"`
}

func (c compatCase) id() string {
	return strings.Join(append([]string{c.Ini}, c.Args...), " ")
}

// options maps the oracle's command line onto Options (FORMAT.md §11).
func (c compatCase) options(t *testing.T) Options {
	var o Options
	for i := 0; i < len(c.Args); i++ {
		switch c.Args[i] {
		case "--name":
			i++
			o.Name = c.Args[i]
		case "--kind":
			i++
			o.Kind = Kind(c.Args[i])
		case "--global":
			i++
			k, v, _ := strings.Cut(c.Args[i], "=")
			if o.Globals == nil {
				o.Globals = map[string]string{}
			}
			o.Globals[k] = v
		default:
			t.Fatalf("unknown oracle argument %q", c.Args[i])
		}
	}
	return o
}

// classMap maps the oracle's error class onto ours where they differ.
var classMap = map[string]string{"RecursionError": "Cycle"}

// deviation is a case where we deliberately differ from the oracle
// (FORMAT.md §9); check verifies what we promise instead.
type deviation struct {
	reason string
	check  func(t *testing.T, g *Graph, err error)
}

// chain lists the factories from n down its App links.
func chain(n *Node) []string {
	var out []string
	for ; n != nil; n = n.App {
		out = append(out, n.Factory)
	}
	return out
}

// wantChain checks that loading succeeded with this filter chain.
func wantChain(factories ...string) func(t *testing.T, g *Graph, err error) {
	return func(t *testing.T, g *Graph, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("load failed: %v", err)
		}
		if got := chain(g.Root); !reflect.DeepEqual(got, factories) {
			t.Errorf("chain %q, want %q", got, factories)
		}
	}
}

// wantRoutesIn checks that every route of the urlmap root has factory f.
func wantRoutesIn(f string) func(t *testing.T, g *Graph, err error) {
	return func(t *testing.T, g *Graph, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("load failed: %v", err)
		}
		if g.Root.Type != TypeURLMap || len(g.Root.Routes) == 0 {
			t.Fatalf("root is %s with %d routes", g.Root.Type, len(g.Root.Routes))
		}
		for _, r := range g.Root.Routes {
			if r.Node.Factory != f {
				t.Errorf("route %s: factory %q, want %q", r.Key, r.Node.Factory, f)
			}
		}
	}
}

// deviations lists the oracle cases we answer differently on purpose
// (FORMAT.md §9; paste-semantics.md §13), with what we do instead. None of
// the 313 public cases needs one: they are all in our own vectors
// (testdata/oracle), one or more per deviation. Cycles (§9.7) need no entry:
// the oracle's RecursionError maps onto our "Cycle" class (classMap).
var deviations = map[string]deviation{
	"oracle/filterwith.ini --name pipe": {
		"§9.1: filter-with on a pipeline (whose filter has its own filter-with) is applied, not returned as a filter",
		wantChain("mod:f3", "egg:A#f2", "egg:A#f1", "egg:A#app2")},
	"oracle/filterwith.ini --name fa": {
		"§9.1: filter-with on a filter-app is applied",
		wantChain("mod:f3", "egg:A#f2", "egg:A#fa", "egg:A#app2")},
	"oracle/filterwith.ini --name double": {
		"§9.1: filter-with on a section whose use target has its own filter-with stacks outward",
		wantChain("mod:f3", "egg:A#f2", "egg:A#f1", "egg:A#app")},
	"oracle/filterwith.ini --name user": {
		"§9.2: locals of a section using a filter-with section reach the real factory",
		func(t *testing.T, g *Graph, err error) {
			wantChain("egg:A#f1", "egg:A#inner")(t, g, err)
			if err == nil && (g.Root.App.Local["x"] != "1" || g.Root.App.Local["y"] != "2") {
				t.Errorf("inner local %v, want x=1 and y=2", g.Root.App.Local)
			}
		}},
	"oracle/main_inc.ini --name viaconfig": {
		"§9.3: a urlmap reached through use = config: resolves its routes in its own file",
		wantRoutesIn("egg:Inc#target")},
	"oracle/main_inc.ini --name direct": {
		"§9.3: as above, for an [app:] section using the composite",
		wantRoutesIn("egg:Inc#target")},
	"oracle/call.ini --name fa": {
		"§9.4: use = call: in a filter-app is a filter factory",
		func(t *testing.T, g *Graph, err error) {
			wantChain("call:mod:fa", "call:mod:app")(t, g, err)
			if err == nil && g.Root.Protocol != ProtoFilter {
				t.Errorf("protocol %q", g.Root.Protocol)
			}
		}},
	"oracle/call.ini --name p": {
		"§9.5: call: as a pipeline element takes the protocol of the requested type",
		func(t *testing.T, g *Graph, err error) {
			wantChain("call:mod:filt", "call:mod:app")(t, g, err)
			if err == nil && (g.Root.Protocol != ProtoFilter || g.Root.App.Protocol != ProtoApp) {
				t.Errorf("protocols %q, %q", g.Root.Protocol, g.Root.App.Protocol)
			}
		}},
	"oracle/call.ini --name fa2": {
		"§9.5: call: as a filter-app's next is an application",
		wantChain("mod:fa2", "call:mod:nextapp")},
	"oracle/emptydefault.ini": {
		"§9.6: an empty interpolated [DEFAULT] value stays empty in global_conf",
		func(t *testing.T, g *Graph, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := g.Root.Global["f"]; !ok || v != "" {
				t.Errorf("global f = %q, %v; want empty", v, ok)
			}
		}},
	"oracle/rand134/main.ini --name a": {
		"§9.2: a section using (through config:) a composite with its own filter-with passes its locals on",
		func(t *testing.T, g *Graph, err error) {
			wantChain("egg:E#f", "call:mod:main")(t, g, err)
			if err == nil && g.Root.App.Local["k1"] != "defx" {
				t.Errorf("composite local %v, want k1=defx", g.Root.App.Local)
			}
		}},
	"oracle/rand134/main.ini --name b": {
		"§9.2: as above, reached as a urlmap's not_found_app and route",
		func(t *testing.T, g *Graph, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if nf := g.Root.NotFound; nf == nil || nf.App == nil || nf.App.Local["k1"] != "defx" {
				t.Errorf("not_found %+v", nf)
			}
		}},
	"oracle/blankvalue.ini": {
		"ini-v1.md: a blank line inside a continued value is rejected with its line (Paste keeps an empty line)",
		func(t *testing.T, g *Graph, err error) {
			var e *Error
			if !errors.As(err, &e) || e.Line != 7 || e.Class != "Unsupported" {
				t.Errorf("want an Unsupported error at line 7, got %v", err)
			}
		}},
}

func loadCases(t testing.TB, dir string) []compatCase {
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []compatCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestCompat runs the 313 public oracle vectors (FORMAT.md §8).
func TestCompat(t *testing.T) {
	n := runCompat(t, filepath.Join("testdata", "compat", "pastedeploy"), filepath.Join("testdata", "compat", "openstack"))
	if n != 313 {
		t.Errorf("expected 313 cases, have %d", n)
	}
}

// TestOracleExtra runs our own oracle vectors (testdata/oracle, made with
// gen.py and ../shared/tools/paste_oracle.py): the semantics the public
// corpus does not exercise, and every deviation.
func TestOracleExtra(t *testing.T) {
	if n := runCompat(t, filepath.Join("testdata", "oracle")); n < 80 {
		t.Errorf("only %d extra cases", n)
	}
	for id := range deviations {
		if !deviationSeen[id] {
			t.Errorf("deviation %q matches no case", id)
		}
	}
}

// TestOracleRandom runs random configurations (testdata/random, gen.py)
// through the loader and compares with the oracle: use chains across two
// files, set/get, DEFAULT, urlmap spellings, servers, cycles.
func TestOracleRandom(t *testing.T) {
	if n := runCompat(t, filepath.Join("testdata", "random")); n < 150 {
		t.Errorf("only %d random cases", n)
	}
}

var deviationSeen = map[string]bool{}

func runCompat(t *testing.T, dirs ...string) int {
	total, matched, errs, devs := 0, 0, 0, 0
	for _, dir := range dirs {
		set := filepath.Base(dir)
		for _, c := range loadCases(t, dir) {
			id := set + "/" + c.id()
			t.Run(id, func(t *testing.T) {
				total++
				g, err := Load(filepath.Join(dir, c.Ini), c.options(t))
				if d, ok := deviations[id]; ok {
					devs++
					deviationSeen[id] = true
					t.Logf("known deviation: %s", d.reason)
					d.check(t, g, err)
					return
				}
				want, rerr := os.ReadFile(filepath.Join(dir, c.Expected))
				if rerr != nil {
					t.Fatal(rerr)
				}
				if c.Error != nil {
					checkCompatError(t, *c.Error, err)
					if !t.Failed() {
						errs++
					}
					return
				}
				if err != nil {
					t.Fatalf("load failed: %v", err)
				}
				var buf bytes.Buffer
				if err := g.WriteJSON(&buf); err != nil {
					t.Fatal(err)
				}
				var got, exp any
				if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
					t.Fatalf("our JSON does not parse: %v", err)
				}
				if err := json.Unmarshal(want, &exp); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, exp) {
					t.Errorf("graph differs\n--- got\n%s\n--- want\n%s", buf.String(), want)
					return
				}
				matched++
			})
		}
	}
	t.Logf("%d cases: %d graphs matched, %d errors matched, %d known deviations", total, matched, errs, devs)
	if matched+errs+devs != total && !t.Failed() {
		t.Errorf("only %d of %d cases accounted for", matched+errs+devs, total)
	}
	return total
}

// checkCompatError checks that err is a positioned *Error of the class the
// oracle reported.
func checkCompatError(t *testing.T, class string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("load succeeded, the oracle fails with %s", class)
	}
	var first *Error
	all := Flatten(err)
	if len(all) == 0 || !errors.As(all[0], &first) {
		t.Fatalf("error is not a positioned *Error: %v", err)
	}
	want := class
	if m, ok := classMap[class]; ok {
		want = m
	}
	if first.Class != want {
		t.Errorf("class %q, want %q (oracle %s): %v", first.Class, want, class, err)
	}
	if first.File == "" {
		t.Errorf("error has no file: %v", err)
	}
	t.Logf("%v", err)
}
