package osloconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "svc.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRead(t *testing.T) {
	p := write(t, "\ufeff[DEFAULT]\nstate_path = /var/lib/nova\nhost: node1\n\n"+
		"[keystone_authtoken]\n# comment\n; comment\nauth-url = http://ks/v3\n"+
		"memcached_servers = a:1,\n    b:2\npassword = p$$w\nsigning_dir = ${state_path}/keys\n"+
		"region = $host-$host\n[empty]\n")
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
	} {
		if o[k].Value != want {
			t.Errorf("%s = %q, want %q", k, o[k].Value, want)
		}
	}
	if o["auth_url"].Pos.Line != 8 || o["auth_url"].Pos.File != p {
		t.Errorf("auth_url at %v", o["auth_url"].Pos)
	}
	if m, err := f.Options("missing"); err != nil || len(m) != 0 {
		t.Errorf("missing section: %v %v", m, err)
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"key = v\n", ":1: option outside any section"},
		{"[s]\n  cont\n", ":2: unexpected continuation line"},
		{"[s\n", ":1: invalid section header"},
		{"[s]\n= v\n", ":2: expected \"key = value\""},
		{"[s]\nnovalue\n", ":2: expected \"key = value\""},
	} {
		_, err := Read(write(t, tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
	for _, tc := range []struct{ value, want string }{
		{"$nope", "no option \"nope\""},
		{"${open", "unterminated"},
		{"a $ b", "lone $"},
		{"$loop", "nested too deeply"},
	} {
		f, err := Read(write(t, "[s]\nloop = $loop\nk = "+tc.value+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Options("s")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.value, err, tc.want)
		}
	}
	if _, err := Read(t.TempDir()); err == nil {
		t.Error("a directory was read")
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
	if _, err := Resolve("", "../etc", ""); err == nil {
		t.Error("a path as project name was accepted")
	}
}

func FuzzRead(f *testing.F) {
	f.Add("[DEFAULT]\na = 1\n[s]\nb = $a\n  c\n")
	f.Add("[s]\nk: ${x}$$\n")
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "f.conf")
		os.WriteFile(p, []byte(text), 0o644)
		file, err := Read(p)
		if err != nil {
			return
		}
		for name := range file.Sections {
			file.Options(name)
		}
	})
}
