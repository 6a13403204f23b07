package proxy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGatewayIniWithDaemon runs the real vietstack-api binary on
// etc/gateway.ini (backend_url pointed at a loopback backend, any free
// port) and proxies through it; SIGTERM then stops it cleanly.
func TestGatewayIniWithDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	be := newBackend(t, false)
	dir := t.TempDir()
	bin := filepath.Join(dir, "vietstack-api")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "./cmd/vietstack-api")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src, err := os.ReadFile("../../etc/gateway.ini")
	if err != nil {
		t.Fatal(err)
	}
	ini := regexp.MustCompile(`(?m)^backend_url = .*$`).ReplaceAll(src, []byte("backend_url = "+be.srv.URL))
	ini = []byte(strings.ReplaceAll(string(ini), "format = json", "format = json\ndestination = discard"))
	cfg := filepath.Join(dir, "gateway.ini")
	os.WriteFile(cfg, ini, 0o644)

	cmd := exec.Command(bin, "--config-file", cfg, "--bind-port", "0", "--log-format", "json")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "serving" && !sent {
				addr <- rec["addr"].(string)
				sent = true
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(15 * time.Second):
		t.Fatal("the daemon did not announce its address")
	}
	for _, tt := range []struct {
		path   string
		status int
		uri    string
	}{
		{"/v2.1/servers?limit=2", 200, "/v2.1/servers?limit=2"},
		{"/", 200, ""},
		{"/healthcheck", 200, ""},
		{"/metrics", 200, ""},
		{"/v2.1/%2e%2e/x", 400, ""},
		{"/nowhere", 404, ""}, // "/" is the versions app, which answers 404 below it
	} {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		if tt.uri != "" && be.lastSeen(t).RequestURI != tt.uri {
			t.Errorf("%s: backend saw %q", tt.path, be.lastSeen(t).RequestURI)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("daemon exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("daemon did not stop on SIGTERM")
	}
}
