package paste

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// overlayDump renders a load with overlays for the golden files: the
// errors, or the graph dump, the files read, every key's position and the
// warnings; paths are relative to testdata/overlay.
func overlayDump(t *testing.T, g *Graph, err error, dir string) string {
	t.Helper()
	var b strings.Builder
	if err != nil {
		for _, e := range Flatten(err) {
			b.WriteString("error: " + e.Error() + "\n")
		}
	} else {
		if err := g.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		b.WriteString("files:\n")
		for _, f := range g.Files {
			b.WriteString("  " + f + "\n")
		}
		b.WriteString("positions:\n")
		var walk func(n *Node)
		walk = func(n *Node) {
			if n == nil {
				return
			}
			keys := make([]string, 0, len(n.KeyPos))
			for k := range n.KeyPos {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				b.WriteString("  " + strings.Join(n.Path, " > ") + ": " + k + " @ " + n.KeyPos[k].String() + "\n")
			}
			walk(n.App)
			for _, r := range n.Routes {
				walk(r.Node)
			}
			walk(n.NotFound)
		}
		walk(g.Root)
		for _, w := range g.Warnings {
			b.WriteString("warning: " + w.Error() + "\n")
		}
	}
	out := strings.ReplaceAll(b.String(), dir+"/", "")
	return strings.ReplaceAll(out, dir, ".")
}

// TestOverlays loads testdata/overlay/base.ini with overlays and compares
// the merged result with testdata/overlay/NAME.golden (`-update` rewrites
// them); the checks below each case pin the rule it is about.
func TestOverlays(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "overlay"))
	if err != nil {
		t.Fatal(err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	find := func(t *testing.T, g *Graph, section string) *Node {
		t.Helper()
		var found *Node
		var walk func(n *Node)
		walk = func(n *Node) {
			if n == nil || found != nil {
				return
			}
			if n.Section == section {
				found = n
				return
			}
			walk(n.App)
			for _, r := range n.Routes {
				walk(r.Node)
			}
		}
		walk(g.Root)
		if found == nil {
			t.Fatalf("no node for [%s]", section)
		}
		return found
	}
	for _, tc := range []struct {
		name     string
		overlays []string
		check    func(t *testing.T, g *Graph, err error)
	}{
		{"none", nil, func(t *testing.T, g *Graph, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if n := find(t, g, "app:nova"); n.Factory != "egg:nova#api" || len(g.Files) != 1 {
				t.Errorf("factory %q, files %v", n.Factory, g.Files)
			}
		}},
		{"proxy", []string{"conf.d/10-proxy.ini"}, func(t *testing.T, g *Graph, err error) {
			if err != nil {
				t.Fatal(err)
			}
			n := find(t, g, "app:nova")
			if n.Factory != "egg:vietstack#proxy" || n.Local["workers"] != "4" || n.Local["timeout"] != "60" ||
				n.Local["upstream"] != "http://127.0.0.1:8774" {
				t.Errorf("factory %q local %v", n.Factory, n.Local)
			}
			if got := n.KeyPos["timeout"]; got != (Pos{File: p("conf.d/10-proxy.ini"), Line: 5}) {
				t.Errorf("timeout set at %v", got)
			}
			if got := n.KeyPos["workers"]; got != (Pos{File: p("base.ini"), Line: 19}) {
				t.Errorf("workers set at %v", got)
			}
		}},
		{"all", []string{"conf.d/10-proxy.ini", "conf.d/20-cors.ini", "conf.d/30-noauth.ini"}, func(t *testing.T, g *Graph, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if n := find(t, g, "filter:cors"); n.Global["debug"] != "true" || n.Global["policy_file"] != p("policy.yaml") {
				t.Errorf("global %v", n.Global)
			}
			// The explicit factory key replaced use: no "Multiple protocols".
			if n := find(t, g, "filter:authtoken"); n.Factory != "vietstack.noauth:filter_factory" || n.Local["delay_auth_decision"] != "true" {
				t.Errorf("authtoken %q %v", n.Factory, n.Local)
			}
			if len(g.Files) != 4 || g.Files[3] != p("conf.d/30-noauth.ini") {
				t.Errorf("files %v", g.Files)
			}
		}},
		{"order", []string{"conf.d/30-noauth.ini", "conf.d/10-proxy.ini", "bad/set-default.ini"}, func(t *testing.T, g *Graph, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if n := find(t, g, "app:nova"); n.Factory != "egg:vietstack#proxy" {
				t.Errorf("factory %q", n.Factory)
			}
			if len(g.Warnings) != 1 || g.Warnings[0].Pos != (Pos{File: p("bad/set-default.ini"), Line: 2}) {
				t.Errorf("warnings %v", g.Warnings)
			}
		}},
		{"here", []string{"sub/local.ini"}, func(t *testing.T, g *Graph, err error) {
			if err != nil {
				t.Fatal(err)
			}
			n := find(t, g, "app:versions")
			if n.Local["index"] != p("sub/versions.json") || n.Local["file"] != p("sub/local.ini") || n.Local["percent"] != "100%" {
				t.Errorf("local %v", n.Local)
			}
			if n.Global["policy_file"] != p("policy.yaml") || n.Global["__file__"] != p("base.ini") {
				t.Errorf("global %v", n.Global)
			}
			if n := find(t, g, "app:extra"); n.Local["root"] != p("sub/www") {
				t.Errorf("extra %v", n.Local)
			}
		}},
		{"missing-filter", []string{"bad/missing-filter.ini"}, func(t *testing.T, g *Graph, err error) {
			es := Flatten(err)
			if len(es) != 1 || !strings.HasPrefix(es[0].Error(), p("bad/missing-filter.ini")+":2: [pipeline:api] pipeline: ") {
				t.Errorf("errors %v", es)
			}
		}},
		{"syntax", []string{"conf.d/10-proxy.ini", "bad/syntax.ini"}, func(t *testing.T, g *Graph, err error) {
			if es := Flatten(err); len(es) != 1 || !strings.HasPrefix(es[0].Error(), p("bad/syntax.ini")+":2: ") {
				t.Errorf("errors %v", es)
			}
		}},
		{"interp", []string{"bad/interp.ini"}, func(t *testing.T, g *Graph, err error) {
			if es := Flatten(err); len(es) != 1 || !strings.HasPrefix(es[0].Error(), p("bad/interp.ini")+":2: [app:nova] timeout: ") {
				t.Errorf("errors %v", es)
			}
		}},
		{"new-kind", []string{"bad/new-kind.ini"}, func(t *testing.T, g *Graph, err error) {
			if es := Flatten(err); len(es) != 1 || !strings.Contains(es[0].Error(), "Ambiguous section names") ||
				!strings.Contains(es[0].Error(), p("bad/new-kind.ini")+":2") {
				t.Errorf("errors %v", es)
			}
		}},
		{"missing-file", []string{"conf.d/nosuch.ini"}, func(t *testing.T, g *Graph, err error) {
			if es := Flatten(err); len(es) != 1 || !strings.HasPrefix(es[0].Error(), p("conf.d/nosuch.ini")+": ") {
				t.Errorf("errors %v", es)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ovs []string
			for _, o := range tc.overlays {
				ovs = append(ovs, filepath.Join("testdata", "overlay", o)) // relative: Load makes them absolute
			}
			g, err := Load(p("base.ini"), Options{Overlays: ovs})
			tc.check(t, g, err)
			got := overlayDump(t, g, err, dir)
			golden := p(tc.name + ".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("merged result differs from %s:\n%s", golden, got)
			}
		})
	}
}

// TestOverlayCompositeChildren checks that a generic composite resolves
// its children in the merged file at build time (LoadApp).
func TestOverlayCompositeChildren(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	base := write("base.ini", "[composite:main]\npaste.composite_factory = vietstack.switch:factory\ndefault = a\n\n[app:a]\nuse = egg:x#a\n")
	ov := write("ov.ini", "[composite:main]\ndefault = b\n\n[app:b]\nuse = egg:x#b\n")
	g, err := Load(base, Options{Overlays: []string{ov}})
	if err != nil {
		t.Fatal(err)
	}
	if g.Root.Local["default"] != "b" || g.Root.KeyPos["default"] != (Pos{File: ov, Line: 2}) {
		t.Fatalf("root %v %v", g.Root.Local, g.Root.KeyPos)
	}
	child, err := g.Root.LoadApp("b")
	if err != nil || child.Factory != "egg:x#b" || child.Pos != (Pos{File: ov, Line: 4}) || child.Global["__file__"] != base {
		t.Fatalf("child %+v, %v", child, err)
	}
}

// TestBindHere pins the text rules of %(here)s binding in overlays.
func TestBindHere(t *testing.T) {
	ov := &source{Path: "/etc/100%/ov.ini", Default: &srcSection{Name: "DEFAULT", idx: map[string]int{}}}
	for _, tc := range []struct{ in, want string }{
		{"%(here)s/x", "/etc/100%%/x"},
		{"%%(here)s", "%%(here)s"},
		{"a %(__file__)s b %(other)s", "a /etc/100%%/ov.ini b %(other)s"},
		{"no refs", "no refs"},
		{"50% %(here)s", "50% /etc/100%%"},
	} {
		if got := bindHere(tc.in, ov, nil); got != tc.want {
			t.Errorf("bindHere(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	ov.Default.setKey(srcKey{Name: "here", Value: "/mine"})
	if got := bindHere("%(here)s", ov, nil); got != "%(here)s" {
		t.Errorf("a defined here is kept: %q", got)
	}
}

// TestSelfOverlay applies every oracle case's file over itself: the merge
// must be the identity, so the graph dump, key positions, warnings and
// errors must all be those of the plain load.
func TestSelfOverlay(t *testing.T) {
	n := 0
	for _, dir := range []string{"compat/pastedeploy", "compat/openstack", "oracle", "random"} {
		dir = filepath.Join("testdata", dir)
		for _, c := range loadCases(t, dir) {
			ini := filepath.Join(dir, c.Ini)
			opts := c.options(t)
			render := func(o Options) string {
				g, err := Load(ini, o)
				var b strings.Builder
				if err != nil {
					b.WriteString("error: " + err.Error() + "\n")
					return b.String()
				}
				if err := g.WriteJSON(&b); err != nil {
					t.Fatal(err)
				}
				var walk func(n *Node)
				walk = func(n *Node) {
					if n == nil {
						return
					}
					keys := make([]string, 0, len(n.KeyPos))
					for k := range n.KeyPos {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						b.WriteString(k + " @ " + n.KeyPos[k].String() + "\n")
					}
					b.WriteString("pos " + n.Pos.String() + "\n")
					walk(n.App)
					for _, r := range n.Routes {
						walk(r.Node)
					}
					walk(n.NotFound)
				}
				walk(g.Root)
				for _, w := range g.Warnings {
					b.WriteString("warning: " + w.Error() + "\n")
				}
				return b.String()
			}
			plain := render(opts)
			opts.Overlays = []string{ini}
			if self := render(opts); self != plain {
				t.Errorf("%s %v: self-overlay differs\nplain:\n%s\nself:\n%s", ini, c.Args, plain, self)
			}
			n++
		}
	}
	if n < 577 { // 313 public, the extra and random vectors
		t.Errorf("only %d cases", n)
	}
}

// FuzzOverlay loads arbitrary input with an arbitrary overlay (in another
// directory, which may include files of either): no panic, bounded time,
// every error positioned, and every key position in one of the two files
// or the included one.
func FuzzOverlay(f *testing.F) {
	seeds := seedFiles(f)
	for i, s := range seeds {
		f.Add(s, seeds[(i*7+3)%len(seeds)])
	}
	f.Add([]byte("[app:main]\nuse = egg:a#b\nx = 1\n"), []byte("[app:main]\npaste.app_factory = a:b\ny = %(here)s\n[DEFAULT]\nz = config:../f/main.ini\n"))
	f.Fuzz(func(t *testing.T, main, ov []byte) {
		files := map[string]string{"/f/main.ini": string(main), "/o/ov.ini": string(ov), "/o/inc.ini": string(ov), "/f/inc.ini": string(main)}
		start := time.Now()
		g, err := Load("/f/main.ini", Options{ReadFile: memFS(files), Overlays: []string{"/o/ov.ini"}})
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("load took %v", d)
		}
		if err != nil {
			for _, e := range Flatten(err) {
				pe, ok := e.(*Error)
				if !ok || pe.File == "" || pe.Class == "" {
					t.Fatalf("unpositioned error %#v", e)
				}
			}
			return
		}
		var walk func(n *Node)
		walk = func(n *Node) {
			if n == nil {
				return
			}
			for k, p := range n.KeyPos {
				if _, ok := files[p.File]; !ok {
					t.Fatalf("key %s at %v: not a loaded file", k, p)
				}
			}
			walk(n.App)
			for _, r := range n.Routes {
				walk(r.Node)
			}
			walk(n.NotFound)
		}
		walk(g.Root)
	})
}
