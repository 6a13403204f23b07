package osloconf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "svc.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPositionsAndSubstitution(t *testing.T) {
	p := write(t, "\ufeff[DEFAULT]\nstate_path = /var/lib/nova\nhost: node1\n\n"+
		"[keystone_authtoken]\n# comment\n; comment\nauth_url = http://ks/v3\n"+
		"memcached_servers = a:1,\n    b:2\npassword = p$$w\nsigning_dir = ${state_path}/keys\n"+
		"region = $host-$host\nother = $database.connection\n[empty]\n[database]\nconnection = $state_path/db\n")
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.Options("keystone_authtoken")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"auth_url":          "http://ks/v3",
		"memcached_servers": "a:1,\nb:2",
		"password":          "p$w",
		"signing_dir":       "/var/lib/nova/keys",
		"region":            "node1-node1",
		"other":             "/var/lib/nova/db",
	} {
		if o[k].Value != want {
			t.Errorf("%s = %q, want %q", k, o[k].Value, want)
		}
	}
	if len(o) != 6 {
		t.Errorf("options %v", o)
	}
	if o["auth_url"].Pos.Line != 8 || o["auth_url"].Pos.File != p {
		t.Errorf("auth_url at %v", o["auth_url"].Pos)
	}
	if m, err := f.Options("missing"); err != nil || len(m) != 0 {
		t.Errorf("missing section: %v %v", m, err)
	}
	if got := strings.Join(f.Sections(), ","); got != "DEFAULT,keystone_authtoken,empty,database" {
		t.Errorf("Sections = %s", got)
	}
	if raw, ok := f.Raw("keystone_authtoken", "signing_dir"); !ok || raw.Value != "${state_path}/keys" {
		t.Errorf("Raw = %+v %v", raw, ok)
	}
}

// TestDialect pins how each construct of the format reads, after
// oslo.config's iniparser and ConfigOpts.
func TestDialect(t *testing.T) {
	for _, tc := range []struct {
		name, text       string
		section, key     string
		want             string // "" with ok false: not set
		ok               bool
		line             int
		substitutionFail string
	}{
		{"equals", "[s]\nk = v\n", "s", "k", "v", true, 2, ""},
		{"colon", "[s]\nk: v\n", "s", "k", "v", true, 2, ""},
		{"first separator splits", "[s]\nk: a=b\n", "s", "k", "a=b", true, 2, ""},
		{"url value", "[s]\nk = http://x:1/\n", "s", "k", "http://x:1/", true, 2, ""},
		{"empty value", "[s]\nk =\n", "s", "k", "", true, 2, ""},
		{"double quotes removed", "[s]\nk = \"a b\"\n", "s", "k", "a b", true, 2, ""},
		{"single quotes removed", "[s]\nk = 'a'\n", "s", "k", "a", true, 2, ""},
		{"unmatched quotes kept", "[s]\nk = \"a'\n", "s", "k", "\"a'", true, 2, ""},
		{"lone quote is empty", "[s]\nk = \"\n", "s", "k", "", true, 2, ""},
		{"no inline comments", "[s]\nk = v # c\n", "s", "k", "v # c", true, 2, ""},
		{"continuation", "[s]\nk = a\n\tb\n  c\n", "s", "k", "a\nb\nc", true, 2, ""},
		{"blank line ends a value", "[s]\nk = a\n\nj = b\n", "s", "k", "a", true, 2, ""},
		{"indented # continues", "[s]\nk = a\n  # b\n", "s", "k", "a\n# b", true, 2, ""},
		{"later line wins", "[s]\nk = a\nk = b\n", "s", "k", "b", true, 3, ""},
		{"section reopened", "[s]\nk = a\n[t]\n[s]\nj = b\n", "s", "k", "a", true, 2, ""},
		{"section case ignored", "[CORS]\nk = v\n", "cors", "k", "v", true, 2, ""},
		{"section case ignored, other way", "[cors]\nk = v\n", "Cors", "k", "v", true, 2, ""},
		{"lowercase default is not DEFAULT", "[default]\nk = v\n", "DEFAULT", "k", "", false, 0, ""},
		{"section name not trimmed", "[ s ]\nk = v\n", "s", "k", "", false, 0, ""},
		{"dash is not underscore", "[s]\nauth-url = v\n", "s", "auth_url", "", false, 0, ""},
		{"key as written", "[s]\nauth-url = v\n", "s", "auth-url", "v", true, 2, ""},
		{"crlf", "[s]\r\nk = v\r\n  w\r\n", "s", "k", "v\nw", true, 2, ""},
		{"lone cr ends a line", "[s]\rk = v\r", "s", "k", "v", true, 2, ""},
		{"$$", "[s]\nk = a$$b\n", "s", "k", "a$b", true, 2, ""},
		{`\$`, "[s]\nk = a\\$b\n", "s", "k", "a$b", true, 2, ""},
		{"lone $ kept", "[s]\nk = 5$ and $ 1\n", "s", "k", "5$ and $ 1", true, 2, ""},
		{"$digit kept", "[s]\nk = $1\n", "s", "k", "$1", true, 2, ""},
		{"unterminated ${ kept", "[s]\nk = ${open\n", "s", "k", "${open", true, 2, ""},
		{"name ends at a non-identifier", "[s]\nh = x\nk = $h-$h/\n", "s", "k", "x-x/", true, 3, ""},
		{"braces delimit", "[s]\nh = x\nk = ${h}y\n", "s", "k", "xy", true, 3, ""},
		{"uppercase reference", "[DEFAULT]\nHost = x\n[s]\nk = $Host\n", "s", "k", "x", true, 4, ""},
		{"section first, then DEFAULT", "[DEFAULT]\nh = d\n[s]\nh = s\nk = $h\n", "s", "k", "s", true, 5, ""},
		{"nested resolved where found", "[DEFAULT]\na = $b\nb = d\n[s]\nb = s\nk = $a\n", "s", "k", "d", true, 6, ""},
		{"group reference", "[g]\nx = 1\n[s]\nk = ${g.x}\n", "s", "k", "1", true, 4, ""},
		{"unknown reference", "[s]\nk = $nope\n", "s", "k", "", true, 2, `no option "nope"`},
		{"unknown group reference", "[s]\nk = $a.b\n", "s", "k", "", true, 2, `no option "a.b"`},
		{"cycle", "[s]\nk = $k\n", "s", "k", "", true, 2, "nested too deeply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.text)
			f, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			v, ok, err := f.Lookup(tc.section, tc.key)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, v)
			}
			if tc.substitutionFail != "" {
				var pe *paste.Error
				if !errors.As(err, &pe) || pe.Pos.Line != tc.line || pe.Pos.File != p || !strings.Contains(err.Error(), tc.substitutionFail) {
					t.Fatalf("err = %v, want %q at line %d", err, tc.substitutionFail, tc.line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Value != tc.want || ok && (v.Pos.Line != tc.line || v.Pos.File != p) {
				t.Errorf("got %q at %v, want %q at line %d", v.Value, v.Pos, tc.want, tc.line)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"key = v\n", ":1: option outside any section"},
		{"[s]\n  cont\n", ":2: unexpected continuation line"},
		{"# c\n  cont\n", ":2: unexpected continuation line"},
		{"[s]\nk = v\n# c\n  cont\n", ":4: unexpected continuation line"},
		{"  [s]\n", ":1: unexpected continuation line"},
		{"[s\n", ":1: invalid section header"},
		{"[s] # c\n", ":1: invalid section header"},
		{"[]\n", ":1: empty section name"},
		{"[s]\n= v\n", ":2: expected \"key = value\""},
		{"[s]\nnovalue\n", ":2: expected \"key = value\""},
		{"\ufeff\ufeff[s]\n", ":1: expected \"key = value\""},
	} {
		_, err := Read(write(t, tc.text))
		var list paste.List
		if !errors.As(err, &list) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want a paste.List with %q", tc.text, err, tc.want)
		}
	}
	// Every problem is reported, each at its line.
	_, err := Read(write(t, "a = 1\n[s]\nb\n[t\n"))
	var list paste.List
	if !errors.As(err, &list) || len(list) != 3 {
		t.Errorf("all errors: %v", err)
	}
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("a directory: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none.conf")
	if _, err := Read(missing); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing file: %v", err)
	}
	big := write(t, "[s]\nk = "+strings.Repeat("x", MaxFileSize)+"\n")
	if _, err := Read(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a huge file: %v", err)
	}
}

func TestReadInOrder(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")
	os.WriteFile(a, []byte("[DEFAULT]\nbase = /a\n[s]\nk = $base/k\nonly_a = 1\n"), 0o644)
	os.WriteFile(b, []byte("[DEFAULT]\nbase = /b\n[S]\nonly_b = 2\n"), 0o644)
	f := NewFile()
	for _, p := range []string{a, b} {
		if err := f.Read(p); err != nil {
			t.Fatal(err)
		}
	}
	// A later file overrides option by option, and substitutions see
	// the merged result, as oslo's do.
	for key, want := range map[string]string{"k": "/b/k", "only_a": "1", "only_b": "2"} {
		v, ok, err := f.Lookup("s", key)
		if !ok || err != nil || v.Value != want {
			t.Errorf("%s = %q %v %v, want %q", key, v.Value, ok, err, want)
		}
	}
	if v, _, _ := f.Lookup("DEFAULT", "base"); v.Pos.File != b || v.Pos.Line != 2 {
		t.Errorf("base from %v, want b.conf:2", v.Pos)
	}
	if got := strings.Join(f.Files(), ","); got != a+","+b {
		t.Errorf("Files = %s", got)
	}
	if got := strings.Join(f.Sections(), ","); got != "DEFAULT,s,S" {
		t.Errorf("Sections = %s", got)
	}
	if got := strings.Join(f.Keys("s"), ","); got != "k,only_a,only_b" {
		t.Errorf("Keys = %s", got)
	}
	// A file with errors leaves f as it was.
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("[s]\nk = new\nbroken\n"), 0o644)
	if err := f.Read(bad); err == nil {
		t.Fatal("bad file read")
	}
	if v, _, _ := f.Lookup("s", "k"); v.Value != "/b/k" || len(f.Files()) != 2 {
		t.Errorf("after a failed read: %q %v", v.Value, f.Files())
	}
	var nilFile *File
	if _, ok, err := nilFile.Lookup("s", "k"); ok || err != nil || nilFile.Sections() != nil || nilFile.Keys("s") != nil {
		t.Error("a nil File is not empty")
	}
}

func TestResolve(t *testing.T) {
	if p, err := Resolve("nova.conf", "", "/etc/nova"); err != nil || p != "/etc/nova/nova.conf" {
		t.Errorf("relative file: %q %v", p, err)
	}
	if p, err := Resolve("/x/y.conf", "nova", "/etc"); err != nil || p != "/x/y.conf" {
		t.Errorf("file wins over project: %q %v", p, err)
	}
	if p, err := Resolve("", "", "/etc"); err != nil || p != "" {
		t.Errorf("neither: %q %v", p, err)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.MkdirAll(filepath.Join(home, ".vstest"), 0o755)
	os.WriteFile(filepath.Join(home, ".vstest", "vstest.conf"), nil, 0o644)
	if p, err := Resolve("", "vstest", ""); err != nil || p != filepath.Join(home, ".vstest", "vstest.conf") {
		t.Errorf("project: %q %v", p, err)
	}
	// Unlike ProjectFiles, Resolve reports a project without a file.
	if p, err := Resolve("", "vstest-none-such", ""); err == nil || !strings.Contains(err.Error(), "no vstest-none-such.conf in "+filepath.Join(home, ".vstest-none-such")) {
		t.Errorf("project without a file: %q %v", p, err)
	}
	if files, err := ProjectFiles("vstest-none-such", ""); err != nil || len(files) != 0 {
		t.Errorf("ProjectFiles without a file: %v %v", files, err)
	}
	if _, err := Resolve("", "../etc", ""); err == nil {
		t.Error("a path as project name was accepted")
	}
	// The program's file comes after the project's (it overrides).
	os.WriteFile(filepath.Join(home, "vstest-api.conf"), nil, 0o644)
	files, err := ProjectFiles("vstest", "vstest-api")
	if err != nil || len(files) != 2 || files[1] != filepath.Join(home, "vstest-api.conf") {
		t.Errorf("ProjectFiles = %v %v", files, err)
	}
	if _, err := ProjectFiles("vstest", "a/b"); err == nil {
		t.Error("a path as program name was accepted")
	}
}

func FuzzRead(f *testing.F) {
	f.Add("[DEFAULT]\na = 1\n[s]\nb = $a\n  c\n")
	f.Add("[s]\nk: ${x}$$\n")
	f.Add("[s]\nk = \\$a ${a.b} $ $1 '\n\r  x\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "f.conf")
		os.WriteFile(p, []byte(text), 0o644)
		file, err := Read(p)
		if err != nil {
			var list paste.List
			if !errors.As(err, &list) {
				t.Fatalf("not a paste.List: %v", err)
			}
			return
		}
		for _, name := range file.Sections() {
			for _, k := range file.Keys(name) {
				v, ok, err := file.Lookup(name, k)
				if !ok || v.Pos.File != p || v.Pos.Line < 1 {
					t.Fatalf("Lookup(%q, %q) = %+v %v %v", name, k, v, ok, err)
				}
			}
		}
	})
}
