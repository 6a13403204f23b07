//go:build e2e

// End-to-end test of scale-out: two vietstack-api instances behind nginx
// (Debian's), configured by etc/scale-out/nginx.conf. Run it with
//
//	go test -tags e2e -run E2EScaleOut ./cmd/vietstack-api
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// scaleOutOverlay is laid over etc/api-paste.ini for each instance: the
// /v1 application answers the instance's marker, the access log is
// discarded (the test counts in nginx's), and the healthcheck's disable
// file lives in the test's directory.
const scaleOutOverlay = `[app:api_v1_app]
message = %s

[filter:request_log]
destination = discard

[app:healthcheck]
disable_by_file_path = %s
`

// TestE2EScaleOut runs two instances of etc/api-paste.ini behind nginx
// with etc/scale-out/nginx.conf and keeps 16 keep-alive clients busy
// through nginx while the first instance reloads a changed file (its new
// marker must come through) and the second stops gracefully with
// --shutdown-delay: every request must get 200 and a known marker.
func TestE2EScaleOut(t *testing.T) {
	nginx := nginxBinary(t)
	dir := t.TempDir()
	const (
		markerA1 = "scale-out instance a, generation 1"
		markerA2 = "scale-out instance a, generation 2"
		markerB1 = "scale-out instance b, generation 1"
	)
	overlay := func(name, marker string) string {
		path := filepath.Join(dir, name+".ini")
		writeFile(t, path, fmt.Sprintf(scaleOutOverlay, marker, filepath.Join(dir, name+".disabled")))
		return path
	}
	instance := func(name, marker string) *daemonProc {
		return start(t, "--config-file", "../../etc/api-paste.ini", "--config-file", overlay(name, marker),
			"--shutdown-delay", "1s")
	}
	a := instance("a", markerA1)
	b := instance("b", markerB1)
	front := startScaleOutNginx(t, nginx, dir, a.addr, b.addr)

	load := startLoad(t, "http://"+front.addr+"/v1/servers", 16, markerA1, markerA2, markerB1)
	load.waitFor(t, "both instances to answer through nginx", 30*time.Second, func(s loadStats) bool {
		return s.markers[markerA1] > 0 && s.markers[markerB1] > 0
	})

	// Reload a: its new marker must come through nginx, with no failure.
	overlay("a", markerA2)
	a.signal(syscall.SIGHUP)
	a.waitLog(`"msg":"reloaded"`)
	load.waitFor(t, "instance a's new marker through nginx", 30*time.Second, func(s loadStats) bool {
		return s.markers[markerA2] > 0
	})
	reloaded := load.stats()

	// Stop b gracefully: it answers 503 on /healthcheck for 1s while it
	// still serves, then closes its listener and drains; nginx retries the
	// requests that meet the closed port or a closing connection on a.
	b.signal(syscall.SIGTERM)
	stopping := load.stats()
	if code := b.wait(60 * time.Second); code != 0 {
		t.Fatalf("instance b: exit %d after SIGTERM:\n%s", code, b.logs.String())
	}
	stopped := load.stats()
	if !strings.Contains(b.logs.String(), "draining") || !strings.Contains(b.logs.String(), `"msg":"stopped"`) ||
		strings.Contains(b.logs.String(), "grace period over") {
		t.Errorf("instance b did not drain and stop cleanly:\n%s", b.logs.String())
	}
	// Another second of traffic, a alone (and at least 100 requests, on a
	// slow machine).
	after := time.Now().Add(time.Second)
	load.waitFor(t, "a second of traffic after instance b stopped", 60*time.Second, func(s loadStats) bool {
		return time.Now().After(after) && s.total >= stopped.total+100
	})
	final := load.stop()

	t.Logf("%d requests in %v through nginx (16 clients): %d failed; %q %d, %q %d, %q %d",
		final.total, final.elapsed.Round(time.Millisecond), final.failed,
		markerA1, final.markers[markerA1], markerA2, final.markers[markerA2], markerB1, final.markers[markerB1])
	t.Logf("phases: %d requests until a's new marker came through; %d during b's drain (SIGTERM to exit), %d of them answered by b; %d after b stopped",
		reloaded.total, stopped.total-stopping.total,
		stopped.markers[markerB1]-stopping.markers[markerB1], final.total-stopped.total)
	if final.failed > 0 {
		t.Errorf("%d of %d requests failed through nginx; the first ones:\n%s",
			final.failed, final.total, strings.Join(final.failures, "\n"))
	}
	if final.markers[markerA1] == 0 || final.markers[markerA2] == 0 || final.markers[markerB1] == 0 {
		t.Errorf("a marker never came through: %v", final.markers)
	}
	if n := final.markers[markerB1] - stopped.markers[markerB1]; n != 0 {
		t.Errorf("%d answers from instance b after it exited", n)
	}

	// nginx saw the same requests: one access-log line each, every one 200;
	// a line naming two instances is a request nginx retried.
	lines := front.waitAccessLines(t, "/v1/servers", final.total)
	retried, non200 := 0, 0
	for _, l := range lines {
		if strings.Contains(l, ", ") {
			retried++
		}
		if !strings.Contains(l, `" 200 `) {
			non200++
		}
	}
	if non200 > 0 {
		t.Errorf("%d access-log lines without status 200", non200)
	}
	t.Logf("nginx: %d access-log lines, %d requests retried on the other instance; upstream errors in its error log: %v",
		len(lines), retried, front.upstreamErrors())

	a.signal(syscall.SIGTERM)
	if code := a.wait(60 * time.Second); code != 0 {
		t.Errorf("instance a: exit %d after SIGTERM", code)
	}
}

// nginxBinary finds Debian's nginx. Without it the test is skipped, except
// under CI (CI set), where it must run.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if bin, err := exec.LookPath("nginx"); err == nil {
		return bin
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nginx is not installed and CI is set: apt-get install -y nginx-light (make deps)")
	}
	t.Skip("nginx not installed: apt-get install -y nginx-light (Debian) to run the scale-out test")
	return ""
}

// nginxProc is a running nginx.
type nginxProc struct {
	addr string // where it listens
	dir  string // its prefix: configuration, pid, logs, temporary files
}

func (n *nginxProc) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// upstreamErrors counts the [error] lines of the error log by message
// ("connect() failed (111: Connection refused)", ...).
func (n *nginxProc) upstreamErrors() map[string]int {
	kinds := map[string]int{}
	msg := regexp.MustCompile(`\[error\] \d+#\d+: \*\d+ (.*?)( while .*)?, client: `)
	for l := range strings.Lines(n.errorLog()) {
		if m := msg.FindStringSubmatch(l); m != nil {
			kinds[m[1]]++
		} else if strings.Contains(l, "[error]") {
			kinds[l]++
		}
	}
	return kinds
}

// waitAccessLines waits until the access log has want lines for path
// (nginx writes a line once the response is sent, possibly just after the
// client read it) and returns them.
func (n *nginxProc) waitAccessLines(t *testing.T, path string, want int) []string {
	t.Helper()
	var lines []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(n.dir, "access.log"))
		lines = lines[:0]
		for l := range strings.Lines(string(b)) {
			if strings.Contains(l, `"GET `+path+` `) {
				lines = append(lines, l)
			}
		}
		if len(lines) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(lines) != want {
		t.Errorf("nginx logged %d requests for %s, the clients sent %d", len(lines), path, want)
	}
	return lines
}

// renderNginxConf turns the example configuration into one for the test:
// nginx listens on listen, the upstream lists upstreams (each with the
// parameters of the example's first server line), and the pid file, logs
// and temporary files are in dir. Every pattern must match the example,
// so that a change to it that the test no longer understands fails here.
func renderNginxConf(example, dir, listen string, upstreams []string) (string, error) {
	conf := example
	replace := func(what, pattern string, repl func(m []string) string) error {
		re := regexp.MustCompile(pattern)
		ms := re.FindAllStringSubmatchIndex(conf, -1)
		if len(ms) != 1 {
			return fmt.Errorf("etc/scale-out/nginx.conf: %d %s lines (/%s/), want 1", len(ms), what, pattern)
		}
		m := ms[0]
		groups := make([]string, len(m)/2)
		for i := range groups {
			if m[2*i] >= 0 {
				groups[i] = conf[m[2*i]:m[2*i+1]]
			}
		}
		conf = conf[:m[0]] + repl(groups) + conf[m[1]:]
		return nil
	}
	steps := []struct {
		what, pattern string
		repl          func(m []string) string
	}{
		{"pid", `(?m)^pid [^;]+;`, func([]string) string { return "pid " + filepath.Join(dir, "nginx.pid") + ";" }},
		{"error_log", `(?m)^error_log \S+( [a-z]+)?;`, func(m []string) string {
			return "error_log " + filepath.Join(dir, "error.log") + m[1] + ";"
		}},
		{"access_log", `(?m)^(\s*)access_log /\S+( \w+)?;`, func(m []string) string {
			return m[1] + "access_log " + filepath.Join(dir, "access.log") + m[2] + ";"
		}},
		{"listen", `(?m)^(\s*)listen [^;]+;`, func(m []string) string { return m[1] + "listen " + listen + ";" }},
		{"http", `(?m)^http \{\n`, func(m []string) string {
			s := m[0]
			for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
				s += fmt.Sprintf("    %s_temp_path %s;\n", kind, filepath.Join(dir, kind))
			}
			return s
		}},
	}
	for _, s := range steps {
		if err := replace(s.what, s.pattern, s.repl); err != nil {
			return "", err
		}
	}
	servers := regexp.MustCompile(`(?m)^(\s*)server \S+:\d+([^;]*);\n`)
	ms := servers.FindAllStringSubmatchIndex(conf, -1)
	if len(ms) == 0 {
		return "", fmt.Errorf("etc/scale-out/nginx.conf: no upstream server lines")
	}
	indent, params := conf[ms[0][2]:ms[0][3]], conf[ms[0][4]:ms[0][5]]
	var lines strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&lines, "%sserver %s%s;\n", indent, u, params)
	}
	// Drop the example's server lines from the last, then put ours in the
	// place of the first.
	for i := len(ms) - 1; i > 0; i-- {
		conf = conf[:ms[i][0]] + conf[ms[i][1]:]
	}
	conf = conf[:ms[0][0]] + lines.String() + conf[ms[0][1]:]
	return conf, nil
}

// startScaleOutNginx runs nginx with etc/scale-out/nginx.conf rendered for
// the instances at upstreams, in the foreground and in one process, and
// waits until its /healthcheck location answers 200.
func startScaleOutNginx(t *testing.T, bin, parent string, upstreams ...string) *nginxProc {
	t.Helper()
	example, err := os.ReadFile("../../etc/scale-out/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	n := &nginxProc{dir: filepath.Join(parent, "nginx")}
	for _, d := range []string{"", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = ln.Addr().String()
	ln.Close()
	conf, err := renderNginxConf(string(example), n.dir, n.addr, upstreams)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(n.dir, "nginx.conf")
	writeFile(t, confPath, conf)
	cmd := exec.Command(bin, "-p", n.dir, "-c", confPath, "-e", filepath.Join(n.dir, "stderr.log"),
		"-g", "daemon off; master_process off;")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT) // graceful stop
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		for _, bad := range []string{"[alert]", "[emerg]", "[crit]"} {
			if log := n.errorLog(); strings.Contains(log, bad) {
				t.Errorf("nginx error log has %s lines:\n%s", bad, log)
			}
		}
	})
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("nginx exited: %s\n%s\nconfiguration:\n%s", out.String(), n.errorLog(), conf)
		default:
		}
		res, err := client.Get("http://" + n.addr + "/healthcheck")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx on %s: no 200 from /healthcheck (%v): %s\n%s", n.addr, err, out.String(), n.errorLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loadStats counts the answers of a load run.
type loadStats struct {
	total    int            // requests answered or failed
	failed   int            // not 200 with a known marker, or no answer
	markers  map[string]int // 200 answers by marker
	failures []string       // the first few failures
	elapsed  time.Duration
}

// load is steady traffic from keep-alive clients, each on its own
// connection, until stop.
type load struct {
	mu       sync.Mutex
	s        loadStats
	begin    time.Time
	stopping atomic.Bool // clients finish their request and return
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// startLoad starts clients goroutines that GET url in a loop; an answer is
// good when it is 200 and its body is one of markers.
func startLoad(t *testing.T, url string, clients int, markers ...string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{s: loadStats{markers: map[string]int{}}, begin: time.Now(), cancel: cancel}
	known := map[string]bool{}
	for _, m := range markers {
		known[m] = true
	}
	for range clients {
		l.wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			for !l.stopping.Load() {
				body, status, err := getOnce(ctx, client, url)
				if ctx.Err() != nil {
					return // the test is over: a request cut is not counted
				}
				l.mu.Lock()
				l.s.total++
				switch {
				case err == nil && status == 200 && known[body]:
					l.s.markers[body]++
				default:
					l.s.failed++
					if len(l.s.failures) < 10 {
						l.s.failures = append(l.s.failures, fmt.Sprintf("%s: status %d, body %.100q, error %v",
							time.Since(l.begin).Round(time.Millisecond), status, body, err))
					}
				}
				l.mu.Unlock()
			}
		})
	}
	t.Cleanup(func() {
		l.cancel()
		l.wg.Wait()
	})
	return l
}

func getOnce(ctx context.Context, client *http.Client, url string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "", 0, err
	}
	res, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), res.StatusCode, err
}

// stats returns a copy of the counts so far.
func (l *load) stats() loadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.s
	s.markers = make(map[string]int, len(l.s.markers))
	for k, v := range l.s.markers {
		s.markers[k] = v
	}
	s.failures = append([]string(nil), l.s.failures...)
	s.elapsed = time.Since(l.begin)
	return s
}

// stop ends the traffic: each client completes the request it is making;
// it returns the counts.
func (l *load) stop() loadStats {
	l.stopping.Store(true)
	l.wg.Wait()
	return l.stats()
}

// waitFor polls the counts until cond holds, for up to limit.
func (l *load) waitFor(t *testing.T, what string, limit time.Duration, cond func(loadStats) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s := l.stats()
		if cond(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %d requests, %d failed, %v\n%s",
				limit, what, s.total, s.failed, s.markers, strings.Join(s.failures, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
