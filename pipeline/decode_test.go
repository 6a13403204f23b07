package pipeline

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

type testOpts struct {
	Name     string         `ini:"name" default:"anon" doc:"a name"`
	Enabled  bool           `ini:"enabled" default:"false"`
	Count    int            `ini:"count" default:"3"`
	Ratio    float64        `ini:"ratio"`
	Timeout  time.Duration  `ini:"timeout" default:"30"`
	MaxBody  ByteSize       `ini:"max_request_body_size" default:"114688"`
	Origins  []string       `ini:"allowed_origin"`
	Proxies  []netip.Prefix `ini:"trusted_proxies"`
	Addr     netip.Addr     `ini:"addr"`
	internal int
	_        struct{} `ini:"oslo_config_project,ignore" doc:"accepted for oslo"`
}

func (o *testOpts) Validate() error {
	if o.Count < 0 {
		return errors.New("count must not be negative")
	}
	return nil
}

func testConfig(local map[string]string) *Config {
	n := &paste.Node{Section: "filter:t", Pos: paste.Pos{File: "t.ini", Line: 1}, KeyPos: map[string]paste.Pos{}}
	line := 2
	for _, k := range sortedKeys(local) {
		n.KeyPos[k] = paste.Pos{File: "t.ini", Line: line}
		line++
	}
	return &Config{Name: "filter:t", Local: local, node: n}
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func TestDecodeDefaultsAndValues(t *testing.T) {
	var o testOpts
	err := testConfig(map[string]string{
		"enabled":             "Yes",
		"ratio":               "0.5",
		"timeout":             "1m30s",
		"allowed_origin":      "http://a.example, http://b.example\nhttp://c.example",
		"trusted_proxies":     "10.0.0.0/8 192.168.1.0/24",
		"addr":                "127.0.0.1",
		"oslo_config_project": "nova",
	}).Decode(&o)
	if err != nil {
		t.Fatal(err)
	}
	want := testOpts{
		Name: "anon", Enabled: true, Count: 3, Ratio: 0.5, Timeout: 90 * time.Second, MaxBody: 114688,
		Origins: []string{"http://a.example", "http://b.example", "http://c.example"},
		Proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.0/24")},
		Addr:    netip.MustParseAddr("127.0.0.1"),
	}
	if d := cmp.Diff(want, o, cmp.AllowUnexported(testOpts{}), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("decode (-want +got):\n%s", d)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		local map[string]string
		want  []string
	}{
		{"bad bool", map[string]string{"enabled": "flase"}, []string{`t.ini:2: [filter:t] enabled: invalid boolean "flase": want true or false (also yes/no, on/off, 1/0)`}},
		{"bad int", map[string]string{"count": "eighty"}, []string{`t.ini:2: [filter:t] count: invalid integer "eighty"`}},
		{"bad size", map[string]string{"max_request_body_size": "12 parsecs"}, []string{`t.ini:2: [filter:t] max_request_body_size: invalid size "12 parsecs": unknown unit "parsecs" (use B, KiB, MiB, GiB, KB, MB or GB)`}},
		{"bad duration", map[string]string{"timeout": "soon"}, []string{`t.ini:2: [filter:t] timeout: invalid duration "soon": want seconds (30) or a Go duration (1m30s, 250ms)`}},
		{"bad prefix item", map[string]string{"trusted_proxies": "10.0.0.0/8 nope"}, []string{`t.ini:2: [filter:t] trusted_proxies: item 2: netip.ParsePrefix("nope"): no '/'`}},
		{"unknown with suggestion", map[string]string{"max_body_size": "1"}, []string{`t.ini:2: [filter:t] max_body_size: unknown option "max_body_size"; did you mean "max_request_body_size"?`}},
		{"typo", map[string]string{"enabeld": "true"}, []string{`t.ini:2: [filter:t] enabeld: unknown option "enabeld"; did you mean "enabled"?`}},
		{"unknown no suggestion", map[string]string{"zzzzzzzz": "1"}, []string{`t.ini:2: [filter:t] zzzzzzzz: unknown option "zzzzzzzz"`}},
		{"all at once", map[string]string{"count": "x", "enabled": "maybe", "nme": "y"}, []string{
			`t.ini:2: [filter:t] count: invalid integer "x"`,
			`t.ini:3: [filter:t] enabled: invalid boolean "maybe": want true or false (also yes/no, on/off, 1/0)`,
			`t.ini:4: [filter:t] nme: unknown option "nme"; did you mean "name"?`,
		}},
		{"validate names the key it rejects", map[string]string{"count": "-1"}, []string{`t.ini:2: [filter:t] count must not be negative`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o testOpts
			err := testConfig(tt.local).Decode(&o)
			if err == nil {
				t.Fatal("no error")
			}
			var got []string
			for _, e := range paste.Flatten(err) {
				got = append(got, e.Error())
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	tests := map[string]ByteSize{"0": 0, "114688": 114688, "112KiB": 114688, "64k": 65536, "1MB": 1e6, "2 GiB": 2 << 30, "1.5KiB": 1536}
	for in, want := range tests {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "KiB", "-1", "1.3B", "1e99TB", "12 x"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q): no error", bad)
		}
	}
	if s := ByteSize(114688).String(); s != "112KiB" {
		t.Errorf("String = %q", s)
	}
}

func TestParseBool(t *testing.T) {
	for _, s := range []string{"1", "t", "TRUE", "on", "Yes", " y "} {
		if b, err := ParseBool(s); err != nil || !b {
			t.Errorf("ParseBool(%q) = %v, %v", s, b, err)
		}
	}
	for _, s := range []string{"0", "F", "false", "OFF", "no", "n"} {
		if b, err := ParseBool(s); err != nil || b {
			t.Errorf("ParseBool(%q) = %v, %v", s, b, err)
		}
	}
	for _, s := range []string{"", "flase", "2", "enabled"} {
		if _, err := ParseBool(s); err == nil {
			t.Errorf("ParseBool(%q): no error", s)
		}
	}
}

func TestOptionDocs(t *testing.T) {
	docs := OptionDocs(testOpts{})
	var got []string
	for _, d := range docs {
		got = append(got, d.Name+" "+d.Type+" "+d.Default)
	}
	want := []string{"name string anon", "enabled bool false", "count int 3", "ratio float ", "timeout duration 30",
		"max_request_body_size size 114688", "allowed_origin list of string ", "trusted_proxies list of prefix ",
		"addr addr ", "oslo_config_project ignored "}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("OptionDocs (-want +got):\n%s", d)
	}
	if OptionDocs(nil) != nil {
		t.Error("OptionDocs(nil) != nil")
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"cors", "request_id", "sizelimit", "http_proxy_to_wsgi", "healthcheck"}
	for in, want := range map[string]string{"corss": "cors", "requestid": "request_id", "size_limit": "sizelimit", "helthcheck": "healthcheck", "xyz": "", "proxy_to_wsgi": "http_proxy_to_wsgi"} {
		if got := Suggest(in, names); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
	if !strings.Contains(Suggest("cor", names), "cors") {
		t.Error("short prefix")
	}
}
