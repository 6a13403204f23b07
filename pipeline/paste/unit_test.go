package paste

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInterpolate(t *testing.T) {
	vals := map[string]string{
		"here":  "/etc/x%y", // literal: a '%' in the directory is fine
		"a":     "A",
		"b":     "%(a)s-b",
		"pct":   "100%%",
		"self":  "%(self)s",
		"empty": "",
		"bad":   "50%",
		"Case":  "upper",
	}
	lookup := func(n string) (string, bool, bool) {
		v, ok := vals[n]
		return v, n == "here", ok
	}
	for _, tc := range []struct {
		in, want, class string
	}{
		{"plain", "plain", ""},
		{"", "", ""},
		{"%(a)s", "A", ""},
		{"x%(b)sy", "xA-by", ""},
		{"%%", "%", ""},
		{"100%%", "100%", ""},
		{"%%(a)s", "%(a)s", ""},
		{"%(pct)s", "100%", ""},
		{"%(here)s/static", "/etc/x%y/static", ""},
		{"[%(empty)s]", "[]", ""},
		{"%(Case)s", "upper", ""},
		{"%(case)s", "", "InterpolationMissingOptionError"},
		{"%(nope)s", "", "InterpolationMissingOptionError"},
		{"%(self)s", "", "InterpolationDepthError"},
		{"%(bad)s", "", "InterpolationSyntaxError"},
		{"50%", "", "InterpolationSyntaxError"},
		{"%s", "", "InterpolationSyntaxError"},
		{"a%2Fb", "", "InterpolationSyntaxError"},
		{"%(a)", "", "InterpolationSyntaxError"},
		{"%()s", "", "InterpolationSyntaxError"},
		{"%(a)x", "", "InterpolationSyntaxError"},
		{"%", "", "InterpolationSyntaxError"},
	} {
		got, err := interpolate(tc.in, lookup)
		class := ""
		var ie *interpError
		if errors.As(err, &ie) {
			class = ie.Class
		}
		if class != tc.class || (tc.class == "" && got != tc.want) {
			t.Errorf("interpolate(%q) = %q, %v; want %q, class %q", tc.in, got, err, tc.want, tc.class)
		}
	}
}

func TestInterpolateDepth(t *testing.T) {
	// A value reached through n nested references needs n levels; ConfigParser allows 10.
	chain := func(n int) interpLookup {
		return func(name string) (string, bool, bool) {
			var i int
			if _, err := fmt.Sscanf(name, "v%d", &i); err != nil {
				return "", false, false
			}
			if i >= n {
				return "end", false, true
			}
			return fmt.Sprintf("%%(v%d)s", i+1), false, true
		}
	}
	if _, err := interpolate("%(v1)s", chain(10)); err != nil {
		t.Errorf("depth 10: %v", err)
	}
	if _, err := interpolate("%(v1)s", chain(11)); err == nil {
		t.Errorf("depth 11: no error")
	}
}

func TestNormValue(t *testing.T) {
	for in, want := range map[string]string{
		"  a  ":                     "a",
		"a\n    b\n    c":           "a\nb\nc",
		"a\n    # c\n    b":         "a\nb",
		"a\n   ; c\n    b\n   \n  ": "a\nb",
		"\n  a":                     "\na",
		"a\n   \n  b":               "a\n\nb",
		"a\r\n  b\r":                "a\nb",
		"# not a comment\n  b":      "# not a comment\nb",
	} {
		if got := normValue(in); got != want {
			t.Errorf("normValue(%q) = %q, want %q", in, got, want)
		}
	}
}

type scanned struct {
	sec, key, val string
	line          int
}

func flat(src *source) []scanned {
	var out []scanned
	for _, s := range append([]*srcSection{src.Default}, src.Sections...) {
		out = append(out, scanned{s.Name, "", "", s.Line})
		for _, k := range s.Keys {
			out = append(out, scanned{s.Name, k.Name, k.Value, k.Line})
		}
	}
	return out
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []scanned
		errLines []int
		class    string
	}{
		{"basic", "[app:main]\nuse = egg:Paste#urlmap\n/v2.1: api\n", []scanned{
			{"DEFAULT", "", "", 0}, {"app:main", "", "", 1},
			{"app:main", "use", "egg:Paste#urlmap", 2}, {"app:main", "/v2.1", "api", 3}}, nil, ""},
		{"continuation", "[p:x]\npipeline = a\n    # b\n    c\n\tcontinued\n", []scanned{
			{"DEFAULT", "", "", 0}, {"p:x", "", "", 1}, {"p:x", "pipeline", "a\nc\ncontinued", 2}}, nil, ""},
		{"default twice", "[DEFAULT]\na = 1\n[x]\n[DEFAULT]\nb = 2\n", []scanned{
			{"DEFAULT", "", "", 1}, {"DEFAULT", "a", "1", 2}, {"DEFAULT", "b", "2", 5}, {"x", "", "", 3}}, nil, ""},
		{"inline comment kept", "[x]\nw = 4 # four\nq = \"quoted\"\n", []scanned{
			{"DEFAULT", "", "", 0}, {"x", "", "", 1}, {"x", "w", "4 # four", 2}, {"x", "q", `"quoted"`, 3}}, nil, ""},
		{"crlf and bom", "\xef\xbb\xbf[x]\r\na = 1\r\n  b\r\n", []scanned{
			{"DEFAULT", "", "", 0}, {"x", "", "", 1}, {"x", "a", "1\nb", 2}}, nil, ""},
		{"case and spaces", "[x]\nKey = 1\nkey = 2\nset debug = 3\nmax body size = 4\n", []scanned{
			{"DEFAULT", "", "", 0}, {"x", "", "", 1}, {"x", "Key", "1", 2}, {"x", "key", "2", 3},
			{"x", "set debug", "3", 4}, {"x", "max body size", "4", 5}}, nil, ""},
		{"backslash kept", "[x]\npath = C:\\dir\\\nnext = after\n", []scanned{
			{"DEFAULT", "", "", 0}, {"x", "", "", 1}, {"x", "path", `C:\dir\`, 2}, {"x", "next", "after", 3}}, nil, ""},
		{"empty value then lines", "[x]\nk =\n  a\n  b\n", []scanned{
			{"DEFAULT", "", "", 0}, {"x", "", "", 1}, {"x", "k", "\na\nb", 2}}, nil, ""},
		{"whitespace-only line inside value", "[x]\nk = a\n   \n  b\n", []scanned{
			{"DEFAULT", "", "", 0}, {"x", "", "", 1}, {"x", "k", "a\n\nb", 2}}, nil, ""},
		{"indented header continues", "[x]\nk = a\n  [app:y]\n", []scanned{
			{"DEFAULT", "", "", 0}, {"x", "", "", 1}, {"x", "k", "a\n[app:y]", 2}}, nil, ""},
		{"big continued value", "[x]\nk = a\n" + strings.Repeat("  filter_number_0179\n", 2000), nil, nil, ""},
		{"duplicate key", "[x]\na = 1\na = 2\n", nil, []int{3}, "DuplicateOptionError"},
		{"duplicate DEFAULT key", "[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n", nil, []int{4}, "DuplicateOptionError"},
		{"duplicate section", "[x]\n[y]\n[x]\n", nil, []int{3}, "DuplicateSectionError"},
		{"no header", "a = 1\n[x]\n", nil, []int{1}, "MissingSectionHeaderError"},
		{"no delimiter", "[x]\njustakey\n", nil, []int{2}, "ParsingError"},
		{"empty key", "[x]\n= v\n", nil, []int{2}, "ParsingError"},
		{"unclosed", "[x\n", nil, []int{1}, "Unsupported"},
		{"blank inside value", "[x]\nk = a\n\n  b\n", nil, []int{4}, "Unsupported"},
		{"comment inside value", "[x]\nk = a\n# c\n  b\n", nil, []int{4}, "Unsupported"},
		{"indented keys", "[x]\n  k = v\n  j = 1\n", nil, []int{2, 3}, "Unsupported"},
		{"indented header outside a value", "[x]\n  [y]\nk = v\n", []scanned{
			{"DEFAULT", "", "", 0}, {"x", "", "", 1}, {"y", "", "", 2}, {"y", "k", "v", 3}}, nil, ""},
		{"backtick value", "[x]\nk = `a`\n", nil, []int{2}, "Unsupported"},
		{"triple quote", "[x]\nk = \"\"\"a\n", nil, []int{2}, "Unsupported"},
		{"dash key", "[x]\n- = a\n", nil, []int{2}, "Unsupported"},
		{"quoted key", "[x]\n\"k\" = a\n", nil, []int{2}, "Unsupported"},
		{"lone CR", "[x]\nk = a\rb\n", nil, []int{2}, "Unsupported"},
		{"NUL", "[x]\nk = a\x00\n", nil, []int{2}, "Unsupported"},
		{"invalid UTF-8", "[x]\nk = \xff\n", nil, []int{2}, "UnicodeDecodeError"},
		{"several at once", "[x]\nnokey\na = 1\na = 2\n[x]\n", nil, []int{2, 4, 5}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, errs := parseSource("/f.ini", []byte(tc.in))
			if tc.errLines == nil {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				if tc.want != nil && !reflect.DeepEqual(flat(src), tc.want) {
					t.Errorf("got %+v\nwant %+v", flat(src), tc.want)
				}
				return
			}
			var lines []int
			for _, e := range errs {
				pe := e.(*Error)
				lines = append(lines, pe.Line)
				if tc.class != "" && pe.Class != tc.class {
					t.Errorf("class %q, want %q: %v", pe.Class, tc.class, pe)
				}
			}
			if !reflect.DeepEqual(lines, tc.errLines) {
				t.Errorf("error lines %v, want %v: %v", lines, tc.errLines, errs)
			}
		})
	}
}

func TestURLMapKeys(t *testing.T) {
	for _, tc := range []struct {
		key, display, domain, path, err string
	}{
		{"/", "/", "", "", ""},
		{"/v2/", "/v2", "", "/v2", ""},
		{"//docs//", "/docs", "", "/docs", ""},
		{"/v2/+", "/v2/+", "", "/v2/+", ""},
		{"domain api.example.com", "http://api.example.com/", "api.example.com", "", ""},
		{"domain API.x port 8443 /admin", "http://API.x:8443/admin", "API.x:8443", "/admin", ""},
		{"port 80 domain a /x/", "http://a:80/x", "a:80", "/x", ""},
		{"", "/", "", "", ""},
		{"v2", "", "", "", "URL fragments must start with / or http://"},
		{"domain", "", "", "", "'domain' must be followed"},
		{"domain a domain b", "", "", "", "'domain' given twice"},
		{"port", "", "", "", "'port' must be followed"},
		{"domain a port 1 port 2", "", "", "", "'port' given twice"},
		{"port 80 /x", "", "", "", "If you give a port"},
		{"/a /b", "", "", "", "more than one path given"},
	} {
		u, err := parsePathExpression(tc.key)
		var k urlmapKey
		if err == nil {
			k, err = normalizeURL(u)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.key, err, tc.err)
			}
			continue
		}
		if err != nil || k.display() != tc.display || k.domain != tc.domain || k.path != tc.path {
			t.Errorf("%q: %+v %q %v; want %q %q %q", tc.key, k, k.display(), err, tc.display, tc.domain, tc.path)
		}
	}
	keys := []urlmapKey{{path: ""}, {path: "/v2"}, {hasDomain: true, domain: "api.x"}, {path: "/v2.1"},
		{hasDomain: true, domain: "API.x", path: "/a"}, {path: "/v3"}}
	sortRoutes(keys)
	var order []string
	for _, k := range keys {
		order = append(order, k.display())
	}
	want := []string{"http://API.x/a", "http://api.x/", "/v2.1", "/v2", "/v3", "/"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order %q, want %q", order, want)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"authtoken", "cors", "request_id", "Sizelimit", "healthcheck"}
	for name, want := range map[string][]string{
		"authtokn":   {"authtoken"},
		"sizelimit":  {"Sizelimit"},
		"requestid":  {"request_id"},
		"xyz":        nil,
		"authtoken":  nil,
		"healthchek": {"healthcheck"},
	} {
		if got := suggest(name, cands); !reflect.DeepEqual(got, want) {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
	if got := pyRepr("it's"); got != `"it's"` {
		t.Errorf("pyRepr: %s", got)
	}
	if got := pyRepr("a'b\"c\n"); got != `'a\'b"c\n'` {
		t.Errorf("pyRepr: %s", got)
	}
}

// memFS is a ReadFile over an in-memory file set.
func memFS(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}

func TestReadFileVirtual(t *testing.T) {
	files := map[string]string{
		"/embedded/api-paste.ini": "[pipeline:main]\npipeline = passthrough inc\n[filter:passthrough]\nuse = egg:vietstack#passthrough\n" +
			"[app:inc]\nuse = config:sub/inc.ini\nmessage = hi\n",
		"/embedded/sub/inc.ini": "[app:main]\nuse = egg:vietstack#hello\nroot = %(here)s\n",
	}
	g, err := Load("/embedded/api-paste.ini", Options{ReadFile: memFS(files)})
	if err != nil {
		t.Fatal(err)
	}
	if got := chain(g.Root); !reflect.DeepEqual(got, []string{"egg:vietstack#passthrough", "egg:vietstack#hello"}) {
		t.Errorf("chain %q", got)
	}
	app := g.Root.App
	if app.Local["root"] != "/embedded/sub" || app.Local["message"] != "hi" || app.Global["here"] != "/embedded" {
		t.Errorf("local %v global %v", app.Local, app.Global)
	}
	if !reflect.DeepEqual(g.Files, []string{"/embedded/api-paste.ini", "/embedded/sub/inc.ini"}) {
		t.Errorf("files %q", g.Files)
	}
	if _, err := Load("/embedded/nope.ini", Options{ReadFile: memFS(files)}); err == nil ||
		!strings.Contains(err.Error(), "No such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestNodePositions(t *testing.T) {
	files := map[string]string{"/c/api.ini": `[composite:main]
use = egg:Paste#urlmap
/v2 = api
domain API.Example.com = api

[pipeline:api]
pipeline = cors hello

[filter:cors]
use = egg:vietstack#cors
allowed_origin = *

[app:hello]
use = egg:vietstack#hello
`}
	g, err := Load("/c/api.ini", Options{ReadFile: memFS(files)})
	if err != nil {
		t.Fatal(err)
	}
	root := g.Root
	if root.Type != TypeURLMap || root.Section != "composite:main" || root.Pos != (Pos{"/c/api.ini", 1}) {
		t.Fatalf("root %+v", root)
	}
	if len(root.Routes) != 2 {
		t.Fatalf("routes %+v", root.Routes)
	}
	r0, r1 := root.Routes[0], root.Routes[1]
	if r0.Key != "http://API.Example.com/" || r0.Domain != "api.example.com" || r0.Path != "" || r0.Pos.Line != 4 {
		t.Errorf("route 0 %+v", r0)
	}
	if r1.Key != "/v2" || r1.Path != "/v2" || r1.Pos.Line != 3 {
		t.Errorf("route 1 %+v", r1)
	}
	cors := r1.Node
	if cors.Type != TypeFilter || cors.Section != "filter:cors" || cors.Pos.Line != 9 ||
		cors.KeyPos["allowed_origin"].Line != 11 || cors.KeyPos["use"].Line != 10 {
		t.Errorf("cors %+v", cors)
	}
	if want := []string{"composite:main", "pipeline:api", "filter:cors"}; !reflect.DeepEqual(cors.Path, want) {
		t.Errorf("path %q, want %q", cors.Path, want)
	}
	if h := cors.App; h == nil || h.Section != "app:hello" || h.Pos.Line != 13 {
		t.Errorf("hello %+v", h)
	}
}

func TestLoadAppComposite(t *testing.T) {
	files := map[string]string{
		"/c/main.ini": "[DEFAULT]\nd = top\n[app:main]\nuse = config:inc.ini#comp\nset s = outer\n[app:noauth]\nuse = egg:Main#wrong\n",
		"/c/inc.ini": "[composite:comp]\nuse = call:nova.api.auth:pipeline_factory\nnoauth = cors noauth\nkeystone = cors self\n" +
			"[filter:cors]\nuse = egg:Inc#cors\n[app:noauth]\nuse = egg:Inc#noauth\n[app:self]\nuse = main_again\n[app:main_again]\nuse = config:main.ini\n",
	}
	g, err := Load("/c/main.ini", Options{ReadFile: memFS(files)})
	if err != nil {
		t.Fatal(err)
	}
	comp := g.Root
	if comp.Type != TypeComposite || comp.Factory != "call:nova.api.auth:pipeline_factory" || comp.Local["noauth"] != "cors noauth" {
		t.Fatalf("composite %+v", comp)
	}
	app, err := comp.LoadApp("noauth")
	if err != nil {
		t.Fatal(err)
	}
	// Resolved in the composite's own file, with its global conf.
	if app.Factory != "egg:Inc#noauth" || app.Global["s"] != "outer" || app.Global["d"] != "top" {
		t.Errorf("child %+v", app)
	}
	f, err := comp.LoadFilter("cors")
	if err != nil || f.Type != TypeFilter || f.Factory != "egg:Inc#cors" || f.App != nil {
		t.Errorf("filter %+v, %v", f, err)
	}
	_, err = comp.LoadApp("nosuch")
	var pe *Error
	if !errors.As(err, &pe) || pe.Class != "LookupError" || pe.File != "/c/main.ini" {
		t.Errorf("missing child: %v", err)
	}
	// self -> main_again -> config:main.ini#main -> the composite again.
	_, err = comp.LoadApp("self")
	if !errors.As(err, &pe) || pe.Class != "Cycle" {
		t.Errorf("cycle through a composite: %v", err)
	}
	// Builders may resolve children concurrently (run with -race).
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, err := comp.LoadApp("noauth"); err != nil || a.Factory != "egg:Inc#noauth" {
				t.Errorf("concurrent LoadApp: %v", err)
			}
		}()
	}
	wg.Wait()
	if _, err := (&Node{Section: "app:x"}).LoadApp("x"); err == nil {
		t.Error("LoadApp on a non-composite succeeded")
	}
}

func TestServerKind(t *testing.T) {
	files := map[string]string{"/s.ini": "[server:main]\nuse = egg:Paste#http\nport = 8080\nfilter-with = stays\n[app:main]\nuse = egg:A#a\n"}
	g, err := Load("/s.ini", Options{Kind: KindServer, ReadFile: memFS(files)})
	if err != nil {
		t.Fatal(err)
	}
	n := g.Root
	if n.Type != TypeServer || n.Protocol != ProtoServer || n.Factory != "egg:Paste#http" || n.Local["port"] != "8080" || n.Local["filter-with"] != "stays" {
		t.Errorf("server %+v", n)
	}
}

func TestGlobalsAndWarnings(t *testing.T) {
	files := map[string]string{"/g.ini": "[DEFAULT]\ndebug = false\n[app:main]\nuse = egg:A#a\ndebug = true\nport = 1\nv = %(port)s\n"}
	g, err := Load("/g.ini", Options{ReadFile: memFS(files), Globals: map[string]string{"port": "9"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Root.Local["debug"]; ok {
		t.Errorf("DEFAULT key kept in local: %v", g.Root.Local)
	}
	if _, ok := g.Root.Local["port"]; ok || g.Root.Global["port"] != "9" || g.Root.Local["v"] != "1" {
		t.Errorf("caller global: local %v global %v", g.Root.Local, g.Root.Global)
	}
	var msgs []string
	for _, w := range g.Warnings {
		msgs = append(msgs, w.Error())
	}
	want := []string{
		"/g.ini:5: key 'debug' in [app:main] ignored because it is defined in [DEFAULT]; use 'set debug = …'",
		"/g.ini:6: key 'port' in [app:main] ignored because a global of that name is passed in; use 'set port = …'",
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("warnings\n%q\nwant\n%q", msgs, want)
	}
}

func TestNoPanicOnOddInput(t *testing.T) {
	for _, in := range []string{
		"", "[", "]", "[app:main]", "[app:main]\nuse =", "[app:main]\nuse = egg:", "[app:main]\nuse = config:",
		"[app:main]\nuse = config:#", "[app:main]\nuse = call::", "[app:main]\nuse = egg:A#egg:B#c",
		"[pipeline:main]\npipeline = egg:Paste#urlmap", "[composite:main]\nuse = egg:Paste#urlmap\n= x",
		"[app:main]\nfilter-with = main\nuse = egg:A", "[filter-app:main]\nnext = main\nuse = egg:A",
	} {
		_, _ = Load("/x.ini", Options{ReadFile: memFS(map[string]string{"/x.ini": in})})
	}
}

func TestBounded(t *testing.T) {
	// Routes fanning out 4 ways, 9 levels deep: 4^9 references.
	var b strings.Builder
	for i := 0; i < 9; i++ {
		next := fmt.Sprintf("m%d", i+1)
		if i == 8 {
			next = "app"
		}
		fmt.Fprintf(&b, "[composite:m%d]\nuse = egg:Paste#urlmap\n/a = %s\n/b = %s\n/c = %s\n/d = %s\n", i, next, next, next, next)
	}
	b.WriteString("[app:app]\nuse = egg:A#app\n")
	// Interpolation fanning out 50 ways, 9 levels deep.
	v := strings.Repeat("%(X)s", 50)
	interp := "[DEFAULT]\n"
	for c := 'b'; c < 'k'; c++ {
		interp += string(c) + " = " + strings.ReplaceAll(v, "X", string(c+1)) + "\n"
	}
	interp += "k = end\n[app:main]\nuse = egg:A#a\nx = %(b)s\n"
	files := map[string]string{"/fan.ini": b.String(), "/interp.ini": interp}
	for _, tc := range []struct{ file, name, want string }{
		{"/fan.ini", "m0", "expands to more than"},
		{"/interp.ini", "main", "value expands to more than"},
	} {
		start := time.Now()
		_, err := Load(tc.file, Options{Name: tc.name, ReadFile: memFS(files)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.file, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s took %v", tc.file, d)
		}
		if n := len(Flatten(err)); n > 20 {
			t.Errorf("%s: %d errors reported", tc.file, n)
		}
	}
}

func TestConfigURIs(t *testing.T) {
	files := map[string]string{
		"/a/main.ini": "[app:abs]\nuse = config:/etc/other.ini#x\n[app:back]\nuse = config:sub\\inc.ini\n" +
			"[app:pct]\nuse = config:sub/my%%20file.ini\n[app:upper]\nuse = CONFIG:sub/inc.ini\n[app:hashless]\nuse = config:sub/inc.ini#\n",
		"/etc/other.ini":     "[app:x]\nuse = egg:Other#x\nhere_is = %(here)s\n",
		"/a/sub/inc.ini":     "[app:main]\nuse = egg:Inc#main\n[app: ]\nuse = egg:Inc#empty\n",
		"/a/sub/my file.ini": "[app:main]\nuse = egg:Space#main\n",
	}
	for name, want := range map[string]string{
		"abs": "egg:Other#x", "back": "egg:Inc#main", "pct": "egg:Space#main", "upper": "egg:Inc#main", "hashless": "egg:Inc#empty",
	} {
		g, err := Load("/a/main.ini", Options{Name: name, ReadFile: memFS(files)})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if g.Root.Factory != want {
			t.Errorf("%s: factory %q, want %q", name, g.Root.Factory, want)
		}
		if name == "abs" && (g.Root.Local["here_is"] != "/etc" || g.Root.Global["here"] != "/a") {
			t.Errorf("abs: local %v global %v", g.Root.Local, g.Root.Global)
		}
	}
}
