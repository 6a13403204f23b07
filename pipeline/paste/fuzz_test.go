package paste

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seedFiles adds every ini of testdata as a seed.
func seedFiles(f *testing.F) [][]byte {
	var out [][]byte
	for _, pat := range []string{"testdata/compat/*/*.ini", "testdata/compat/*/*.conf", "testdata/compat/*/*sample",
		"testdata/oracle/*.ini", "testdata/errors/*.ini"} {
		files, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, data)
		}
	}
	return out
}

// FuzzLoad loads arbitrary input (which may include itself and a second
// file) under every entry-point kind: no panic, bounded time, and every
// error positioned.
func FuzzLoad(f *testing.F) {
	for _, s := range seedFiles(f) {
		f.Add(s, []byte("[app:main]\nuse = config:main.ini#other\n"), "main")
	}
	f.Fuzz(func(t *testing.T, main, inc []byte, name string) {
		files := map[string]string{"/f/main.ini": string(main), "/f/inc.ini": string(inc)}
		for _, kind := range []Kind{KindApp, KindServer, KindFilter} {
			start := time.Now()
			g, err := Load("/f/main.ini", Options{Name: name, Kind: kind, ReadFile: memFS(files),
				Globals: map[string]string{"g": "v"}})
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("load took %v", d)
			}
			if err != nil {
				for _, e := range Flatten(err) {
					pe, ok := e.(*Error)
					if !ok || pe.File == "" || pe.Class == "" {
						t.Fatalf("unpositioned error %#v", e)
					}
					if strings.Contains(pe.Error(), "internal error") {
						t.Fatalf("parsers disagree: %v", pe)
					}
				}
				continue
			}
			var buf bytes.Buffer
			if err := g.WriteJSON(&buf); err != nil && kind != KindFilter {
				t.Fatalf("WriteJSON: %v", err)
			}
		}
	})
}

// FuzzScanAgreesWithIni checks the claim of ini-v1.md: on every input the
// line pre-pass accepts, ini.v1 (with our options and normValue) yields the
// same sections, keys, order and values as Python's ConfigParser, modelled
// here by pyParse, and the pre-pass's line numbers are where the keys are.
func FuzzScanAgreesWithIni(f *testing.F) {
	for _, s := range seedFiles(f) {
		f.Add(s)
	}
	for _, s := range []string{"[x]\nk = a\n  b\n\n[y]\n", "[x]\nk = `v`\n", "[x]\n  k = v\n  j = 1\n",
		"[x]\nk = \"\"\"\n", "[x]\n- = 1\n", "[x]\nk = a\n\n  b\n", "[x]\nk = a\n# c\n  b\n", "[a]]\n", "[x]\nk =\n  \n  v\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		src, errs := parseSource("/f.ini", data)
		for _, e := range errs {
			if strings.Contains(e.Error(), "internal error") {
				t.Fatalf("pre-pass accepted what ini.v1 reads differently: %v\n%q", e, data)
			}
		}
		if src == nil {
			return
		}
		want, ok := pyParse(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
		if !ok {
			t.Fatalf("pre-pass accepted what ConfigParser rejects: %q", data)
		}
		if got := flat(src); !reflect.DeepEqual(got, want) {
			t.Fatalf("differs from ConfigParser\ninput %q\n got %+v\nwant %+v", data, got, want)
		}
	})
}

// pyParse models CPython 3.11 ConfigParser._read as Paste configures it
// (strict, '=' and ':', full-line comments only, empty lines in values,
// optionxform = str), for the inputs the pre-pass accepts.
func pyParse(data []byte) ([]scanned, bool) {
	type sec struct {
		name  string
		line  int
		keys  []string
		vals  map[string][]string
		lines map[string]int
	}
	def := &sec{name: "DEFAULT", vals: map[string][]string{}, lines: map[string]int{}}
	var secs []*sec
	var cur *sec
	opt := ""
	indent := 0
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if i == len(lines)-1 && line == "" {
			break
		}
		line = strings.TrimSuffix(line, "\r")
		st := strings.TrimSpace(line)
		comment := strings.HasPrefix(st, "#") || strings.HasPrefix(st, ";")
		value := st
		if comment {
			value = ""
		}
		if value == "" {
			if !comment && cur != nil && opt != "" {
				cur.vals[opt] = append(cur.vals[opt], "")
			}
			continue
		}
		ind := len(line) - len(strings.TrimLeft(line, " \t"))
		if cur != nil && opt != "" && ind > indent {
			cur.vals[opt] = append(cur.vals[opt], value)
			continue
		}
		indent = ind
		if len(value) > 2 && value[0] == '[' && strings.LastIndexByte(value, ']') > 1 {
			name := value[1:strings.LastIndexByte(value, ']')]
			opt = ""
			if name == "DEFAULT" {
				if def.line == 0 {
					def.line = i + 1
				}
				cur = def
				continue
			}
			for _, s := range secs {
				if s.name == name {
					return nil, false
				}
			}
			cur = &sec{name: name, line: i + 1, vals: map[string][]string{}, lines: map[string]int{}}
			secs = append(secs, cur)
			continue
		}
		if cur == nil {
			return nil, false
		}
		d := strings.IndexAny(value, "=:")
		if d <= 0 {
			return nil, false
		}
		opt = strings.TrimRight(value[:d], " \t")
		if _, dup := cur.vals[opt]; dup {
			return nil, false
		}
		cur.keys = append(cur.keys, opt)
		cur.vals[opt] = []string{strings.TrimSpace(value[d+1:])}
		cur.lines[opt] = i + 1
	}
	var out []scanned
	for _, s := range append([]*sec{def}, secs...) {
		out = append(out, scanned{s.name, "", "", s.line})
		for _, k := range s.keys {
			v := strings.TrimRight(strings.Join(s.vals[k], "\n"), " \t\n")
			out = append(out, scanned{s.name, k, v, s.lines[k]})
		}
	}
	return out, true
}
