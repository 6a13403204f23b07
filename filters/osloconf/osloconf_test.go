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
	if v, where, ok := o.Get("cors", "allowed_origin"); !ok || v != "http://a.example,\nhttp://b.example" || !strings.Contains(where, "[cors] allowed_origin") {
		t.Errorf("Get = %q %q %v", v, where, ok)
	}
	if v, _, _ := o.Get("cors", "max_age"); v != "3600" {
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
	err = Decode(c, &o, func(k string) (string, string, bool) { return f.Get("cors", k) })
	// allow_credentials in the file is bad: reported with the file and group.
	if err == nil || !strings.Contains(err.Error(), "[cors] allow_credentials") {
		t.Fatalf("err = %v", err)
	}
	os.WriteFile(filepath.Join(dir, "svc.conf"), []byte("[cors]\nallowed_origin = http://file.example\nmax_age = 10\n"), 0o600)
	if f, err = Load(c); err != nil {
		t.Fatal(err)
	}
	o = opts{}
	if err := Decode(c, &o, func(k string) (string, string, bool) { return f.Get("cors", k) }); err != nil {
		t.Fatal(err)
	}
	// Paste local keys win over the file; the file wins over defaults.
	if o.MaxAge != 99 || len(o.AllowedOrigin) != 1 || o.AllowedOrigin[0] != "http://file.example" || !o.Credentials {
		t.Errorf("decoded %+v", o)
	}
}
