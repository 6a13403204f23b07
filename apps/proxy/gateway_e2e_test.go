package proxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vietstack/vietstack-api/apps"
	"github.com/vietstack/vietstack-api/filters"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// gateway serves ../../etc/gateway.ini, unchanged but for backend_url, in
// front of backendURL, with every registered factory.
func gateway(t *testing.T, backendURL string) *httptest.Server {
	t.Helper()
	src, err := os.ReadFile("../../etc/gateway.ini")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^backend_url = .*$`)
	if !re.Match(src) {
		t.Fatal("etc/gateway.ini has no backend_url line")
	}
	ini := re.ReplaceAll(src, []byte("backend_url = "+backendURL))
	ini = bytes.ReplaceAll(ini, []byte("format = json"), []byte("format = json\ndestination = discard"))
	path := filepath.Join(t.TempDir(), "gateway.ini")
	if err := os.WriteFile(path, ini, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := paste.Load(path, paste.Options{})
	if err != nil {
		t.Fatalf("load etc/gateway.ini: %v", err)
	}
	reg := pipeline.NewRegistry()
	apps.Register(reg)
	filters.Register(reg)
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		t.Fatalf("build etc/gateway.ini: %v", err)
	}
	srv := httptest.NewServer(gen.Handler)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		gen.Close()
	})
	return srv
}

// startNginx runs nginx from Debian in front of upstream (host:port) and
// returns its address; the test is skipped when nginx is not installed.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Skip("nginx not installed: apt-get install -y nginx-light (Debian) to run the end-to-end test through nginx")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	// The common "pass any Upgrade" configuration: it forwards h2c too, so
	// the gateway must refuse it itself.
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 128; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    client_max_body_size 64m;
    map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
    server {
        listen %[2]s;
        location / {
            proxy_pass http://%[3]s;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 30s;
        }
    }
}
`, dir, addr, upstream)
	confPath := filepath.Join(dir, "nginx.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "logs/stderr.log"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if b, _ := os.ReadFile(filepath.Join(dir, "logs/error.log")); bytes.Contains(b, []byte("[alert]")) || bytes.Contains(b, []byte("[emerg]")) {
			t.Errorf("nginx error log:\n%s", b)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// edgeChecks runs the gateway behaviours against front (the gateway
// itself, or nginx in front of it).
func edgeChecks(t *testing.T, front string, be *backend, viaNginx bool) {
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()

	t.Run("versions", func(t *testing.T) {
		resp, body := raw(t, front, get("/"))
		var doc struct {
			Versions []struct {
				ID    string                  `json:"id"`
				Links []struct{ Href string } `json:"links"`
			} `json:"versions"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &doc) != nil || len(doc.Versions) != 1 || doc.Versions[0].ID != "v2.1" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if href := doc.Versions[0].Links[0].Href; href != "http://api.example/v2.1/" {
			t.Errorf("self link %q", href)
		}
	})
	t.Run("healthcheck", func(t *testing.T) {
		resp, body := raw(t, front, get("/healthcheck"))
		if resp.StatusCode != 200 || string(body) != "OK" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("paths", func(t *testing.T) {
		for _, tt := range []struct{ target, want string }{
			{"/v2.1/servers", "/compute/v2.1/servers"},
			{"/v2.1/servers?all_tenants=1", "/compute/v2.1/servers?all_tenants=1"},
			{"/v2.1/a%2fb", "/compute/v2.1/a%2fb"},
			{"/v2.1%2fservers", "/compute/v2.1/servers"},
			{"//v2.1//servers", "/compute/v2.1/servers"},
			{"/v2.1/caf%C3%A9", "/compute/v2.1/caf%C3%A9"},
			{"/v2.1/%2e%2e/admin", ""},
			{"/v2.1/./servers", ""},
		} {
			before := be.count()
			resp, body := raw(t, front, get(tt.target))
			if tt.want == "" {
				if resp.StatusCode != 400 || be.count() != before {
					t.Errorf("%s: status %d (backend calls %d), want 400 and no call", tt.target, resp.StatusCode, be.count()-before)
				}
				continue
			}
			if resp.StatusCode != 200 {
				t.Errorf("%s: status %d %s", tt.target, resp.StatusCode, body)
				continue
			}
			if got := be.lastSeen(t).RequestURI; got != tt.want {
				t.Errorf("%s: backend saw %q, want %q", tt.target, got, tt.want)
			}
		}
	})
	t.Run("forwarded headers and request id", func(t *testing.T) {
		req := "GET /v2.1/servers HTTP/1.1\r\nHost: api.example\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n" +
			"Forwarded: for=8.8.8.8\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n"
		resp, _ := raw(t, front, req)
		s := be.lastSeen(t)
		if got := s.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q", got)
		}
		if s.Header.Get("X-Forwarded-Proto") != "http" || s.Header.Get("X-Forwarded-Host") != "api.example" || s.Header.Get("Forwarded") != "" {
			t.Errorf("forwarded headers %v", s.Header)
		}
		ids := resp.Header.Values("X-Openstack-Request-Id")
		if len(ids) != 1 || !strings.HasPrefix(ids[0], "req-") || ids[0] == "req-11111111-1111-4111-8111-111111111111" {
			t.Errorf("client got request ids %q", ids)
		} else if got := s.Header.Get("X-Openstack-Request-Id"); got != ids[0] {
			t.Errorf("backend got request id %q, client %q", got, ids[0])
		}
	})
	t.Run("h2c and trailers never forwarded", func(t *testing.T) {
		before := be.upgrades.Load()
		resp, _ := raw(t, front, "GET /v2.1/x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
		if resp.StatusCode != 200 || be.upgrades.Load() != before {
			t.Errorf("h2c: status %d, backend upgrades %d", resp.StatusCode, be.upgrades.Load()-before)
		}
		resp, body := raw(t, front, "POST /v2.1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\nX-Smuggle: 1\r\n\r\n")
		s := be.lastSeen(t)
		if resp.StatusCode != 200 || len(s.Trailer) != 0 || s.BodyLen != 5 {
			t.Errorf("trailers: status %d %s, backend trailer %v, body %d", resp.StatusCode, body, s.Trailer, s.BodyLen)
		}
	})
	t.Run("bodies both ways", func(t *testing.T) {
		up := make([]byte, 900<<10) // under the 1MiB sizelimit
		rand.Read(up)
		sum := sha256.Sum256(up)
		resp, err := client.Post("http://"+front+"/v2.1/upload", "application/octet-stream", bytes.NewReader(up))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if s := be.lastSeen(t); resp.StatusCode != 200 || s.BodySHA != hex.EncodeToString(sum[:]) {
			t.Errorf("upload: %d, backend sha %s", resp.StatusCode, s.BodySHA)
		}
		resp, err = client.Post("http://"+front+"/v2.1/upload", "application/octet-stream", bytes.NewReader(make([]byte, 2<<20)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("2 MiB upload: %d, want 413 from sizelimit", resp.StatusCode)
		}
		resp, err = client.Get("http://" + front + "/v2.1/big")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != 32<<20 || resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("download: %d bytes, encoding %q", n, resp.Header.Get("Content-Encoding"))
		}
	})
	t.Run("gzip", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+front+"/v2.1/bigjson", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("not compressed: %v", resp.Header)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.NewDecoder(zr).Decode(&v); err != nil {
			t.Errorf("decompressed body: %v", err)
		}
	})
	t.Run("streaming", func(t *testing.T) {
		resp, err := client.Get("http://" + front + "/v2.1/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 6)
		done := make(chan error, 1)
		go func() { _, err := io.ReadFull(resp.Body, buf); done <- err }()
		select {
		case err := <-done:
			if err != nil || string(buf) != "first\n" {
				t.Errorf("first chunk %q %v", buf, err)
			}
		case <-time.After(5 * time.Second):
			t.Error("first chunk not flushed through the edge")
		}
		close(be.release)
		io.Copy(io.Discard, resp.Body)
	})
	t.Run("metrics", func(t *testing.T) {
		resp, body := raw(t, front, get("/metrics"))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var total float64
		for _, m := range fams["vietstack_http_requests_total"].GetMetric() {
			lbl := map[string]string{}
			for _, l := range m.GetLabel() {
				lbl[l.GetName()] = l.GetValue()
			}
			if lbl["pipeline"] != "compute" || lbl["route"] != "/v2.1" {
				t.Errorf("unexpected series %v", lbl)
			}
			total += m.GetCounter().GetValue()
		}
		if total < 10 {
			t.Errorf("requests_total %v, want the requests sent", total)
		}
	})
	t.Run("backend down", func(t *testing.T) {
		addr := be.srv.Listener.Addr().String()
		be.srv.CloseClientConnections()
		be.srv.Listener.Close()
		resp, body := raw(t, front, get("/v2.1/servers"))
		if resp.StatusCode != 502 {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		checkFault(t, body, 502, addr)
	})
}

func TestGatewayIni(t *testing.T) {
	be := newBackend(t, false)
	gw := gateway(t, be.srv.URL+"/compute")
	edgeChecks(t, gw.Listener.Addr().String(), be, false)
}

func TestGatewayIniThroughNginx(t *testing.T) {
	be := newBackend(t, false)
	gw := gateway(t, be.srv.URL+"/compute")
	front := startNginx(t, gw.Listener.Addr().String())
	edgeChecks(t, front, be, true)
}
