//go:build e2e

// End-to-end tests of the operations features: layered configuration
// (--config-file repeated, --config-dir), systemd (sd_notify, socket
// activation) and --watch. Run them with
//
//	go test -tags e2e -run E2E ./cmd/vietstack-api
package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	vietstack "github.com/vietstack/vietstack-api"
	"github.com/vietstack/vietstack-api/apps/hello"
)

// waitBody polls GET url until the body is want, for up to limit.
func waitBody(t *testing.T, url, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			last = string(body)
			if res.StatusCode == 200 && last == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s never answered %q within %v (last %q)", url, want, limit, last)
}

// TestE2EOverlays: the upstream file stays untouched; --config-file
// overlays and --config-dir files change the message and add a filter;
// --check and --dump-graph show the merged result; a broken overlay is
// reported at its own file and line.
func TestE2EOverlays(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "api-paste.ini")
	writeFile(t, base, string(vietstack.DefaultConfig()))
	local := filepath.Join(dir, "local.ini")
	writeFile(t, local, "[app:hello]\nmessage = from local.ini\n")
	confd := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confd, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(confd, "20-request-id.ini"),
		"# add a filter\n[pipeline:main]\npipeline = request_id passthrough hello\n\n[filter:request_id]\nuse = egg:vietstack#request_id\n")
	args := []string{"--config-file", base, "--config-file", local, "--config-dir", confd}

	code, stdout, stderr := runBin(t, append(args, "--check")...)
	if code != 0 || !strings.Contains(stdout, "  main = request_id passthrough hello\n") ||
		!strings.HasPrefix(stdout, base+" + "+local+" + "+filepath.Join(confd, "*.ini")+": OK: serves main") {
		t.Fatalf("--check: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runBin(t, append(args, "--dump-graph")...)
	if code != 0 {
		t.Fatalf("--dump-graph: exit %d: %s", code, stderr)
	}
	var g map[string]any
	if err := json.Unmarshal([]byte(stdout), &g); err != nil {
		t.Fatal(err)
	}
	for g["type"] == "filter" {
		g, _ = g["app"].(map[string]any)
	}
	if local, _ := g["local"].(map[string]any); local["message"] != "from local.ini" {
		t.Errorf("dumped app: %v", g)
	}

	// A later --config-dir file wins over --config-file overlays.
	writeFile(t, filepath.Join(confd, "10-message.ini"), "[app:hello]\nmessage = from conf.d\n")
	d := start(t, args...)
	res, err := http.Get(d.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "from conf.d" || res.Header.Get("X-Openstack-Request-Id") == "" {
		t.Errorf("GET / = %q, request id %q", body, res.Header.Get("X-Openstack-Request-Id"))
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}

	// A broken overlay is named with its own line; the base is not blamed.
	writeFile(t, filepath.Join(confd, "30-typo.ini"), "[app:hello]\n\nmesage = typo\n")
	code, _, stderr = runBin(t, append(args, "--check")...)
	if code != 1 || !strings.Contains(stderr, "30-typo.ini:3: [app:hello] mesage") {
		t.Errorf("--check with a broken overlay: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runBin(t, "--config-file", base, "--config-dir", filepath.Join(dir, "nosuch"), "--check")
	if code != 1 || !strings.Contains(stderr, "cannot read configuration directory") {
		t.Errorf("--check with a missing --config-dir: exit %d\n%s", code, stderr)
	}
}

// TestE2ESystemdNotify: with NOTIFY_SOCKET set, as systemd runs a
// Type=notify-reload service, the daemon reports READY, RELOADING with
// MONOTONIC_USEC and READY again (or the failure in STATUS) on SIGHUP,
// and STOPPING on SIGTERM.
func TestE2ESystemdNotify(t *testing.T) {
	next := notifySocket(t) // sets NOTIFY_SOCKET, inherited by the daemon
	path := filepath.Join(t.TempDir(), "api-paste.ini")
	writeFile(t, path, string(vietstack.DefaultConfig()))
	d := start(t, "--config-file", path)
	d.allowErrors = true // the failed reload is logged at ERROR

	if got := next(); !strings.HasPrefix(got, "READY=1\nSTATUS=serving main on "+d.addr) {
		t.Errorf("start: %q", got)
	}
	writeFile(t, path, strings.Replace(string(vietstack.DefaultConfig()), "message = "+hello.DefaultMessage, "message = reloaded", 1))
	d.signal(syscall.SIGHUP)
	got := next()
	monotonicUsec(t, got)
	if !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("reload start: %q", got)
	}
	if got := next(); !strings.HasPrefix(got, "READY=1\nSTATUS=serving main on "+d.addr) {
		t.Errorf("reload end: %q", got)
	}
	if _, body := get(t, d.url("/")); body != "reloaded" {
		t.Errorf("GET / = %q", body)
	}

	writeFile(t, path, "[app:main]\nuse = egg:vietstack#nosuch\n")
	d.signal(syscall.SIGHUP)
	if got := next(); !strings.HasPrefix(got, "RELOADING=1\n") {
		t.Errorf("failed reload start: %q", got)
	}
	if got := next(); !strings.HasPrefix(got, "READY=1\nSTATUS=reload failed, serving the previous configuration: ") ||
		!strings.Contains(got, "api-paste.ini:2") {
		t.Errorf("failed reload end: %q", got)
	}
	d.signal(syscall.SIGTERM)
	if got := next(); !strings.HasPrefix(got, "STOPPING=1\n") {
		t.Errorf("stop: %q", got)
	}
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestE2ESocketActivation: the daemon serves on the socket passed with
// LISTEN_FDS/LISTEN_PID instead of binding [server:main]'s port, as a
// service started by vietstack-api.socket does.
func TestE2ESocketActivation(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	path := filepath.Join(t.TempDir(), "api-paste.ini")
	// The configured port is taken: binding it would fail.
	writeFile(t, path, strings.Replace(string(vietstack.DefaultConfig()), "port = 8080", "port = "+addr[strings.LastIndexByte(addr, ':')+1:], 1))

	d := startActivated(t, ln, path)
	if !strings.Contains(d.logs.String(), "socket passed by systemd") {
		t.Errorf("no socket activation line:\n%s", d.logs.String())
	}
	if code, body := get(t, d.url("/")); code != 200 || body != hello.DefaultMessage {
		t.Errorf("GET / = %d %q", code, body)
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d:\n%s", code, d.logs.String())
	}
}

// TestE2EWatch: with --watch, saving a loaded file (in place or by
// rename) or adding a file to a --config-dir reloads without SIGHUP; a
// broken save keeps the running pipeline.
func TestE2EWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "api-paste.ini")
	confd := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confd, 0o755); err != nil {
		t.Fatal(err)
	}
	seed := string(vietstack.DefaultConfig())
	writeFile(t, path, seed)
	d := start(t, "--config-file", path, "--config-dir", confd, "--watch")
	d.allowErrors = true // the broken save is logged at ERROR

	writeFile(t, path, strings.Replace(seed, "message = "+hello.DefaultMessage, "message = saved in place", 1))
	waitBody(t, d.url("/"), "saved in place", 5*time.Second)

	tmp := filepath.Join(dir, ".api-paste.ini.tmp")
	writeFile(t, tmp, strings.Replace(seed, "message = "+hello.DefaultMessage, "message = saved by rename", 1))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitBody(t, d.url("/"), "saved by rename", 5*time.Second)

	writeFile(t, filepath.Join(confd, "10-message.ini"), "[app:hello]\nmessage = from a new overlay\n")
	waitBody(t, d.url("/"), "from a new overlay", 5*time.Second)

	writeFile(t, filepath.Join(confd, "10-message.ini"), "[app:hello]\nmessage = broken\nmesage = typo\n")
	d.waitLog("reload failed; still serving the previous configuration")
	if _, body := get(t, d.url("/")); body != "from a new overlay" {
		t.Errorf("after a broken save: GET / = %q", body)
	}
	if !strings.Contains(d.logs.String(), "10-message.ini:3: [app:hello] mesage") {
		t.Errorf("the problem is not named at the overlay's line:\n%s", d.logs.String())
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// startActivated starts the daemon on the configuration at path as systemd
// socket activation does: ln passed as file descriptor 3 with LISTEN_FDS=1
// and LISTEN_PID the daemon's pid. It closes the test's copies of ln, so
// the daemon holds the only one, and fails the test unless the daemon
// serves on ln's address.
func startActivated(t *testing.T, ln net.Listener, path string) *daemonProc {
	t.Helper()
	addr := ln.Addr().String()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{t: t, exited: make(chan int, 1)}
	// sh execs the daemon, so $$ is the daemon's pid, as systemd sets it.
	d.cmd = exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, binary(t), "--config-file", path, "--log-format", "json")
	d.cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	d.cmd.ExtraFiles = []*os.File{f}
	d.cmd.Stderr = &d.logs
	d.launch(t, false)
	f.Close()
	ln.Close() // the daemon holds the only copy now
	if d.addr != addr {
		t.Fatalf("serving on %s, not on the passed socket %s", d.addr, addr)
	}
	return d
}
