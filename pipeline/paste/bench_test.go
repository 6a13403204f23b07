package paste

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadNova loads the largest real OpenStack paste files (nova's
// urlmap entry points and swift's proxy pipeline) from memory: parse,
// pre-pass, resolution and graph building.
func BenchmarkLoadNova(b *testing.B) {
	dir := filepath.Join("testdata", "compat", "openstack")
	files := map[string]string{}
	cases := []struct{ file, name string }{
		{"nova-api-paste.ini", "osapi_compute"},
		{"nova-juno-api-paste.ini", "osapi_compute"},
		{"nova-essex-api-paste.ini", "osapi_compute"},
		{"swift-proxy-server.conf", "main"},
	}
	for _, c := range cases {
		data, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			b.Fatal(err)
		}
		files["/bench/"+c.file] = string(data)
	}
	read := memFS(files)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cases {
			if _, err := Load("/bench/"+c.file, Options{Name: c.name, ReadFile: read}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
