//go:build e2e

// End-to-end tests: they build the real binary and drive it as an operator
// would, over real sockets and with real signals. Run them with
//
//	go test -tags e2e -run E2E ./cmd/vietstack-api
//
// (make test does).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	vietstack "github.com/vietstack/vietstack-api"
	"github.com/vietstack/vietstack-api/apps/hello"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// TestMain removes the binary and fails the run when a goroutine started
// by the tests is still running once they have all finished (goleak; the
// package's main_test.go does the same without the e2e tag).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
		os.Exit(code)
	}))
}

// binary builds vietstack-api once for all the tests.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "vietstack-e2e-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "vietstack-api")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// daemonProc is a running vietstack-api.
type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	logs   syncBuffer
	addr   string
	exited chan int
	// allowErrors accepts ERROR log lines (a test that provokes them).
	allowErrors bool
}

// start runs the binary with args plus a free loopback port and JSON logs,
// and waits until it announces that it serves.
func start(t *testing.T, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, exited: make(chan int, 1)}
	args = append(args, "--bind-host", "127.0.0.1", "--bind-port", "0", "--log-format", "json")
	d.cmd = exec.Command(binary(t), args...)
	d.cmd.Stderr = &d.logs
	d.cmd.Stdout = io.Discard
	d.launch(t, true)
	return d
}

// launch starts d.cmd, collects its exit status in d.exited and waits
// until it announces that it serves (d.addr). At the end of the test it
// kills the daemon if it still runs and checks its log with checkLogs
// and, with noErrors, for ERROR lines unless d.allowErrors.
func (d *daemonProc) launch(t *testing.T, noErrors bool) {
	t.Helper()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.cmd.Wait()
		d.exited <- d.cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.exited
		}
		checkLogs(t, d.logs.String())
		if noErrors && !d.allowErrors && strings.Contains(d.logs.String(), `"level":"ERROR"`) {
			t.Errorf("unexpected ERROR in the daemon log:\n%s", d.logs.String())
		}
	})
	d.addr = servingAddr(t, d.logs.String, d.exited)
}

// checkLogs fails on what must never appear in the daemon's log: a Go
// stack trace or a data race.
func checkLogs(t *testing.T, logs string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", "panic:", "DATA RACE"} {
		if strings.Contains(logs, bad) {
			t.Errorf("daemon log contains %q:\n%s", bad, logs)
		}
	}
}

func (d *daemonProc) url(path string) string { return "http://" + d.addr + path }

func (d *daemonProc) signal(s os.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(s); err != nil {
		d.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its status.
func (d *daemonProc) wait(limit time.Duration) int {
	d.t.Helper()
	select {
	case code := <-d.exited:
		d.exited <- code
		return code
	case <-time.After(limit):
		d.t.Fatalf("daemon still running after %v:\n%s", limit, d.logs.String())
		return -1
	}
}

// waitLog waits for a log line containing s.
func (d *daemonProc) waitLog(s string) {
	d.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(d.logs.String(), s) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.t.Fatalf("no log line containing %q:\n%s", s, d.logs.String())
}

// runBin runs the binary to completion.
func runBin(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(binary(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	checkLogs(t, errOut.String())
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestE2ESeed: with no flags but the port, the binary serves the built-in
// seed configuration.
func TestE2ESeed(t *testing.T) {
	d := start(t)
	if code, body := get(t, d.url("/")); code != 200 || body != hello.DefaultMessage {
		t.Errorf("GET / = %d %q, want 200 %q", code, body, hello.DefaultMessage)
	}
	res, err := http.Head(d.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.ContentLength != int64(len(hello.DefaultMessage)) {
		t.Errorf("HEAD / = %d, length %d", res.StatusCode, res.ContentLength)
	}
	res, err = http.Post(d.url("/"), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	if !strings.Contains(d.logs.String(), `"msg":"serving"`) {
		t.Errorf("no serving line:\n%s", d.logs.String())
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, d.logs.String())
	}
}

// TestE2EFilterAddRemove serves copies of the root api-paste.ini with a
// filter added and removed and checks what changes: the composed graph
// and the answer (request_id adds an X-Openstack-Request-Id header).
func TestE2EFilterAddRemove(t *testing.T) {
	dir := t.TempDir()
	base := string(vietstack.DefaultConfig())
	variants := []struct {
		name     string
		pipeline string
		extra    string
		chain    string // --check summary line
		filters  int    // filter nodes in --dump-graph
		message  string
		reqID    bool // X-Openstack-Request-Id expected
	}{
		{"seed", "passthrough hello", "", "  main = passthrough hello\n", 1, hello.DefaultMessage, false},
		{"request_id added", "request_id passthrough hello",
			"\n[filter:request_id]\nuse = egg:vietstack#request_id\n", "  main = request_id passthrough hello\n", 2, hello.DefaultMessage, true},
		{"request_id moved", "passthrough request_id hello",
			"\n[filter:request_id]\nuse = egg:vietstack#request_id\n", "  main = passthrough request_id hello\n", 2, hello.DefaultMessage, true},
		{"all removed", "hello", "\n[filter:request_id]\nuse = egg:vietstack#request_id\n", "  main = hello\n", 0, hello.DefaultMessage, false},
		{"new message", "hello", "", "  main = hello\n", 0, "changed", false},
	}
	reqIDPattern := regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			text := strings.Replace(base, "pipeline = passthrough hello", "pipeline = "+v.pipeline, 1)
			text = strings.Replace(text, "message = "+hello.DefaultMessage, "message = "+v.message, 1)
			text += v.extra
			path := filepath.Join(dir, strings.ReplaceAll(v.name, " ", "_")+".ini")
			writeFile(t, path, text)

			code, stdout, stderr := runBin(t, "--config-file", path, "--check")
			if code != 0 || !strings.Contains(stdout, v.chain) {
				t.Fatalf("--check: exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, v.chain)
			}
			code, stdout, stderr = runBin(t, "--config-file", path, "--dump-graph")
			if code != 0 {
				t.Fatalf("--dump-graph: exit %d: %s", code, stderr)
			}
			var g map[string]any
			if err := json.Unmarshal([]byte(stdout), &g); err != nil {
				t.Fatal(err)
			}
			n := 0
			for g["type"] == "filter" {
				n++
				g, _ = g["app"].(map[string]any)
			}
			if n != v.filters || g["factory"] != "egg:vietstack#hello" {
				t.Errorf("graph has %d filters in front of %v, want %d in front of hello", n, g["factory"], v.filters)
			}

			d := start(t, "--config-file", path)
			res, err := http.Get(d.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(body) != v.message {
				t.Errorf("GET / = %d %q, want %q", res.StatusCode, body, v.message)
			}
			id := res.Header.Get("X-Openstack-Request-Id")
			if v.reqID && !reqIDPattern.MatchString(id) {
				t.Errorf("X-Openstack-Request-Id = %q, want req-<uuid4>", id)
			}
			if !v.reqID && id != "" {
				t.Errorf("X-Openstack-Request-Id = %q without the filter", id)
			}
			d.signal(syscall.SIGINT)
			if code := d.wait(10 * time.Second); code != 0 {
				t.Errorf("exit %d after SIGINT", code)
			}
		})
	}
}

// TestE2EReload: SIGHUP with a broken file keeps serving the old pipeline
// and logs every problem with its position; SIGHUP with a good file swaps.
func TestE2EReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-paste.ini")
	writeFile(t, path, string(vietstack.DefaultConfig()))
	d := start(t, "--config-file", path)
	d.allowErrors = true // the failed reload is logged at ERROR
	if _, body := get(t, d.url("/")); body != hello.DefaultMessage {
		t.Fatalf("GET / = %q", body)
	}

	broken, err := os.ReadFile("testdata/broken-options.ini")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(broken))
	d.signal(syscall.SIGHUP)
	d.waitLog("reload failed; still serving the previous configuration")
	for _, line := range []string{"api-paste.ini:7: [filter:passthrough] verbose", "api-paste.ini:11: [app:hello] mesage", "api-paste.ini:15: [server:main] port"} {
		if !strings.Contains(d.logs.String(), line) {
			t.Errorf("reload log lacks %q:\n%s", line, d.logs.String())
		}
	}
	for range 20 {
		if code, body := get(t, d.url("/")); code != 200 || body != hello.DefaultMessage {
			t.Fatalf("after failed reload: GET / = %d %q", code, body)
		}
	}

	writeFile(t, path, strings.Replace(string(vietstack.DefaultConfig()), "message = "+hello.DefaultMessage, "message = reloaded", 1))
	d.signal(syscall.SIGHUP)
	d.waitLog(`"msg":"reloaded"`)
	if code, body := get(t, d.url("/")); code != 200 || body != "reloaded" {
		t.Errorf("after reload: GET / = %d %q", code, body)
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

const echoINI = `[app:main]
use = egg:vietstack#echo

[server:main]
use = egg:Paste#http
graceful_shutdown_timeout = %s
`

// startSlowRequest sends a request whose handler (echo) is running and
// waiting for the rest of its body, and returns the connection.
func startSlowRequest(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, "POST /slow HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nhello"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the handler is now reading the body
	return conn
}

// TestE2EReloadBurst: 20 SIGHUPs within 100ms give one rebuild, and the
// newest file wins.
func TestE2EReloadBurst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-paste.ini")
	writeFile(t, path, string(vietstack.DefaultConfig()))
	d := start(t, "--config-file", path)
	for i := range 20 {
		writeFile(t, path, strings.Replace(string(vietstack.DefaultConfig()),
			"message = "+hello.DefaultMessage, "message = version "+strconv.Itoa(i), 1))
		d.signal(syscall.SIGHUP)
		time.Sleep(5 * time.Millisecond)
	}
	d.waitLog(`"msg":"reloaded"`)
	time.Sleep(300 * time.Millisecond) // room for a second, unwanted rebuild
	if n := strings.Count(d.logs.String(), `"msg":"reloading"`); n < 1 || n > 2 {
		t.Errorf("%d rebuilds for a burst of 20 SIGHUPs, want 1 (at most 2):\n%s", n, d.logs.String())
	}
	if code, body := get(t, d.url("/")); code != 200 || body != "version 19" {
		t.Errorf("GET / = %d %q, want the newest file's message", code, body)
	}
}

// TestE2EGracefulShutdown: a request in flight when SIGTERM arrives still
// gets its complete answer, new connections are refused, and the daemon
// then exits 0.
func TestE2EGracefulShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.ini")
	writeFile(t, path, fmt.Sprintf(echoINI, "30s"))
	d := start(t, "--config-file", path)
	conn := startSlowRequest(t, d.addr)
	d.signal(syscall.SIGTERM)
	d.waitLog(`"msg":"shutting down"`)
	checkDrain(t, d, conn, 10*time.Second)
}

// checkDrain checks a daemon stopping with conn's request (from
// startSlowRequest) in flight: new connections are refused, the daemon
// waits, the request then gets its complete answer and the daemon exits 0
// within limit.
func checkDrain(t *testing.T, d *daemonProc, conn net.Conn, limit time.Duration) {
	t.Helper()
	refused := false
	for range 100 {
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Errorf("new connections still accepted after SIGTERM")
	}
	select {
	case code := <-d.exited:
		t.Fatalf("exited (%d) with a request in flight", code)
	default:
	}
	if _, err := io.WriteString(conn, "world"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(limit))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(body), "/slow") {
		t.Errorf("in-flight request: %d %q", res.StatusCode, body)
	}
	if code := d.wait(limit); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, d.logs.String())
	}
}

// TestE2EShutdownGrace: a request that outlives graceful_shutdown_timeout
// is cut and the daemon exits on time.
func TestE2EShutdownGrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.ini")
	writeFile(t, path, fmt.Sprintf(echoINI, "1s"))
	d := start(t, "--config-file", path)
	startSlowRequest(t, d.addr)
	begin := time.Now()
	d.signal(syscall.SIGTERM)
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
	if took := time.Since(begin); took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("stopped after %v, want about the 1s grace period", took)
	}
	if logs := d.logs.String(); !strings.Contains(logs, "grace period over") ||
		!strings.Contains(logs, `"in_flight":1`) || !strings.Contains(logs, `"requests_cut":1`) {
		t.Errorf("no log of the request in flight and cut:\n%s", logs)
	}
}

// TestE2ESecondSignal: a second SIGTERM during the grace period closes
// the remaining connections at once.
func TestE2ESecondSignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.ini")
	writeFile(t, path, fmt.Sprintf(echoINI, "30s"))
	d := start(t, "--config-file", path)
	startSlowRequest(t, d.addr)
	d.signal(syscall.SIGTERM)
	d.waitLog(`"msg":"shutting down"`)
	begin := time.Now()
	d.signal(syscall.SIGTERM)
	if code := d.wait(5 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("stopped %v after the second signal", took)
	}
	if !strings.Contains(d.logs.String(), "second signal; closing every connection now") ||
		!strings.Contains(d.logs.String(), `"requests_cut":1`) {
		t.Errorf("second signal not logged:\n%s", d.logs.String())
	}
}

// TestE2EShutdownDelay: during --shutdown-delay the healthcheck answers
// 503 while the other routes, on new connections too, still answer 200;
// then the daemon stops.
func TestE2EShutdownDelay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drain.ini")
	writeFile(t, path, `[composite:main]
use = egg:Paste#urlmap
/ = hello
/healthcheck = healthcheck

[app:hello]
use = egg:vietstack#hello

[app:healthcheck]
use = egg:vietstack#healthcheck
`)
	d := start(t, "--config-file", path, "--shutdown-delay", "2s")
	if code, body := get(t, d.url("/healthcheck")); code != 200 || strings.Contains(body, "SHUTTING DOWN") {
		t.Fatalf("healthcheck before the signal: %d %q", code, body)
	}
	begin := time.Now()
	d.signal(syscall.SIGTERM)
	d.waitLog("draining")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{{"/healthcheck", 503, "SHUTTING DOWN"}, {"/", 200, hello.DefaultMessage}} {
		res, err := client.Get(d.url(tt.path))
		if err != nil {
			t.Fatalf("GET %s during the drain: %v", tt.path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
			t.Errorf("GET %s during the drain = %d %q, want %d %q", tt.path, res.StatusCode, body, tt.status, tt.body)
		}
	}
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
	if took := time.Since(begin); took < 2*time.Second {
		t.Errorf("stopped %v after SIGTERM, before the 2s delay", took)
	}
}

// TestE2ECheckBroken: --check lists every problem with file:line, exit 1.
func TestE2ECheckBroken(t *testing.T) {
	code, stdout, stderr := runBin(t, "--config-file", "testdata/broken-options.ini", "--check")
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	want := []string{
		"testdata/broken-options.ini:7: [filter:passthrough] verbose: ",
		"testdata/broken-options.ini:11: [app:hello] mesage: ",
		"testdata/broken-options.ini:15: [server:main] port: ",
		"testdata/broken-options.ini: 3 problems",
	}
	lines := nonWarningLines(stderr)
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i+1, lines[i], w)
		}
	}
	code, stdout, _ = runBin(t, "--config-file", "../../etc/api-paste.ini", "--check")
	if code != 0 || !strings.Contains(stdout, "main = urlmap") {
		t.Errorf("etc/api-paste.ini: exit %d, %q", code, stdout)
	}
}

// TestE2EOperatorExample serves etc/api-paste.ini and checks each route.
func TestE2EOperatorExample(t *testing.T) {
	d := start(t, "--config-file", "../../etc/api-paste.ini")
	tests := []struct {
		path    string
		status  int
		body    string // substring
		ctype   string // prefix
		request bool   // X-Openstack-Request-Id expected
	}{
		{"/", 200, `"id":"v1"`, "application/json", true},
		{"/v1", 200, hello.DefaultMessage, "text/plain", true},
		{"/v1/servers", 200, hello.DefaultMessage, "text/plain", true},
		{"/healthcheck", 200, "OK", "text/plain", false},
		{"/nope", 404, "", "", true}, // "/" takes every other path: the versions app answers 404
	}
	for _, tt := range tests {
		res, err := http.Get(d.url(tt.path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status || !strings.Contains(string(body), tt.body) ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), tt.ctype) {
			t.Errorf("GET %s = %d %s %q", tt.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		if got := res.Header.Get("X-Openstack-Request-Id") != ""; got != tt.request {
			t.Errorf("GET %s: request id present = %v, want %v", tt.path, got, tt.request)
		}
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestE2EDumpGraph is one smoke case of the compatibility corpus through
// the binary (the loader's tests run every case).
func TestE2EDumpGraph(t *testing.T) {
	code, stdout, stderr := runBin(t, "--config-file", "testdata/compat/test_config.ini", "--name", "test_global_conf",
		"--global", "def2=TEST DEF 2", "--global", "inherit=bazbar", "--dump-graph")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	assertSameJSON(t, stdout, "testdata/compat/test_config@test_global_conf+globals.expected.json")
}

// TestE2EBadInput: bad flags, missing files and a busy port each give one
// clear message and the documented status, never a stack trace.
func TestE2EBadInput(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	unreadable := filepath.Join(t.TempDir(), "secret.ini")
	writeFile(t, unreadable, "[app:main]\nuse = egg:vietstack#hello\n")
	os.Chmod(unreadable, 0)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad flag", []string{"--bogus"}, 2, "vietstack-api: unknown flag: --bogus\nRun 'vietstack-api --help' for usage.\n"},
		{"bad port", []string{"--bind-port", "99999"}, 2, "vietstack-api: --bind-port 99999: must be between 0 and 65535\nRun 'vietstack-api --help' for usage.\n"},
		{"missing file", []string{"--config-file", "nosuch.ini"}, 1, "cannot read configuration file nosuch.ini: no such file or directory\n"},
		{"port in use", []string{"--bind-host", "127.0.0.1", "--bind-port", busy, "--log-level", "error"}, 1,
			"vietstack-api: cannot listen on 127.0.0.1:" + busy + ": address already in use\n"},
	}
	if os.Geteuid() != 0 { // root reads any file
		tests = append(tests, struct {
			name string
			args []string
			code int
			want string
		}{"unreadable file", []string{"--config-file", unreadable}, 1, "permission denied\n"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runBin(t, tt.args...)
			if code != tt.code || stdout != "" || !strings.HasSuffix(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and stderr ending %q", code, stdout, stderr, tt.code, tt.want)
			}
			if n := strings.Count(stderr, "\n"); n > 3 {
				t.Errorf("%d lines of stderr, want a short message:\n%s", n, stderr)
			}
		})
	}
}
