package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// lockedBuffer is a concurrency-safe writer that counts Write calls.
type lockedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	writes   int
	maxWrite int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	b.maxWrite = max(b.maxWrite, len(p))
	return b.buf.Write(p)
}

func (b *lockedBuffer) MaxWrite() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.maxWrite
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Writes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes
}

var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte("hello"))
})

// serve sends one request through Root + request_log + h and returns the
// logged lines.
func serve(t *testing.T, text bool, h http.Handler, r *http.Request) []string {
	t.Helper()
	out := &lockedBuffer{}
	s := NewSink(out, nil, 64<<10, time.Hour, nil)
	pipeline.Root(New(s, text)(h)).ServeHTTP(httptest.NewRecorder(), r)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

func TestJSONLine(t *testing.T) {
	r := httptest.NewRequest("POST", "/v2.1/servers?token=secret", nil)
	r.RemoteAddr = "192.0.2.1:43210"
	r.Header.Set("User-Agent", "curl/8.5.0")
	withID := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pipeline.RequestFrom(r).RequestID = "req-00000000-0000-4000-8000-000000000001"
			next.ServeHTTP(w, r)
		})
	}
	lines := serve(t, false, withID(app), r)
	if len(lines) != 1 {
		t.Fatalf("lines = %q", lines)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("%q: %v", lines[0], err)
	}
	want := map[string]any{
		"remote_addr": "192.0.2.1", "method": "POST", "path": "/v2.1/servers",
		"status": float64(201), "bytes": float64(5), "request_id": "req-00000000-0000-4000-8000-000000000001",
		"user_agent": "curl/8.5.0",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, rec["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
	if d, ok := rec["duration_ms"].(float64); !ok || d < 0 || d > 10000 {
		t.Errorf("duration_ms = %v", rec["duration_ms"])
	}
	if strings.Contains(lines[0], "secret") {
		t.Error("query string logged")
	}
}

func TestTextLine(t *testing.T) {
	r := httptest.NewRequest("GET", "/v2.1/servers/detail", nil)
	r.RemoteAddr = "[2001:db8::1]:443"
	r.Header.Set("User-Agent", "python-novaclient 18.0")
	lines := serve(t, true, app, r)
	re := `^time=\S+ remote_addr=2001:db8::1 method=GET path=/v2.1/servers/detail status=201 bytes=5 duration_ms=[0-9.]+ request_id="" user_agent="python-novaclient 18.0"$`
	if len(lines) != 1 || !regexpMatch(re, lines[0]) {
		t.Errorf("line = %q\nwant %s", lines, re)
	}
}

// TestHostileFields: control characters, quotes, invalid UTF-8 and
// invisible runes are escaped; huge fields are capped; one line per
// request whatever the input.
func TestHostileFields(t *testing.T) {
	tests := []struct {
		name     string
		path, ua string
		jsonHas  []string
		textHas  []string
	}{
		{"newline", "/a\nGET /forged 200", "x\r\ny", []string{`"/a\nGET /forged 200"`, `"x\r\ny"`}, []string{`path="/a\nGET /forged 200"`, `user_agent="x\r\ny"`}},
		{"escape and nul", "/a\x1b[31m\x00", "\x7f", []string{`"/a\u001b[31m\u0000"`, `"\u007f"`}, []string{`path="/a\x1b[31m\x00"`, `user_agent="\x7f"`}},
		{"quotes", `/a"b\c`, `ua="x"`, []string{`"/a\"b\\c"`, `"ua=\"x\""`}, []string{`path="/a\"b\\c"`, `user_agent="ua=\"x\""`}},
		{"invalid utf8", "/\xff\xfe", "\xc3", []string{`"/\ufffd\ufffd"`, `"\ufffd"`}, []string{`path="/\xff\xfe"`, `user_agent="\xc3"`}},
		{"bidi override", "/a\u202eb", "é", []string{`"/a\u202eb"`, `"é"`}, []string{`path="/a\u{202e}b"`, `user_agent="é"`}},
	}
	for _, tt := range tests {
		for _, text := range []bool{false, true} {
			r := httptest.NewRequest("GET", "/", nil)
			r.URL.Path = tt.path
			r.Header.Set("User-Agent", tt.ua)
			lines := serve(t, text, app, r)
			if len(lines) != 1 {
				t.Errorf("%s text=%v: %d lines: %q", tt.name, text, len(lines), lines)
				continue
			}
			has := tt.jsonHas
			if text {
				has = tt.textHas
			} else if err := json.Unmarshal([]byte(lines[0]), new(map[string]any)); err != nil {
				t.Errorf("%s: invalid JSON %q: %v", tt.name, lines[0], err)
			}
			for _, h := range has {
				if !strings.Contains(lines[0], h) {
					t.Errorf("%s text=%v: %q lacks %q", tt.name, text, lines[0], h)
				}
			}
			for i := 0; i < len(lines[0]); i++ {
				if c := lines[0][i]; c < 0x20 || c == 0x7f {
					t.Errorf("%s text=%v: raw control byte %#x in %q", tt.name, text, c, lines[0])
				}
			}
		}
	}
}

func TestCaps(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.URL.Path = "/" + strings.Repeat("\n", 8<<10)
	r.Method = strings.Repeat("M", 100)
	r.Header.Set("User-Agent", strings.Repeat("é", 1000))
	for _, text := range []bool{false, true} {
		lines := serve(t, text, app, r)
		if len(lines) != 1 {
			t.Fatalf("%d lines", len(lines))
		}
		// path: 2048 input bytes, 2 output bytes each; method 32; UA 256.
		if n := len(lines[0]); n > 2048*2+32+256+400 {
			t.Errorf("text=%v: line of %d bytes", text, n)
		}
		if !strings.Contains(lines[0], strings.Repeat("M", 32)+`..."`) || strings.Contains(lines[0], strings.Repeat("M", 33)) {
			t.Errorf("text=%v: method not capped", text)
		}
		if !strings.Contains(lines[0], strings.Repeat("é", 128)+`..."`) {
			t.Errorf("text=%v: user agent not capped at a rune boundary", text)
		}
	}
}

func TestPanicLogged(t *testing.T) {
	out := &lockedBuffer{}
	s := NewSink(out, nil, 64<<10, time.Hour, nil)
	h := pipeline.Root(New(s, false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") })))
	// The panic passes through the access log (which logs the 500 the
	// root answers) and is answered by the root.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 {
		t.Errorf("code %d, want the root's 500", rec.Code)
	}
	s.Close()
	if !strings.Contains(out.String(), `"status":500`) {
		t.Errorf("panic not logged as 500: %q", out.String())
	}
}

// TestNoRoot: without a generation root the filter measures by itself.
func TestNoRoot(t *testing.T) {
	out := &lockedBuffer{}
	s := NewSink(out, nil, 64<<10, time.Hour, nil)
	r := httptest.NewRequest("GET", "/x", nil)
	r.RemoteAddr = "192.0.2.9:1"
	New(s, false)(app).ServeHTTP(httptest.NewRecorder(), r)
	s.Close()
	if !strings.Contains(out.String(), `"remote_addr":"192.0.2.9","method":"GET","path":"/x","status":201,"bytes":5`) {
		t.Errorf("line = %q", out.String())
	}
}

// TestBufferedWrites: appending never writes; the flusher writes in
// batches; Close writes the rest and lines after Close are dropped.
func TestBufferedWrites(t *testing.T) {
	out := &lockedBuffer{}
	s := NewSink(out, nil, 64<<10, time.Hour, nil)
	h := pipeline.Root(New(s, false)(app))
	for i := 0; i < 100; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	if n := out.Writes(); n != 0 {
		t.Errorf("%d writes before a flush, want 0", n)
	}
	s.Close()
	if n := out.Writes(); n != 1 {
		t.Errorf("%d writes at Close, want 1", n)
	}
	if n := strings.Count(out.String(), "\n"); n != 100 {
		t.Errorf("%d lines, want 100", n)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if n := strings.Count(out.String(), "\n"); n != 100 {
		t.Errorf("a line was written after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// The interval flushes without Close.
	out2 := &lockedBuffer{}
	s2 := NewSink(out2, nil, 64<<10, 5*time.Millisecond, nil)
	defer s2.Close()
	s2.Append([]byte("x\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out2.String() != "x\n" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if out2.String() != "x\n" {
		t.Errorf("interval flush: %q", out2.String())
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	release chan struct{}
	n       int
	mu      sync.Mutex
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	w.n += len(p)
	w.mu.Unlock()
	return len(p), nil
}

// TestSlowDestinationBounded: a stuck destination never blocks requests
// and memory stays bounded; dropped lines are counted.
func TestSlowDestinationBounded(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	s := NewSink(w, nil, 4<<10, time.Hour, nil)
	line := []byte(strings.Repeat("x", 99) + "\n")
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10000; i++ {
			s.Append(line)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Append blocked on a stuck destination")
	}
	buffered := s.buffered()
	s.mu.Lock()
	dropped, chunks := s.dropped, s.chunks
	s.mu.Unlock()
	if max := maxChunks * s.limit; buffered > max+maxChunks*len(line) || chunks > maxChunks {
		t.Errorf("buffered %d bytes in %d chunks, bound %d bytes in %d", buffered, chunks, max, maxChunks)
	}
	if dropped == 0 {
		t.Error("no line counted as dropped")
	}
	close(w.release)
	s.Close()
}

func TestFactory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	// Built as a generation, so that closing it stops the flusher and
	// closes the file (OnClose needs a build).
	ini := filepath.Join(dir, "api-paste.ini")
	if err := os.WriteFile(ini, []byte("[pipeline:main]\npipeline = log app\n"+
		"[filter:log]\nuse = egg:vietstack#request_log\ndestination = "+path+"\nformat = text\nflush_interval = 0.01\n"+
		"[app:app]\nuse = egg:vietstack#app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	graph, err := paste.Load(ini, paste.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	Register(reg)
	reg.App("app", func(context.Context, *pipeline.Config) (http.Handler, error) { return app, nil }, pipeline.Info{})
	gen, err := pipeline.Build(context.Background(), graph, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	gen.Handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/logged", nil))
	deadline := time.Now().Add(5 * time.Second)
	var data []byte
	for time.Now().Before(deadline) {
		data, _ = os.ReadFile(path)
		if len(data) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(string(data), "path=/logged status=201") {
		t.Errorf("file = %q", data)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}

	mw, err := Factory(context.Background(), &pipeline.Config{Name: "filter:request_log", Local: map[string]string{"destination": "discard"}})
	if err != nil {
		t.Fatal(err)
	}
	if h := mw(app); h == nil {
		t.Error("discard: nil handler")
	}

	for _, local := range []map[string]string{
		{"format": "xml"},
		{"destination": ""},
		{"flush_interval": "0"},
		{"buffer_size": "1"},
		{"destination": filepath.Join(dir, "missing", "x.log")},
		{"destnation": "stderr"},
	} {
		c := &pipeline.Config{Name: "filter:request_log", Local: local}
		if _, err := Factory(context.Background(), c); err == nil || !strings.Contains(err.Error(), "[filter:request_log]") {
			t.Errorf("%v: err = %v, want a positioned error", local, err)
		}
	}

	if f, ok := reg.Lookup("egg:vietstack#request_log", pipeline.KindFilter); !ok || f.Kind != pipeline.KindFilter {
		t.Errorf("lookup: %v %v", f, ok)
	}
}

func TestAllocs(t *testing.T) {
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	r := httptest.NewRequest("GET", "/v2.1/servers", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("User-Agent", "curl/8")
	w := httptest.NewRecorder()
	base := testing.AllocsPerRun(200, func() { pipeline.Root(noop).ServeHTTP(w, r) })
	for _, text := range []bool{false, true} {
		s := NewSink(io.Discard, nil, 4<<20, time.Hour, nil)
		h := pipeline.Root(New(s, text)(noop))
		got := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
		s.Close()
		if got != base {
			t.Errorf("text=%v: allocs = %v, want %v (root only)", text, got, base)
		}
	}
}

func BenchmarkRequestLogJSON(b *testing.B) { benchLog(b, false) }
func BenchmarkRequestLogText(b *testing.B) { benchLog(b, true) }

func benchLog(b *testing.B, text bool) {
	s := NewSink(io.Discard, nil, 64<<10, 10*time.Millisecond, nil)
	defer s.Close()
	h := pipeline.Root(New(s, text)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	r := httptest.NewRequest("GET", "/v2.1/servers/detail", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("User-Agent", "python-novaclient")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// TestLineCapWorstCase: every field filled with the input that escapes
// longest still gives a line under 16 KiB, so N hostile requests grow the
// log by at most N × 16 KiB.
func TestLineCapWorstCase(t *testing.T) {
	for _, text := range []bool{false, true} {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = strings.Repeat("\x1b", 64<<10)
		r.Method = strings.Repeat("\x01", 1000)
		r.RemoteAddr = strings.Repeat("\x02", 1000)
		r.Header.Set("User-Agent", strings.Repeat("\u202e", 10000))
		setID := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				pipeline.RequestFrom(r).RequestID = strings.Repeat("\x03", 1000)
				pipeline.RequestFrom(r).ScriptName = strings.Repeat("\x04", 1000)
				next.ServeHTTP(w, r)
			})
		}
		lines := serve(t, text, setID(app), r)
		if len(lines) != 1 || len(lines[0]) >= 16<<10 {
			t.Errorf("text=%v: %d lines, first %d bytes", text, len(lines), len(lines[0]))
		}
	}
}

// The cached second and the integer milliseconds print what the time
// layout and strconv.AppendFloat print, across second boundaries and
// for every sub-millisecond digit pattern.
func TestAppendTimeAndMillis(t *testing.T) {
	l := &logger{}
	base := time.Date(2026, 11, 30, 23, 59, 58, 0, time.FixedZone("ICT", 7*3600))
	for i := 0; i < 5000; i++ {
		now := base.Add(time.Duration(i) * 997 * time.Microsecond).Add(time.Duration(i%7) * 131 * time.Nanosecond)
		got := string(l.appendTime(nil, now))
		if want := now.UTC().Format(timeFormat); got != want {
			t.Fatalf("appendTime(%v) = %q, want %q", now, got, want)
		}
	}
	for _, d := range []time.Duration{0, 999, time.Microsecond, 7 * time.Microsecond, 999 * time.Microsecond,
		time.Millisecond, 1234567 * time.Microsecond, 10*time.Second + 5*time.Microsecond, 90 * time.Minute,
		-1500 * time.Microsecond} {
		got := string(appendMillis(nil, d))
		if want := strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64); got != want {
			t.Errorf("appendMillis(%v) = %q, want %q", d, got, want)
		}
	}
}

// The plain-ASCII fast path of appendJSON gives what the escaping path
// gives, and leaves everything that needs an escape or a cut to it.
func TestAppendJSONFastPath(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"/v2.1", "/servers", `"/v2.1/servers"`},
		{"", "", `""`},
		{"python-novaclient", "", `"python-novaclient"`},
		{`a"b`, "", `"a\"b"`},
		{`a\b`, "", `"a\\b"`},
		{"a\x7fb", "", `"a\u007fb"`},
		{"tab\there", "", `"tab\there"`},
		{"é", "", `"é"`},
		{"0123456789", "abc", `"0123456789..."`},
	} {
		max := 32
		if strings.HasPrefix(tc.a, "0123") {
			max = 10
		}
		if got := string(appendJSON(nil, tc.a, tc.b, max)); got != tc.want {
			t.Errorf("appendJSON(%q, %q) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestChunksInOrder: a busy sink hands full chunks to the flusher and goes
// on in a free one; every line comes out once, in order, in writes of at
// most one chunk, and appending allocates nothing once the chunks exist.
// The ~1.1 MB of lines fit in fewer than maxChunks chunks of 32 KiB, so
// none may be dropped however late the flusher runs.
func TestChunksInOrder(t *testing.T) {
	out := &lockedBuffer{}
	const limit = 32 << 10
	s := NewSink(out, nil, limit, time.Hour, nil)
	var want strings.Builder
	for i := 0; i < 20000; i++ {
		line := fmt.Sprintf("line %06d %s\n", i, strings.Repeat("x", i%90))
		want.WriteString(line)
		s.Append([]byte(line))
	}
	s.Close()
	if got := out.String(); got != want.String() {
		t.Fatalf("lines lost, repeated or out of order: got %d bytes, want %d", len(got), want.Len())
	}
	if w := out.MaxWrite(); w > limit+lineSlack {
		t.Errorf("a write of %d bytes, more than a chunk", w)
	}

	d := NewSink(io.Discard, nil, 4<<10, time.Hour, nil)
	defer d.Close()
	line := []byte(strings.Repeat("y", 99) + "\n")
	for i := 0; i < 10000; i++ {
		d.Append(line)
	}
	// A line never allocates; a new chunk may, when the flusher lags on a
	// loaded machine (one per 40 lines of 100 bytes at most).
	if n := testing.AllocsPerRun(5000, func() { d.Append(line) }); n > 0.03 {
		t.Errorf("Append allocates %.2f times per line", n)
	}
}

// buffered returns the bytes held in chunks that are not written yet.
func (s *Sink) buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.cur)
	for _, b := range s.full {
		n += len(b)
	}
	return n
}
