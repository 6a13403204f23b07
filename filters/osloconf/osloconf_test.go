package osloconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

func TestReadAndGet(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "nova.conf")
	os.WriteFile(p, []byte("[DEFAULT]\ndebug = true\n\n[cors]\n# comment\nallowed_origin = http://a.example,\n    http://b.example\nmax_age: '3600'\n[cors.extra]\nallowed_origin = http://c.example\n"), 0o600)
	o := NewFile()
	if err := o.Read(p); err != nil {
		t.Fatal(err)
	}
	if v, where, ok, err := o.Get("cors", "allowed_origin"); !ok || err != nil || v != "http://a.example,\nhttp://b.example" || where != p+" [cors] allowed_origin" {
		t.Errorf("Get = %q %q %v %v", v, where, ok, err)
	}
	if v, _, _, _ := o.Get("cors", "max_age"); v != "3600" {
		t.Errorf("quotes not removed: %q", v)
	}
	if got := strings.Join(o.Sections(), ","); got != "DEFAULT,cors,cors.extra" {
		t.Errorf("Sections = %s", got)
	}
	for _, bad := range []string{"key = outside\n", "[cors\n", "[cors]\n  cont\n", "[cors]\nnovalue\n"} {
		os.WriteFile(p, []byte(bad), 0o600)
		if err := NewFile().Read(p); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

type opts struct {
	AllowedOrigin []string `ini:"allowed_origin"`
	MaxAge        int      `ini:"max_age" default:"60"`
	Credentials   bool     `ini:"allow_credentials" default:"true"`
	_             struct{} `ini:"oslo_config_project,ignore"`
	_             struct{} `ini:"oslo_config_file,ignore"`
	_             struct{} `ini:"oslo_config_program,ignore"`
}

func TestDecodePrecedence(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "svc.conf"), []byte("[cors]\nallowed_origin = http://file.example\nmax_age = 10\nallow_credentials = nope\n"), 0o600)
	c := &pipeline.Config{Name: "filter:cors",
		Local:  map[string]string{"oslo_config_project": "svc", "oslo_config_file": "svc.conf", "max_age": "99"},
		Global: map[string]string{"here": dir}}
	f, err := Load(c)
	if err != nil {
		t.Fatal(err)
	}
	var o opts
	err = Decode(c, &o, func(k string) (string, string, bool, error) { return f.Get("cors", k) })
	// allow_credentials in the file is bad: reported with the file and group.
	if err == nil || !strings.Contains(err.Error(), "[cors] allow_credentials") {
		t.Fatalf("err = %v", err)
	}
	os.WriteFile(filepath.Join(dir, "svc.conf"), []byte("[cors]\nallowed_origin = http://file.example\nmax_age = 10\n"), 0o600)
	if f, err = Load(c); err != nil {
		t.Fatal(err)
	}
	o = opts{}
	if err := Decode(c, &o, func(k string) (string, string, bool, error) { return f.Get("cors", k) }); err != nil {
		t.Fatal(err)
	}
	// Paste local keys win over the file; the file wins over defaults.
	if o.MaxAge != 99 || len(o.AllowedOrigin) != 1 || o.AllowedOrigin[0] != "http://file.example" || !o.Credentials {
		t.Errorf("decoded %+v", o)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.WriteFile(filepath.Join(home, "vsload.conf"), []byte("[DEFAULT]\nport = 1\n[cors]\nmax_age = $port\nallowed_origin = http://p.example\n"), 0o600)
	os.WriteFile(filepath.Join(home, "vsload-api.conf"), []byte("[DEFAULT]\nport = 2\n"), 0o600)
	newConfig := func(local map[string]string) *pipeline.Config {
		return &pipeline.Config{Name: "filter:cors", Local: local, Global: map[string]string{"here": dir}}
	}
	decode := func(c *pipeline.Config) (opts, error) {
		f, err := Load(c)
		if err != nil {
			return opts{}, err
		}
		var o opts
		err = Decode(c, &o, func(k string) (string, string, bool, error) { return f.Get("cors", k) })
		return o, err
	}

	// The program's file is read after the project's and overrides it;
	// the substitution sees the merged files.
	o, err := decode(newConfig(map[string]string{"oslo_config_project": "vsload", "oslo_config_program": "vsload-api"}))
	if err != nil || o.MaxAge != 2 || len(o.AllowedOrigin) != 1 {
		t.Errorf("project and program: %+v %v", o, err)
	}
	o, err = decode(newConfig(map[string]string{"oslo_config_project": "vsload"}))
	if err != nil || o.MaxAge != 1 {
		t.Errorf("project only: %+v %v", o, err)
	}
	// No project: no file, defaults.
	if f, err := Load(newConfig(map[string]string{})); f != nil || err != nil {
		t.Errorf("no project: %v %v", f, err)
	}
	// A project without files is no error.
	o, err = decode(newConfig(map[string]string{"oslo_config_project": "vsload-none-such"}))
	if err != nil || o.MaxAge != 60 {
		t.Errorf("project without files: %+v %v", o, err)
	}
	// A missing oslo_config_file is.
	if _, err := Load(newConfig(map[string]string{"oslo_config_project": "p", "oslo_config_file": "none.conf"})); err == nil ||
		!strings.Contains(err.Error(), filepath.Join(dir, "none.conf")) {
		t.Errorf("missing file: %v", err)
	}
	// A failed substitution of an option read is an error at its file:line;
	// one in an option nobody reads is not.
	p := filepath.Join(dir, "sub.conf")
	os.WriteFile(p, []byte("[cors]\nexpose = $nowhere\n\nmax_age = ${nowhere}\n"), 0o600)
	_, err = decode(newConfig(map[string]string{"oslo_config_project": "p", "oslo_config_file": "sub.conf"}))
	if err == nil || !strings.Contains(err.Error(), p+":4: [cors] max_age: substitution $nowhere") {
		t.Errorf("failed substitution: %v", err)
	}
	// A syntax error names the file and line.
	os.WriteFile(p, []byte("[cors]\nmax_age = 1\n  # indented, continues max_age\n\n  orphan\n"), 0o600)
	if _, err := Load(newConfig(map[string]string{"oslo_config_project": "p", "oslo_config_file": p})); err == nil ||
		!strings.Contains(err.Error(), p+":5: unexpected continuation line") {
		t.Errorf("syntax error: %v", err)
	}
}
