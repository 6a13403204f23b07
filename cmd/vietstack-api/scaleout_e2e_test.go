//go:build e2e

// End-to-end tests of scale-out: two vietstack-api instances behind nginx
// (etc/scale-out/nginx.conf) or HAProxy (etc/scale-out/haproxy.cfg), both
// Debian's. Run them with
//
//	go test -tags e2e -run E2EScaleOut ./cmd/vietstack-api
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
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
// /v1 application answers the instance's marker, /v1/echo is an echo app
// named after it (for POSTs), the access log is discarded (the tests count
// in the balancer's), and the healthcheck's disable file lives in the
// test's directory.
const scaleOutOverlay = `[composite:main]
/v1/echo = echo_app

[app:api_v1_app]
message = %[1]s

[app:echo_app]
use = egg:vietstack#echo
name = %[1]s

[filter:request_log]
destination = discard

[app:healthcheck]
disable_by_file_path = %[2]s
`

// The markers the instances answer: a before and after its reload, b.
const (
	markerA1 = "scale-out instance a, generation 1"
	markerA2 = "scale-out instance a, generation 2"
	markerB1 = "scale-out instance b, generation 1"
)

// scaleOut is one run of the scale-out scenario: two instances of
// etc/api-paste.ini behind a balancer, 16 keep-alive clients sending
// probes through it while instance a reloads a changed file (its new
// marker must come through) and instance b stops gracefully with
// shutdownDelay; every request must succeed.
type scaleOut struct {
	balancer      string
	shutdownDelay string
	// startFront starts the balancer in front of the instances at
	// upstreams and returns its address.
	startFront func(t *testing.T, dir string, upstreams ...string) string
	probes     []probe // client i sends probes[i%len(probes)]
	// stoppingServer is added to the [server:main] of instance b, the one
	// that stops ("refuse_during_delay = true\n").
	stoppingServer string
}

func (sc scaleOut) run(t *testing.T) loadStats {
	dir := t.TempDir()
	overlay := func(name, marker, server string) string {
		path := filepath.Join(dir, name+".ini")
		text := fmt.Sprintf(scaleOutOverlay, marker, filepath.Join(dir, name+".disabled"))
		if server != "" {
			text += "\n[server:main]\n" + server
		}
		writeFile(t, path, text)
		return path
	}
	instance := func(name, marker, server string) *daemonProc {
		return start(t, "--config-file", "../../etc/api-paste.ini", "--config-file", overlay(name, marker, server),
			"--shutdown-delay", sc.shutdownDelay)
	}
	a := instance("a", markerA1, "")
	b := instance("b", markerB1, sc.stoppingServer)
	front := sc.startFront(t, dir, a.addr, b.addr)

	load := startLoad(t, "http://"+front, 16, sc.probes, markerA1, markerA2, markerB1)
	load.waitFor(t, "both instances to answer through "+sc.balancer, 30*time.Second, func(s loadStats) bool {
		return s.markers[markerA1] > 0 && s.markers[markerB1] > 0
	})

	// Reload a: its new marker must come through, with no failure.
	overlay("a", markerA2, "")
	a.signal(syscall.SIGHUP)
	a.waitLog(`"msg":"reloaded"`)
	load.waitFor(t, "instance a's new marker through "+sc.balancer, 30*time.Second, func(s loadStats) bool {
		return s.markers[markerA2] > 0
	})
	reloaded := load.stats()

	// Stop b gracefully: it answers 503 on /healthcheck for the delay while
	// it still serves, then closes its listener and drains.
	b.signal(syscall.SIGTERM)
	stopping := load.stats()
	if code := b.wait(90 * time.Second); code != 0 {
		t.Fatalf("instance b: exit %d after SIGTERM:\n%s", code, b.logs.String())
	}
	stopped := load.stats()
	refusing := strings.Contains(sc.stoppingServer, "refuse_during_delay = true")
	if !strings.Contains(b.logs.String(), "draining") || !strings.Contains(b.logs.String(), `"msg":"stopped"`) ||
		strings.Contains(b.logs.String(), "grace period over") ||
		!strings.Contains(b.logs.String(), fmt.Sprintf(`"refusing_new_connections":%v`, refusing)) {
		t.Errorf("instance b did not drain and stop cleanly:\n%s", b.logs.String())
	}
	// Another second of traffic, a alone (and at least 100 requests, on a
	// slow machine).
	after := time.Now().Add(time.Second)
	load.waitFor(t, "a second of traffic after instance b stopped", 60*time.Second, func(s loadStats) bool {
		return time.Now().After(after) && s.total >= stopped.total+100
	})
	final := load.stop()

	t.Logf("%s: %d requests in %v (16 clients): %d failed; by method %v; %q %d, %q %d, %q %d",
		sc.balancer, final.total, final.elapsed.Round(time.Millisecond), final.failed, final.methods,
		markerA1, final.markers[markerA1], markerA2, final.markers[markerA2], markerB1, final.markers[markerB1])
	t.Logf("phases: %d requests until a's new marker came through; %d during b's drain (SIGTERM to exit, --shutdown-delay %s), %d of them answered by b; %d after b stopped",
		reloaded.total, stopped.total-stopping.total, sc.shutdownDelay,
		stopped.markers[markerB1]-stopping.markers[markerB1], final.total-stopped.total)
	if final.failed > 0 {
		t.Errorf("%d of %d requests failed through %s; the first ones:\n%s",
			final.failed, final.total, sc.balancer, strings.Join(final.failures, "\n"))
	}
	if final.markers[markerA1] == 0 || final.markers[markerA2] == 0 || final.markers[markerB1] == 0 {
		t.Errorf("a marker never came through: %v", final.markers)
	}
	a.signal(syscall.SIGTERM)
	if code := a.wait(90 * time.Second); code != 0 {
		t.Errorf("instance a: exit %d after SIGTERM", code)
	}
	return final
}

// TestE2EScaleOut runs the scenario behind nginx with
// etc/scale-out/nginx.conf, GET and POST traffic, --shutdown-delay 1s and
// refuse_during_delay = true on the stopping instance b, as
// etc/scale-out/README.md recommends for nginx open source (which checks
// no health, so the delay cannot take b out before it closes). From b's
// SIGTERM on, every response of b closes its connection, and b refuses new
// connections: nginx retries those on a, POST included, since nothing was
// sent, and no request is written onto a kept-alive connection that b
// closes while idle. Every request must succeed, POSTs included (nginx
// never resends a POST that was sent), and the access log must show every
// request once, with status 200.
func TestE2EScaleOut(t *testing.T) {
	bin := toolBinary(t, "nginx", "nginx-light")
	var front *nginxProc
	final := scaleOut{
		balancer:      "nginx",
		shutdownDelay: "1s",
		startFront: func(t *testing.T, dir string, upstreams ...string) string {
			front = startScaleOutNginx(t, bin, dir, upstreams...)
			return front.addr
		},
		probes:         []probe{getMarker("/v1/servers"), postEcho("/v1/echo/servers")},
		stoppingServer: "refuse_during_delay = true\n",
	}.run(t)
	if final.methods["POST"] == 0 || final.methods["GET"] == 0 {
		t.Errorf("requests by method: %v, want GETs and POSTs", final.methods)
	}

	// A line naming two instances is a request nginx retried.
	retried := map[string]int{}
	for _, m := range []struct{ method, path string }{{"GET", "/v1/servers"}, {"POST", "/v1/echo/servers"}} {
		lines := front.waitAccessLines(t, m.method, m.path, final.methods[m.method])
		non200 := 0
		for _, l := range lines {
			if strings.Contains(l, ", ") {
				retried[m.method]++
			}
			if !strings.Contains(l, `" 200 `) {
				non200++
			}
		}
		if non200 > 0 {
			t.Errorf("%d access-log lines for %s %s without status 200", non200, m.method, m.path)
		}
	}
	t.Logf("nginx: requests retried on the other instance by method %v; upstream errors in its error log: %v",
		retried, front.upstreamErrors())
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

// waitAccessLines waits until the access log has want lines for method
// and path (nginx writes a line once the response is sent, possibly just
// after the client read it) and returns them.
func (n *nginxProc) waitAccessLines(t *testing.T, method, path string, want int) []string {
	t.Helper()
	var lines []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(n.dir, "access.log"))
		lines = lines[:0]
		for l := range strings.Lines(string(b)) {
			if strings.Contains(l, `"`+method+` `+path+` `) {
				lines = append(lines, l)
			}
		}
		if len(lines) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(lines) != want {
		t.Errorf("nginx logged %d requests for %s %s, the clients sent %d", len(lines), method, path, want)
	}
	return lines
}

// edit is one change to an example configuration: the single match of
// pattern is replaced by repl of its submatches.
type edit struct {
	what, pattern string
	repl          func(m []string) string
}

// render applies edits to the example configuration named file, then
// replaces its server lines (serverPattern; submatch 1 is the indentation,
// the last the parameters) by one line per upstream made by line, with the
// parameters of the example's first server line. Every pattern must match,
// so that a change to the example that the test no longer understands
// fails here instead of testing something else.
func render(file, example string, edits []edit, serverPattern string, upstreams []string,
	line func(i int, indent, upstream, params string) string) (string, error) {
	conf := example
	for _, e := range edits {
		ms := regexp.MustCompile(e.pattern).FindAllStringSubmatchIndex(conf, -1)
		if len(ms) != 1 {
			return "", fmt.Errorf("%s: %d %s lines (/%s/), want 1", file, len(ms), e.what, e.pattern)
		}
		m := ms[0]
		groups := make([]string, len(m)/2)
		for i := range groups {
			if m[2*i] >= 0 {
				groups[i] = conf[m[2*i]:m[2*i+1]]
			}
		}
		conf = conf[:m[0]] + e.repl(groups) + conf[m[1]:]
	}
	ms := regexp.MustCompile(serverPattern).FindAllStringSubmatchIndex(conf, -1)
	if len(ms) == 0 {
		return "", fmt.Errorf("%s: no server lines (/%s/)", file, serverPattern)
	}
	first := ms[0]
	indent, params := conf[first[2]:first[3]], conf[first[len(first)-2]:first[len(first)-1]]
	var lines strings.Builder
	for i, u := range upstreams {
		lines.WriteString(line(i, indent, u, params))
	}
	// Drop the example's server lines from the last, then put ours in the
	// place of the first.
	for i := len(ms) - 1; i > 0; i-- {
		conf = conf[:ms[i][0]] + conf[ms[i][1]:]
	}
	return conf[:first[0]] + lines.String() + conf[first[1]:], nil
}

// renderNginxConf turns etc/scale-out/nginx.conf into one for the test:
// nginx listens on listen, the upstream lists upstreams, and the pid
// file, logs and temporary files are in dir.
func renderNginxConf(example, dir, listen string, upstreams []string) (string, error) {
	edits := []edit{
		{"pid", `(?m)^pid [^;]+;`, func([]string) string { return "pid " + filepath.Join(dir, "nginx.pid") + ";" }},
		{"error_log", `(?m)^error_log \S+( [a-z]+)?;`, func(m []string) string {
			return "error_log " + filepath.Join(dir, "error.log") + m[1] + ";"
		}},
		{"access_log", `(?m)^([ \t]*)access_log /\S+( \w+)?;`, func(m []string) string {
			return m[1] + "access_log " + filepath.Join(dir, "access.log") + m[2] + ";"
		}},
		{"listen", `(?m)^([ \t]*)listen [^;]+;`, func(m []string) string { return m[1] + "listen " + listen + ";" }},
		{"http", `(?m)^http \{\n`, func(m []string) string {
			s := m[0]
			for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
				s += fmt.Sprintf("    %s_temp_path %s;\n", kind, filepath.Join(dir, kind))
			}
			return s
		}},
	}
	return render("etc/scale-out/nginx.conf", example, edits, `(?m)^([ \t]*)server \S+:\d+([^;]*);\n`, upstreams,
		func(_ int, indent, upstream, params string) string {
			return fmt.Sprintf("%sserver %s%s;\n", indent, upstream, params)
		})
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
	n.addr = freeAddr(t)
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
	waitReady(t, "nginx", cmd, n.addr, func() string { return out.String() + n.errorLog() }, func() {
		for _, bad := range []string{"[alert]", "[emerg]", "[crit]"} {
			if log := n.errorLog(); strings.Contains(log, bad) {
				t.Errorf("nginx error log has %s lines:\n%s", bad, log)
			}
		}
	}, conf)
	return n
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady starts a balancer's cmd, stops it at the end of the test
// (SIGTERM, then check), and waits until http://addr/healthcheck answers
// 200: at least one instance is reachable through it.
func waitReady(t *testing.T, name string, cmd *exec.Cmd, addr string, logs func() string, check func(), conf string) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		check()
	})
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s\nconfiguration:\n%s", name, logs(), conf)
		default:
		}
		res, err := client.Get("http://" + addr + "/healthcheck")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s: no 200 from /healthcheck (%v):\n%s", name, addr, err, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probe sends one request with client to base and returns the marker of
// the instance that answered, or why the answer is wrong.
type probe func(ctx context.Context, client *http.Client, base string) (method, marker string, err error)

// getMarker GETs path, which must answer 200 with a marker as its body.
func getMarker(path string) probe {
	return func(ctx context.Context, client *http.Client, base string) (string, string, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if err != nil {
			return "GET", "", err
		}
		status, body, err := do(client, req)
		if err == nil && status != 200 {
			err = fmt.Errorf("status %d, body %.100q", status, body)
		}
		return "GET", string(body), err
	}
}

// postEcho POSTs a body to path, an echo app, which must answer 200 with
// the body's hash and its marker as name.
func postEcho(path string) probe {
	const payload = `{"server": {"name": "scale-out", "flavorRef": "1"}}`
	sum := sha256.Sum256([]byte(payload))
	return func(ctx context.Context, client *http.Client, base string) (string, string, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(payload))
		if err != nil {
			return "POST", "", err
		}
		req.Header.Set("Content-Type", "application/json")
		status, body, err := do(client, req)
		if err != nil {
			return "POST", "", err
		}
		var echo struct {
			Name, Method string
			BodySHA256   string `json:"body_sha256"`
		}
		if status != 200 || json.Unmarshal(body, &echo) != nil || echo.Method != "POST" || echo.BodySHA256 != hex.EncodeToString(sum[:]) {
			return "POST", "", fmt.Errorf("status %d, body %.200q", status, body)
		}
		return "POST", echo.Name, nil
	}
}

func do(client *http.Client, req *http.Request) (int, []byte, error) {
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// loadStats counts the answers of a load run.
type loadStats struct {
	total    int            // requests answered or failed
	methods  map[string]int // requests by method
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

// startLoad starts clients goroutines that send probes to base in a loop,
// client i probes[i%len(probes)]; an answer is good when the probe accepts
// it and names one of markers.
func startLoad(t *testing.T, base string, clients int, probes []probe, markers ...string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{s: loadStats{methods: map[string]int{}, markers: map[string]int{}}, begin: time.Now(), cancel: cancel}
	known := map[string]bool{}
	for _, m := range markers {
		known[m] = true
	}
	for i := range clients {
		send := probes[i%len(probes)]
		l.wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			for !l.stopping.Load() {
				method, marker, err := send(ctx, client, base)
				if ctx.Err() != nil {
					return // the test is over: a request cut is not counted
				}
				if err == nil && !known[marker] {
					err = fmt.Errorf("unknown marker %.100q", marker)
				}
				l.mu.Lock()
				l.s.total++
				l.s.methods[method]++
				if err == nil {
					l.s.markers[marker]++
				} else {
					l.s.failed++
					if len(l.s.failures) < 10 {
						l.s.failures = append(l.s.failures, fmt.Sprintf("%s: %s: %v",
							time.Since(l.begin).Round(time.Millisecond), method, err))
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

// stats returns a copy of the counts so far.
func (l *load) stats() loadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.s
	s.markers = maps.Clone(l.s.markers)
	s.methods = maps.Clone(l.s.methods)
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

// TestE2EScaleOutHAProxy runs the scenario behind HAProxy with
// etc/scale-out/haproxy.cfg, GET and POST traffic, and the
// --shutdown-delay the file asks for (8s, over inter x fall + timeout
// check): HAProxy's check sees b's 503 and takes b out before b closes
// its listener, so no request meets a closing connection, POSTs (never
// retried) included.
func TestE2EScaleOutHAProxy(t *testing.T) {
	bin := toolBinary(t, "haproxy", "haproxy")
	var front *haproxyProc
	final := scaleOut{
		balancer:      "haproxy",
		shutdownDelay: "8s",
		startFront: func(t *testing.T, dir string, upstreams ...string) string {
			front = startScaleOutHAProxy(t, bin, dir, upstreams...)
			return front.addr
		},
		probes: []probe{getMarker("/v1/servers"), postEcho("/v1/echo/servers")},
	}.run(t)
	if final.methods["POST"] == 0 || final.methods["GET"] == 0 {
		t.Errorf("requests by method: %v, want GETs and POSTs", final.methods)
	}

	// HAProxy took b out because its healthcheck answered 503, not because
	// its port closed.
	out := front.out.String()
	down := regexp.MustCompile(`Server vietstack_api/api2 is DOWN.*`).FindString(out)
	if !strings.Contains(down, "503") {
		t.Errorf("HAProxy did not take b out on its healthcheck's 503: %q\n%.2000s", down, out)
	}
	logged, retried := 0, 0
	// httplog: ... status bytes cookies termination-state
	// actconn/feconn/beconn/srv_conn/retries (+ when redispatched) ...
	retries := regexp.MustCompile(` \d{3} \d+ \S+ \S+ \S{4} \d+/\d+/\d+/\d+/\+?(\d+) `)
	for l := range strings.Lines(out) {
		if strings.Contains(l, `"GET /v1/servers `) || strings.Contains(l, `"POST /v1/echo/servers `) {
			logged++
			if m := retries.FindStringSubmatch(l); m != nil && m[1] != "0" {
				retried++
			}
		}
	}
	t.Logf("haproxy: %d requests logged, %d retried; %s", logged, retried, down)
}

// toolBinary finds a program of Debian package pkg. Without it the test is
// skipped, except under CI (CI set), where it must run.
func toolBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	if bin, err := exec.LookPath(name); err == nil {
		return bin
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed and CI is set: apt-get install -y %s (make deps)", name, pkg)
	}
	t.Skipf("%s not installed: apt-get install -y %s (Debian) to run this scale-out test", name, pkg)
	return ""
}

// haproxyProc is a running HAProxy.
type haproxyProc struct {
	addr string
	out  *syncBuffer // its standard error: start-up messages, server state changes, one line per request
}

// renderHAProxyConf turns etc/scale-out/haproxy.cfg into one for the test:
// HAProxy binds listen, the backend lists upstreams (api1, api2, ...),
// logs go to standard error, it neither chroots nor changes user, and its
// admin socket is in dir.
func renderHAProxyConf(example, dir, listen string, upstreams []string) (string, error) {
	drop := func([]string) string { return "" }
	edits := []edit{
		{"log", `(?m)^([ \t]*)log /\S+ (\w+)$`, func(m []string) string { return m[1] + "log stderr format raw " + m[2] }},
		{"chroot", `(?m)^[ \t]*chroot .*\n`, drop},
		{"user", `(?m)^[ \t]*user .*\n`, drop},
		{"group", `(?m)^[ \t]*group .*\n`, drop},
		{"daemon", `(?m)^[ \t]*daemon\n`, drop},
		{"stats socket", `(?m)^([ \t]*)stats socket \S+`, func(m []string) string {
			return m[1] + "stats socket " + filepath.Join(dir, "admin.sock")
		}},
		{"bind", `(?m)^([ \t]*)bind \S+$`, func(m []string) string { return m[1] + "bind " + listen }},
	}
	return render("etc/scale-out/haproxy.cfg", example, edits, `(?m)^([ \t]*)server \S+ \S+:\d+(.*)\n`, upstreams,
		func(i int, indent, upstream, params string) string {
			return fmt.Sprintf("%sserver api%d %s%s\n", indent, i+1, upstream, params)
		})
}

// startScaleOutHAProxy runs HAProxy with etc/scale-out/haproxy.cfg
// rendered for the instances at upstreams, in the foreground, and waits
// until its /healthcheck (monitor-uri) answers 200.
func startScaleOutHAProxy(t *testing.T, bin, parent string, upstreams ...string) *haproxyProc {
	t.Helper()
	example, err := os.ReadFile("../../etc/scale-out/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "haproxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &haproxyProc{addr: freeAddr(t), out: &syncBuffer{}}
	conf, err := renderHAProxyConf(string(example), dir, h.addr, upstreams)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, confPath, conf)
	cmd := exec.Command(bin, "-db", "-f", confPath)
	cmd.Stdout, cmd.Stderr = h.out, h.out
	waitReady(t, "haproxy", cmd, h.addr, h.out.String, func() {
		for l := range strings.Lines(h.out.String()) {
			// The test stops the last instance itself at the end.
			if strings.Contains(l, "has no server available") {
				continue
			}
			if strings.Contains(l, "[ALERT]") || strings.Contains(l, "[EMERG]") {
				t.Errorf("haproxy: %s", l)
			}
		}
	}, conf)
	return h
}

// TestE2EScaleOutRender: the examples render into configurations naming
// exactly the test's instances and listening address, with the example's
// server parameters kept; an example the renderer does not understand is
// an error naming what is missing.
func TestE2EScaleOutRender(t *testing.T) {
	upstreams := []string{"127.0.0.1:1001", "127.0.0.1:1002"}
	tests := []struct {
		file   string
		render func(example, dir, listen string, upstreams []string) (string, error)
		want   []string
		strip  string // a line whose removal must be reported
	}{
		{"nginx.conf", renderNginxConf, []string{
			"        server 127.0.0.1:1001 max_fails=3 fail_timeout=10s;\n        server 127.0.0.1:1002 max_fails=3 fail_timeout=10s;\n",
			"        listen 127.0.0.1:1000;\n",
			"pid /tmp/x/nginx.pid;\n",
			"error_log /tmp/x/error.log warn;\n",
			"    access_log /tmp/x/access.log vietstack;\n",
			"http {\n    client_body_temp_path /tmp/x/client_body;\n",
		}, "listen 80;"},
		{"haproxy.cfg", renderHAProxyConf, []string{
			"    server api1 127.0.0.1:1001\n    server api2 127.0.0.1:1002\n",
			"    bind 127.0.0.1:1000\n",
			"    log stderr format raw local0\n",
			"    stats socket /tmp/x/admin.sock mode 660 level admin\n",
			"    default-server check inter 2s fall 2 rise 2\n",
		}, "chroot /var/lib/haproxy"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			example, err := os.ReadFile(filepath.Join("../../etc/scale-out", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			conf, err := tt.render(string(example), "/tmp/x", "127.0.0.1:1000", upstreams)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(conf, w) {
					t.Errorf("rendered %s lacks %q:\n%s", tt.file, w, conf)
				}
			}
			for l := range strings.Lines(conf) {
				if strings.HasPrefix(strings.TrimSpace(l), "#") {
					continue
				}
				for _, gone := range []string{"8081", "8082", "8083", "/run/", "/var/"} {
					if strings.Contains(l, gone) {
						t.Errorf("rendered %s still has %q: %q", tt.file, gone, l)
					}
				}
			}
			broken := strings.Replace(string(example), tt.strip, "", 1)
			if _, err := tt.render(broken, "/tmp/x", "127.0.0.1:1000", upstreams); err == nil ||
				!strings.Contains(err.Error(), tt.file) {
				t.Errorf("without %q: err = %v, want one naming %s", tt.strip, err, tt.file)
			}
		})
	}
}

// TestE2ERefuseDuringDelay: refuse_during_delay, turned on by a reload,
// closes the listening socket when the shutdown delay starts, in one
// process and with --workers (each worker closes its copy, the supervisor
// its own): new connections are refused during the delay, while a
// kept-alive connection is still served, its response closing it. A
// second SIGTERM ends the delay; the daemon exits 0 with no ERROR logged.
func TestE2ERefuseDuringDelay(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "refuse.ini")
			conf := func(refuse bool) string {
				return fmt.Sprintf("[app:main]\nuse = egg:vietstack#hello\n\n[server:main]\nuse = egg:Paste#http\n"+
					"shutdown_delay = 120s\nrefuse_during_delay = %v\nworkers = %d\n", refuse, workers)
			}
			writeFile(t, path, conf(false))
			d := start(t, "--config-file", path)
			if workers > 1 {
				d.waitLog(`"msg":"all workers serve"`)
			}
			// Replaced whole, so that no process reads a partial file.
			writeFile(t, path+".new", conf(true))
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
			d.signal(syscall.SIGHUP)
			reloaded := `"msg":"reloaded"`
			if workers > 1 {
				reloaded = `"msg":"workers reloaded"`
			}
			d.waitLog(reloaded)

			c, err := net.DialTimeout("tcp", d.addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			get := func() (*http.Response, error) {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				req, _ := http.NewRequest("GET", d.url("/"), nil)
				if err := req.Write(c); err != nil {
					return nil, err
				}
				res, err := http.ReadResponse(r, req)
				if err != nil {
					return nil, err
				}
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res, err
			}
			if res, err := get(); err != nil || res.StatusCode != 200 || res.Close {
				t.Fatalf("before the stop: %v %v", res, err)
			}

			d.signal(syscall.SIGTERM)
			deadline := time.Now().Add(30 * time.Second)
			for strings.Count(d.logs.String(), `"refusing_new_connections":true`) < workers {
				if time.Now().After(deadline) {
					t.Fatalf("%d workers did not start refusing:\n%s", workers, d.logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			for {
				nc, err := net.DialTimeout("tcp", d.addr, 10*time.Second)
				if errors.Is(err, syscall.ECONNREFUSED) {
					break
				}
				if err == nil {
					nc.Close()
				}
				if time.Now().After(deadline) {
					t.Fatalf("new connections not refused during the delay (last: %v):\n%s", err, d.logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			if res, err := get(); err != nil || res.StatusCode != 200 || !res.Close {
				t.Errorf("on the kept-alive connection during the delay: %v %v; want 200 with Connection: close", res, err)
			}

			d.signal(syscall.SIGTERM) // ends the delay
			if code := d.wait(60 * time.Second); code != 0 {
				t.Errorf("exit %d:\n%s", code, d.logs.String())
			}
			if logs := d.logs.String(); strings.Contains(logs, "grace period over") || strings.Contains(logs, `"level":"ERROR"`) {
				t.Errorf("unclean stop:\n%s", logs)
			}
		})
	}
}
