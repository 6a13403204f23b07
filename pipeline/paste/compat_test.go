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

// deviations lists the oracle cases we answer differently on purpose.
var deviations = map[string]deviation{}

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

func TestCompat(t *testing.T) {
	total, matched, errs, devs := 0, 0, 0, 0
	for _, set := range []string{"pastedeploy", "openstack"} {
		dir := filepath.Join("testdata", "compat", set)
		for _, c := range loadCases(t, dir) {
			total++
			id := set + "/" + c.id()
			t.Run(id, func(t *testing.T) {
				g, err := Load(filepath.Join(dir, c.Ini), c.options(t))
				if d, ok := deviations[id]; ok {
					devs++
					t.Logf("known deviation: %s", d.reason)
					d.check(t, g, err)
					return
				}
				want, rerr := os.ReadFile(filepath.Join(dir, c.Expected))
				if rerr != nil {
					t.Fatal(rerr)
				}
				if c.Error != nil {
					errs++
					checkCompatError(t, *c.Error, err)
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
	t.Logf("compat: %d cases: %d graphs matched, %d errors matched, %d known deviations", total, matched, errs, devs)
	if total != 313 {
		t.Errorf("expected 313 cases, have %d", total)
	}
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
