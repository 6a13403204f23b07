package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	vietstack "github.com/vietstack/vietstack-api"
	"github.com/vietstack/vietstack-api/apps/hello"
	"github.com/vietstack/vietstack-api/filters/metrics"
	"github.com/vietstack/vietstack-api/pipeline"
)

// runCmd runs the program in-process and returns its status and output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		code, stdout, stderr := runCmd(t, arg)
		if code != 0 || stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, stderr)
		}
		if stdout != usage() {
			t.Errorf("%s: stdout is not the usage text", arg)
		}
		for _, flag := range []string{"--config-file PATH", "--name NAME", "--bind-host HOST", "--bind-port PORT",
			"--shutdown-delay DURATION", "--workers N", "--global KEY=VALUE", "--check", "--dump-graph", "--dump-kind KIND", "--graph FORMAT", "--list-factories",
			"--log-level LEVEL", "--log-format FORMAT", "--version", "-h, --help"} {
			if !strings.Contains(stdout, flag) {
				t.Errorf("--help does not document %q", flag)
			}
		}
		if strings.Contains(stdout, "[=true|false]") {
			t.Errorf("--help advertises [=true|false]")
		}
	}
}

var update = flag.Bool("update", false, "rewrite the generated parts of README.md (make readme)")

// TestReadme keeps the README true: its flag list is the --help text and
// its factory reference the --list-factories output, verbatim. make readme
// (go test -run TestReadme -update) regenerates both.
func TestReadme(t *testing.T) {
	const path = "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var factories bytes.Buffer
	if err := listFactories(&factories, newRegistry()); err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, b := range []struct{ name, text string }{
		{"help", usage()},
		{"factories", factories.String()},
	} {
		got, err = replaceBlock(got, b.name, "```\n"+b.text+"```\n")
		if err != nil {
			t.Fatal(err)
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(data) {
		t.Errorf("README.md is out of date with --help or --list-factories: run make readme\n%s", firstDiff(string(data), got))
	}
}

// firstDiff describes the first line where have and want differ.
func firstDiff(have, want string) string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl {
			return fmt.Sprintf("README.md:%d: has  %q\nREADME.md:%d: want %q", i+1, hl, i+1, wl)
		}
	}
	return ""
}

// replaceBlock replaces what lies between the lines <!-- name:begin -->
// and <!-- name:end --> of s by text.
func replaceBlock(s, name, text string) (string, error) {
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("README.md lacks the %q and %q markers", begin, end)
	}
	return s[:i+len(begin)] + text + s[j:], nil
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "unknown flag: --nope"},
		{[]string{"--bind-port", "70000"}, "--bind-port 70000: must be between 0 and 65535"},
		{[]string{"--bind-port", "http"}, "--bind-port"},
		{[]string{"--global", "novalue"}, `--global "novalue": want KEY=VALUE`},
		{[]string{"--global", "=x"}, `want KEY=VALUE`},
		{[]string{"--dump-graph", "--dump-kind", "filter"}, `--dump-kind "filter": want app or server`},
		{[]string{"--dump-kind", "server"}, "--dump-kind only applies to --dump-graph"},
		{[]string{"--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"--log-format", "xml"}, `--log-format "xml"`},
		{[]string{"api-paste.ini"}, `unexpected argument "api-paste.ini"`},
		{[]string{"--check", "--dump-graph"}, "--check and --dump-graph cannot be combined"},
		{[]string{"--check=maybe"}, "--check"},
		{[]string{"--shutdown-delay", "-1s"}, "--shutdown-delay -1s: must not be negative"},
		{[]string{"--shutdown-delay", "soon"}, "--shutdown-delay"},
		{[]string{"--workers", "0"}, "--workers 0: must be between 1 and 256"},
		{[]string{"--log-level", "loud"}, `--log-level "loud": want debug, info, warn or error`},
		{[]string{"--graph", "svg"}, `--graph "svg": want dot`},
		{[]string{"--graph", "dot", "--check"}, "--check and --graph cannot be combined"},
		{[]string{"--config-file", ""}, "--config-file: empty path"},
		{[]string{"--name", ""}, "--name: empty name"},
		{[]string{"--config-file"}, "--config-file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, "vietstack-api: ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want a message containing %q", stderr, tt.want)
			}
			if strings.Count(stderr, "\n") != 2 {
				t.Errorf("stderr has %d lines, want the message and a pointer to --help", strings.Count(stderr, "\n"))
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCmd(t, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "vietstack-api ") || !strings.Contains(stdout, "go1.") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
}

func TestListFactories(t *testing.T) {
	code, stdout, stderr := runCmd(t, "--list-factories")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"app hello\n",
		"    use = egg:vietstack#hello\n",
		"    option message (string, default \"" + hello.DefaultMessage + "\"): ",
		"filter passthrough\n    hands every request on untouched",
		"composite urlmap\n",
		"egg:Paste#urlmap",
		"server http\n",
		"egg:Paste#http",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--list-factories lacks %q", want)
		}
	}
	// Every registered factory is listed exactly once.
	for _, f := range newRegistry().Factories() {
		if n := strings.Count(stdout, "\n"+string(f.Kind)+" "+f.Name+"\n") + boolInt(strings.HasPrefix(stdout, string(f.Kind)+" "+f.Name+"\n")); n != 1 {
			t.Errorf("%s %s listed %d times", f.Kind, f.Name, n)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		problems []string // substrings of stderr, each expected on its own line
		count    int      // number of problems reported
	}{
		{
			name:   "built-in",
			args:   []string{"--check"},
			stdout: []string{"built-in api-paste.ini: OK: serves main on localhost:8080", "  main = passthrough hello\n"},
		},
		{
			name:   "root file",
			args:   []string{"--check", "--config-file", "../../api-paste.ini"},
			stdout: []string{"../../api-paste.ini: OK: serves main on localhost:8080"},
		},
		{
			name:   "etc file",
			args:   []string{"--check", "--config-file", "../../etc/api-paste.ini"},
			stdout: []string{"OK: serves main on"},
		},
		{
			name:   "bind overrides",
			args:   []string{"--check", "--bind-host", "::1", "--bind-port", "9999"},
			stdout: []string{"OK: serves main on [::1]:9999"},
		},
		{
			name:   "urlmap",
			args:   []string{"--check", "--config-file", "testdata/urlmap.ini"},
			stdout: []string{"OK: serves main on 127.0.0.1:0", "  main = urlmap\n", "    /v1 = passthrough v1app\n", "    / = root\n"},
		},
		{
			name:   "no server section",
			args:   []string{"--check", "--config-file", "testdata/noserver.ini"},
			stdout: []string{"OK: serves main on 127.0.0.1:8080", "  main = main\n"},
		},
		{
			name: "every option problem",
			args: []string{"--check", "--config-file", "testdata/broken-options.ini"},
			code: 1,
			problems: []string{
				"broken-options.ini:7: [filter:passthrough] verbose: ",
				"broken-options.ini:11: [app:hello] mesage: ",
				"broken-options.ini:15: [server:main] port: ",
				"testdata/broken-options.ini: 3 problems",
			},
			count: 3,
		},
		{
			name:     "graph problem",
			args:     []string{"--check", "--config-file", "testdata/broken-graph.ini"},
			code:     1,
			problems: []string{"broken-graph.ini:", "nosuch"},
			count:    1,
		},
		{
			name:     "missing file",
			args:     []string{"--check", "--config-file", "testdata/nosuch.ini"},
			code:     1,
			problems: []string{"cannot read configuration file testdata/nosuch.ini: no such file or directory"},
			count:    1,
		},
		{
			name:     "directory",
			args:     []string{"--check", "--config-file", "testdata"},
			code:     1,
			problems: []string{"cannot read configuration file testdata: is a directory"},
			count:    1,
		},
		{
			name:     "unknown name",
			args:     []string{"--check", "--name", "nosuch"},
			code:     1,
			problems: []string{"nosuch"},
			count:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.problems {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stderr has a Go stack trace:\n%s", stderr)
			}
			if tt.code == 1 {
				lines := nonWarningLines(stderr)
				// The problems, plus the "N problems" summary when the
				// file could be read.
				if n := len(lines) - boolInt(strings.Contains(stderr, " problem")); n != tt.count {
					t.Errorf("%d problem lines, want %d:\n%s", n, tt.count, stderr)
				}
			}
		})
	}
}

func nonWarningLines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if !strings.HasPrefix(l, "warning: ") {
			out = append(out, l)
		}
	}
	return out
}

// TestDumpGraph checks the flag's wiring on the built-in file and on one
// compatibility case; the loader's tests check every case.
func TestDumpGraph(t *testing.T) {
	code, stdout, stderr := runCmd(t, "--dump-graph")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	want := map[string]any{
		"type": "filter", "factory": "egg:vietstack#passthrough", "local": map[string]any{},
		"app": map[string]any{
			"type": "app", "factory": "egg:vietstack#hello",
			"local": map[string]any{"message": hello.DefaultMessage},
		},
	}
	// "global" holds here and __file__, whose text depends on the path.
	delete(got, "global")
	if app, ok := got["app"].(map[string]any); ok {
		delete(app, "global")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("built-in graph (-want +got):\n%s", d)
	}

	code, stdout, stderr = runCmd(t, "--dump-graph", "--config-file", "testdata/compat/test_config.ini",
		"--name", "test_global_conf", "--global", "def2=TEST DEF 2", "--global", "inherit=bazbar")
	if code != 0 {
		t.Fatalf("compat case: exit %d: %s", code, stderr)
	}
	assertSameJSON(t, stdout, "testdata/compat/test_config@test_global_conf+globals.expected.json")

	code, _, stderr = runCmd(t, "--dump-graph", "--dump-kind", "server")
	if code != 0 || stderr != "" {
		t.Errorf("server dump: exit %d: %s", code, stderr)
	}

	code, stdout, stderr = runCmd(t, "--dump-graph", "--config-file", "testdata/broken-graph.ini")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "broken-graph.ini:") {
		t.Errorf("broken graph: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestGraphDot(t *testing.T) {
	code, stdout, stderr := runCmd(t, "--graph", "dot", "--config-file", "../../etc/api-paste.ini")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "digraph ") || !strings.HasSuffix(stdout, "}\n") {
		t.Errorf("not a DOT digraph:\n%s", stdout)
	}
	for _, w := range []string{"/v1", "/healthcheck", "request_id", "sizelimit", "hello"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("graph lacks %q:\n%s", w, stdout)
		}
	}
	code, stdout, stderr = runCmd(t, "--graph", "dot", "--config-file", "testdata/broken-graph.ini")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "broken-graph.ini:3:") {
		t.Errorf("broken graph: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func assertSameJSON(t *testing.T, got, wantFile string) {
	t.Helper()
	wantData, err := os.ReadFile(wantFile)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(wantData, &w); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("graph differs from %s (-want +got):\n%s", wantFile, d)
	}
}

func TestHasSection(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"[server:main]\nport = 1\n", true},
		{"[ server : main ]\n", true},
		{"[app:main]\n[server:other]\n", false},
		{"[server]\n", false},
		{"# [server:main]\n", false},
		{"; [server:main]\n", false},
		{"[app:main]\nkey = a\n  [server:main]\n", false}, // continuation line
		{"[app:main]\nkey = a\n\n[server:main]\n", true},
		{"[app:main]\n  [server:main]\n", true}, // no open option: a header
		{"[server:main] ; comment\n", true},     // no inline comments: header up to the last ]
		{"[server:mainx]\n", false},
		{"\r\n[server:main]\r\n", true},
	}
	for _, tt := range tests {
		if got := hasSection([]byte(tt.text), "server", "main"); got != tt.want {
			t.Errorf("hasSection(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestServerSettings(t *testing.T) {
	reg := newRegistry()
	logger := slog.New(slog.DiscardHandler)
	def := pipeline.DefaultServerSettings()
	tests := []struct {
		name string
		args []string
		want func(*pipeline.ServerSettings)
	}{
		{"root file", []string{"--config-file", "../../api-paste.ini"}, func(s *pipeline.ServerSettings) { s.Host, s.Port = "localhost", 8080 }},
		{"no server section", []string{"--config-file", "testdata/noserver.ini"}, func(s *pipeline.ServerSettings) {}},
		{"host override", []string{"--config-file", "testdata/noserver.ini", "--bind-host", "0.0.0.0"}, func(s *pipeline.ServerSettings) { s.Host = "0.0.0.0" }},
		{"port override to 0", []string{"--bind-port", "0"}, func(s *pipeline.ServerSettings) { s.Host, s.Port = "localhost", 0 }},
		{"configured limits", []string{"--config-file", "testdata/urlmap.ini"}, func(s *pipeline.ServerSettings) {
			s.Host, s.Port, s.ReadHeaderTimeout = "127.0.0.1", 0, 5*time.Second
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			st, _, errs := newSource(o, reg, logger).serverSettings()
			if errs != nil {
				t.Fatal(errs)
			}
			want := *def
			want.LogLevel = "INFO" // --log-level's default, as the file sets none
			tt.want(&want)
			if !reflect.DeepEqual(*st, want) {
				t.Errorf("settings = %+v\nwant       %+v", *st, want)
			}
			if st.ReadHeaderTimeout <= 0 || st.ReadTimeout <= 0 || st.WriteTimeout <= 0 || st.IdleTimeout <= 0 ||
				st.ShutdownTimeout <= 0 || st.MaxHeaderBytes <= 0 || st.MaxHeaderBytes > 64<<10 {
				t.Errorf("unsafe limits: %+v", *st)
			}
		})
	}
	srv := newHTTPServer(http.NotFoundHandler(), def, logger, false)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("http.Server without limits: %+v", srv)
	}
}

func TestFillServerDefaults(t *testing.T) {
	st := &pipeline.ServerSettings{Host: "h", Port: 1, ReadTimeout: -1}
	fillServerDefaults(st)
	def := pipeline.DefaultServerSettings()
	def.Host, def.Port = "h", 1
	if *st != *def {
		t.Errorf("got %+v, want %+v", *st, *def)
	}
}

// syncBuffer is a bytes.Buffer safe for the daemon's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servingAddr waits for the daemon's "serving" log line (JSON format) and
// returns its address.
func servingAddr(t *testing.T, logs func() string, exited <-chan int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.Lines(logs()) {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "serving" {
				addr, _ := m["addr"].(string)
				return addr
			}
		}
		select {
		case code := <-exited:
			t.Fatalf("daemon exited with %d before serving:\n%s", code, logs())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("daemon did not announce itself:\n%s", logs())
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestServe serves the built-in configuration in-process and stops it by
// cancelling the context.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"--bind-host", "127.0.0.1", "--bind-port", "0", "--log-format", "json"}, io.Discard, &logs)
	}()
	addr := servingAddr(t, logs.String, exited)
	if code, body := get(t, "http://"+addr+"/"); code != 200 || body != hello.DefaultMessage {
		t.Errorf("GET / = %d %q", code, body)
	}
	if !strings.Contains(logs.String(), `"config":"built-in api-paste.ini"`) || !strings.Contains(logs.String(), `"app":"main"`) {
		t.Errorf("serving line does not say what is served:\n%s", logs.String())
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d after cancel:\n%s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("still listening after stop")
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	code, _, stderr := runCmd(t, "--bind-host", "127.0.0.1", "--bind-port", port, "--log-level", "error")
	want := "vietstack-api: cannot listen on 127.0.0.1:" + port + ": address already in use\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
}

func TestServeBrokenConfig(t *testing.T) {
	code, stdout, stderr := runCmd(t, "--config-file", "testdata/broken-options.ini", "--bind-port", "0")
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	for _, w := range []string{"broken-options.ini:7:", "broken-options.ini:11:", "broken-options.ini:15:", "not serving: 3 problems in testdata/broken-options.ini"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
}

// TestReload drives daemon.reload directly: a broken file keeps the old
// generation, a good one replaces it.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "api-paste.ini")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(string(vietstack.DefaultConfig()))
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	proc := &process{metrics: metrics.NewRegistry(), level: new(slog.LevelVar)}
	d := newTestDaemon(t, []string{"--config-file", path}, logger, proc, nil)
	port := d.settings.Port
	reloads := func() string {
		mfs, err := proc.metrics.Prometheus().Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "vietstack_config_") {
				for _, m := range mf.GetMetric() {
					v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
					if mf.GetName() == "vietstack_config_last_reload_success_timestamp_seconds" {
						v = min(v, 1) // set, not its value
					}
					labels := ""
					for _, l := range m.GetLabel() {
						labels += "{" + l.GetValue() + "}"
					}
					out = append(out, fmt.Sprintf("%s%s=%g", strings.TrimPrefix(mf.GetName(), "vietstack_config_"), labels, v))
				}
			}
		}
		return strings.Join(out, " ")
	}
	body := func() string {
		rec := &bodyRecorder{h: http.Header{}}
		req, _ := http.NewRequest("GET", "http://x/", nil)
		d.sw.ServeHTTP(rec, req)
		return rec.body.String()
	}
	if got := body(); got != hello.DefaultMessage {
		t.Fatalf("before reload: %q", got)
	}

	write("[pipeline:main]\npipeline = passthrough hello\n\n[filter:passthrough]\nuse = egg:vietstack#passthrough\nloud = yes\n\n[app:hello]\nuse = egg:vietstack#hello\n")
	if d.reload(context.Background()) {
		t.Fatal("reload of a broken file succeeded")
	}
	if got := body(); got != hello.DefaultMessage {
		t.Errorf("after failed reload: %q", got)
	}
	if got, want := reloads(), "last_reload_success_timestamp_seconds=1 last_reload_successful=0 reloads_total{failure}=1 reloads_total{success}=0"; got != want {
		t.Errorf("metrics after a failed reload:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(logs.String(), "api-paste.ini:6: [filter:passthrough] loud") ||
		!strings.Contains(logs.String(), "reload failed; still serving the previous configuration") {
		t.Errorf("failed reload not logged with its position:\n%s", logs.String())
	}

	write("[app:main]\nuse = egg:vietstack#hello\nmessage = reloaded\n\n[server:main]\nuse = egg:Paste#http\nhost = localhost\nport = 9\n" +
		"log_level = debug\nshutdown_delay = 3s\n")
	if !d.reload(context.Background()) {
		t.Fatalf("reload failed:\n%s", logs.String())
	}
	if got := body(); got != "reloaded" {
		t.Errorf("after reload: %q", got)
	}
	if !strings.Contains(logs.String(), "need a restart of vietstack-api to apply") {
		t.Errorf("changed server settings not reported:\n%s", logs.String())
	}
	if got, want := reloads(), "last_reload_success_timestamp_seconds=1 last_reload_successful=1 reloads_total{failure}=1 reloads_total{success}=1"; got != want {
		t.Errorf("metrics after a reload:\n got %s\nwant %s", got, want)
	}
	// The live settings are applied; the address stays until a restart.
	if proc.level.Level() != slog.LevelDebug || !strings.Contains(logs.String(), "log level changed") {
		t.Errorf("log level after a reload setting log_level = debug: %v", proc.level.Level())
	}
	if d.settings.ShutdownDelay != 3*time.Second || d.settings.Port != port {
		t.Errorf("settings after reload: %+v", *d.settings)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if d.reload(context.Background()) {
		t.Fatal("reload of a deleted file succeeded")
	}
	if got := body(); got != "reloaded" {
		t.Errorf("after reloading a deleted file: %q", got)
	}
	if !strings.Contains(logs.String(), "no such file or directory") {
		t.Errorf("missing file not logged:\n%s", logs.String())
	}
}

type bodyRecorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (r *bodyRecorder) Header() http.Header         { return r.h }
func (r *bodyRecorder) WriteHeader(c int)           { r.code = c }
func (r *bodyRecorder) Write(p []byte) (int, error) { return r.body.Write(p) }

func TestDescribe(t *testing.T) {
	code, stdout, stderr := runCmd(t, "--check", "--config-file", "testdata/urlmap.ini")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	want := []string{
		"testdata/urlmap.ini: OK: serves main on 127.0.0.1:0",
		"  main = urlmap",
		"    /v1 = passthrough v1app",
		"    / = root",
	}
	if d := cmp.Diff(want, lines); d != "" {
		t.Errorf("--check summary (-want +got):\n%s", d)
	}
}

func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	tuneGC(func(string) string { return "50" }) // the operator's GOGC wins
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent %d, want it untouched (100)", got)
	}
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Errorf("GC percent %d, want %d", got, serveGCPercent)
	}
}

// newTestDaemon builds what serve builds before it serves, from the
// command line args, logging to logger: the source, the first generation,
// the server settings and the daemon over them (see newDaemon for proc and
// ln). The caller closes the generation it serves (d.sw.Current()).
func newTestDaemon(t *testing.T, args []string, logger *slog.Logger, proc *process, ln *limitListener) *daemon {
	t.Helper()
	o, err := parseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(o, newRegistry(), logger)
	gen, _, errs := src.buildApp(context.Background())
	if errs != nil {
		t.Fatal(errs)
	}
	st, _, errs := src.serverSettings()
	if errs != nil {
		gen.Close()
		t.Fatal(errs)
	}
	return newDaemon(src, gen, st, proc, ln)
}
