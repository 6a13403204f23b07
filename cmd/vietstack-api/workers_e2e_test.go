//go:build e2e

// End-to-end tests of --workers: the real binary supervising real worker
// processes that share one listening socket. Run them with
//
//	go test -tags e2e -run E2EWorkers ./cmd/vietstack-api
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// workersINI serves message with hello; extra goes into [server:main].
const workersINI = `[app:main]
use = egg:vietstack#hello
message = %s

[server:main]
use = egg:Paste#http
graceful_shutdown_timeout = 20s
%s
`

// procChildren returns the pids of the processes whose parent is ppid,
// zombies included (a worker the supervisor failed to reap would show).
func procChildren(t *testing.T, ppid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// waitChildren polls until ppid has n children, and returns them.
func waitChildren(t *testing.T, ppid, n int) []int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		kids := procChildren(t, ppid)
		if len(kids) == n {
			return kids
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d has children %v, want %d", ppid, kids, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connOwners maps the client port of each established loopback
// connection to server port sport to the pid, among pids, that holds its
// server side.
func connOwners(t *testing.T, sport int, pids []int) map[int]int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	byInode := map[string]int{} // inode → client port
	for l := range strings.Lines(string(data)) {
		f := strings.Fields(l)
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "01" {
			continue
		}
		_, lp, _ := strings.Cut(f[1], ":")
		_, rp, _ := strings.Cut(f[2], ":")
		lport, err1 := strconv.ParseInt(lp, 16, 32)
		rport, err2 := strconv.ParseInt(rp, 16, 32)
		if err1 == nil && err2 == nil && int(lport) == sport && f[9] != "0" {
			byInode[f[9]] = int(rport)
		}
	}
	owners := map[int]int{}
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			link, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				if cport, ok := byInode[strings.TrimSuffix(inode, "]")]; ok {
					owners[cport] = pid
				}
			}
		}
	}
	return owners
}

// freshGet GETs url on a new connection.
func freshGet(url string) (int, string, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	res, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// logLines returns the JSON log lines with message msg.
func logLines(logs, msg string) []map[string]any {
	var out []map[string]any
	for l := range strings.Lines(logs) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// workerSet returns the distinct "worker" attributes of lines, sorted.
func workerSet(lines []map[string]any) []int {
	var out []int
	for _, m := range lines {
		if w, ok := m["worker"].(float64); ok && !slices.Contains(out, int(w)) {
			out = append(out, int(w))
		}
	}
	slices.Sort(out)
	return out
}

// TestE2EWorkers: --workers 3 under systemd's NOTIFY_SOCKET. Three worker
// processes serve the one port, each taking connections; systemd hears
// READY once; a worker killed with SIGKILL under traffic is logged and
// restarted while the others keep serving; SIGHUP reloads every worker;
// SIGTERM stops them all and the supervisor exits 0, leaving no process
// and a closed port.
func TestE2EWorkers(t *testing.T) {
	next := notifySocket(t)
	path := filepath.Join(t.TempDir(), "api-paste.ini")
	writeFile(t, path, fmt.Sprintf(workersINI, "one", ""))
	d := start(t, "--config-file", path, "--workers", "3")
	d.allowErrors = true // the killed worker is logged at ERROR
	d.waitLog(`"msg":"all workers serve"`)
	sup := d.cmd.Process.Pid
	_, portText, _ := net.SplitHostPort(d.addr)
	port, _ := strconv.Atoi(portText)

	if got := next(); got != "READY=1\nSTATUS=serving main on "+d.addr+" from "+path+" with 3 workers" {
		t.Errorf("systemd heard %q first", got)
	}
	workers := waitChildren(t, sup, 3)
	serving := logLines(d.logs.String(), "serving")
	if got := workerSet(serving); !slices.Equal(got, []int{0, 1, 2}) || len(serving) != 3 {
		t.Errorf("serving lines from workers %v:\n%s", got, d.logs.String())
	}
	for _, m := range serving {
		if pid, _ := m["pid"].(float64); !slices.Contains(workers, int(pid)) || m["addr"] != d.addr {
			t.Errorf("a serving line names pid %v on %v; the workers are %v on %s", m["pid"], m["addr"], workers, d.addr)
		}
	}

	// Connections are spread over the workers: hold connections open, each
	// after one answered request, and see which process holds each; the
	// kernel wakes every worker for each connection and one wins, so a
	// batch of 30 is spread unless the machine starves the others: up to
	// three batches are tried.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var perWorker map[int]int
	for batch := 0; batch < 3 && len(perWorker) < 2; batch++ {
		for range 30 {
			c, err := net.Dial("tcp", d.addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(body) != "one" {
				t.Fatalf("GET / = %d %q", res.StatusCode, body)
			}
		}
		owners := connOwners(t, port, workers)
		perWorker = map[int]int{}
		for _, c := range conns {
			if pid, ok := owners[c.LocalAddr().(*net.TCPAddr).Port]; ok {
				perWorker[pid]++
			} else {
				t.Errorf("no worker holds the connection from %s", c.LocalAddr())
			}
		}
		t.Logf("%d connections per worker pid: %v", len(conns), perWorker)
	}
	if len(perWorker) < 2 {
		t.Errorf("all connections went to %v; want them spread over several workers", perWorker)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil

	// SIGKILL one worker under traffic from 8 clients, each opening a new
	// connection per request.
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				code, body, err := freshGet(d.url("/"))
				if err == nil && code == 200 && body == "one" {
					ok.Add(1)
					continue
				}
				failed.Add(1)
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%d %q %v", code, body, err))
				mu.Unlock()
			}
		})
	}
	// waitFor waits until cond holds, or stops the traffic and fails.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("waited 30s for %s: %d requests answered, failures %q\n%s", what, ok.Load(), failures, d.logs.String())
			}
		}
	}
	waitAnswered := func(n int64) {
		t.Helper()
		waitFor(fmt.Sprintf("%d answers", n), func() bool { return ok.Load() >= n })
	}
	waitAnswered(200)
	victim, victimIndex := workers[1], -1
	for _, m := range serving {
		if m["pid"] == float64(victim) {
			victimIndex = int(m["worker"].(float64))
		}
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor("the restarted worker", func() bool { return strings.Contains(d.logs.String(), `"msg":"worker serves again"`) })
	waitAnswered(ok.Load() + 200)
	stop.Store(true)
	wg.Wait()
	t.Logf("traffic across the kill: %d answered, %d failed %q", ok.Load(), failed.Load(), failures)
	// Only requests in flight on the killed worker may fail: at most one
	// per client.
	if failed.Load() > 8 {
		t.Errorf("%d requests failed across the kill, more than the 8 that can be in flight: %q", failed.Load(), failures)
	}
	crash := logLines(d.logs.String(), "worker exited unexpectedly; restarting it")
	if len(crash) != 1 || crash[0]["pid"] != float64(victim) || crash[0]["worker"] != float64(victimIndex) || crash[0]["status"] != "killed by signal killed" || crash[0]["level"] != "ERROR" {
		t.Errorf("crash log lines %v, want one for pid %d killed by signal killed", crash, victim)
	}
	after := waitChildren(t, sup, 3)
	if slices.Contains(after, victim) {
		t.Errorf("the killed worker %d is still a child: %v", victim, after)
	}
	for i := range 50 {
		if code, body, err := freshGet(d.url("/")); err != nil || code != 200 || body != "one" {
			t.Fatalf("GET %d after the restart: %d %q %v", i, code, body, err)
		}
	}

	// SIGHUP: every worker, the restarted one included, serves the new file.
	writeFile(t, path, fmt.Sprintf(workersINI, "two", ""))
	reloadedBefore := len(logLines(d.logs.String(), "reloaded"))
	d.signal(syscall.SIGHUP)
	// systemd's status named the crash, then went back to serving.
	status := "STATUS=serving main on " + d.addr + " from " + path + " with 3 workers"
	crashStatus := fmt.Sprintf("%s; worker %d exited (killed by signal killed), restarting", status, victimIndex)
	if got := next(); got != crashStatus {
		t.Errorf("status after the kill: %q, want %q", got, crashStatus)
	}
	if got := next(); got != status {
		t.Errorf("status after the restart: %q, want %q", got, status)
	}
	if got := next(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("reload start: %q", got)
	}
	if got := next(); got != "READY=1\nSTATUS=serving main on "+d.addr+" from "+path+" with 3 workers" {
		t.Errorf("reload end: %q", got)
	}
	// The log lines travel through a pipe: they may trail the notification.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := workerSet(logLines(d.logs.String(), "reloaded")[reloadedBefore:])
		if slices.Equal(got, []int{0, 1, 2}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers %v reloaded, want 0, 1, 2:\n%s", got, d.logs.String())
		}
	}
	for i := range 60 {
		if code, body, err := freshGet(d.url("/")); err != nil || code != 200 || body != "two" {
			t.Fatalf("GET %d after the reload: %d %q %v", i, code, body, err)
		}
	}

	// SIGTERM: all stop, exit 0, nothing left, port closed.
	d.signal(syscall.SIGTERM)
	if got := next(); !strings.HasPrefix(got, "STOPPING=1\n") {
		t.Errorf("stop: %q", got)
	}
	if code := d.wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, d.logs.String())
	}
	for _, pid := range append(workers, after...) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("worker %d still exists after the stop", pid)
		}
	}
	if got := len(logLines(d.logs.String(), "worker stopped")); got != 3 {
		t.Errorf("%d workers logged as stopped, want 3", got)
	}
	if c, err := net.DialTimeout("tcp", d.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the stop", d.addr)
	}
}

// TestE2EWorkersFromFile: workers = 2 in [server:main], without the
// flag, gives two worker processes; SIGTERM stops both.
func TestE2EWorkersFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-paste.ini")
	writeFile(t, path, fmt.Sprintf(workersINI, "from file", "workers = 2"))
	d := start(t, "--config-file", path)
	d.waitLog(`"msg":"all workers serve"`)
	sup := d.cmd.Process.Pid
	workers := waitChildren(t, sup, 2)
	for range 20 {
		if code, body, err := freshGet(d.url("/")); err != nil || code != 200 || body != "from file" {
			t.Fatalf("GET / = %d %q %v", code, body, err)
		}
	}
	if got := workerSet(logLines(d.logs.String(), "serving")); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("serving workers %v, want 0 and 1", got)
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d:\n%s", code, d.logs.String())
	}
	for _, pid := range workers {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("worker %d still exists after the stop", pid)
		}
	}
}

// TestE2EWorkersBrokenConfig: with --workers, a broken file is reported
// once, by the supervisor, which exits 1 without starting a worker.
func TestE2EWorkersBrokenConfig(t *testing.T) {
	code, stdout, stderr := runBin(t, "--config-file", "testdata/broken-options.ini", "--workers", "3", "--bind-port", "0")
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	if n := strings.Count(stderr, "not serving: 3 problems in testdata/broken-options.ini"); n != 1 {
		t.Errorf("the problems are reported %d times, want once:\n%s", n, stderr)
	}
	if n := strings.Count(stderr, "broken-options.ini:7:"); n != 1 {
		t.Errorf("line 7 is reported %d times, want once:\n%s", n, stderr)
	}
	if strings.Contains(stderr, "worker started") {
		t.Errorf("a worker was started:\n%s", stderr)
	}
}

// TestE2EWorkersGracefulStop: SIGTERM reaches every worker; a request in
// flight on one of them completes while new connections are refused, and
// the supervisor exits 0 once it did. A second SIGTERM is forwarded and
// cuts the request at once.
func TestE2EWorkersGracefulStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.ini")
	writeFile(t, path, fmt.Sprintf(echoINI, "30s"))
	waitShuttingDown := func(d *daemonProc, n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(logLines(d.logs.String(), "shutting down")) < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d workers shut down:\n%s", n, d.logs.String())
			}
		}
	}

	t.Run("drain", func(t *testing.T) {
		d := start(t, "--config-file", path, "--workers", "2")
		d.waitLog(`"msg":"all workers serve"`)
		conn := startSlowRequest(t, d.addr)
		d.signal(syscall.SIGTERM)
		waitShuttingDown(d, 2)
		checkDrain(t, d, conn, 20*time.Second)
	})

	t.Run("second signal", func(t *testing.T) {
		d := start(t, "--config-file", path, "--workers", "2")
		d.waitLog(`"msg":"all workers serve"`)
		startSlowRequest(t, d.addr)
		d.signal(syscall.SIGTERM)
		waitShuttingDown(d, 2)
		begin := time.Now()
		d.signal(syscall.SIGTERM)
		if code := d.wait(10 * time.Second); code != 0 {
			t.Errorf("exit %d:\n%s", code, d.logs.String())
		}
		if took := time.Since(begin); took > 5*time.Second {
			t.Errorf("stopped %v after the second signal, not at once", took)
		}
		for _, msg := range []string{"second signal; forwarded: the workers close every connection now", "second signal; closing every connection now"} {
			if len(logLines(d.logs.String(), msg)) == 0 {
				t.Errorf("no %q line:\n%s", msg, d.logs.String())
			}
		}
	})
}

// TestE2EWorkersOrphaned: workers whose supervisor is killed with SIGKILL
// notice it and stop gracefully, closing the port.
func TestE2EWorkersOrphaned(t *testing.T) {
	d := start(t, "--workers", "2")
	d.waitLog(`"msg":"all workers serve"`)
	workers := waitChildren(t, d.cmd.Process.Pid, 2)
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// The test's copy of the log pipe ends when the workers closed it too.
	d.wait(30 * time.Second)
	if n := len(logLines(d.logs.String(), "the supervisor is gone; stopping")); n != 2 {
		t.Errorf("%d workers noticed the supervisor is gone, want 2:\n%s", n, d.logs.String())
	}
	if got := workerSet(logLines(d.logs.String(), "stopped")); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("workers %v stopped, want 0 and 1:\n%s", got, d.logs.String())
	}
	for _, pid := range workers {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			s := string(data)
			if err != nil || strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z") {
				break // gone, or ended and waiting for its new parent to reap it
			}
			if time.Now().After(deadline) {
				t.Fatalf("worker %d still runs without its supervisor: %s", pid, s)
			}
		}
	}
	if c, err := net.DialTimeout("tcp", d.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections", d.addr)
	}
}

// TestE2EWorkersSocketActivation: the supervisor takes the socket systemd
// passed (LISTEN_FDS) and shares it with its workers; [server:main]'s
// port, taken, is not bound.
func TestE2EWorkersSocketActivation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	path := filepath.Join(t.TempDir(), "api-paste.ini")
	writeFile(t, path, fmt.Sprintf(workersINI, "activated", "port = "+port+"\nworkers = 2"))

	d := startActivated(t, ln, path)
	d.waitLog(`"msg":"all workers serve"`)
	if n := len(logLines(d.logs.String(), "using the socket passed by systemd")); n != 1 {
		t.Errorf("%d socket activation lines, want the supervisor's alone:\n%s", n, d.logs.String())
	}
	waitChildren(t, d.cmd.Process.Pid, 2)
	for range 20 {
		if code, body, err := freshGet(d.url("/")); err != nil || code != 200 || body != "activated" {
			t.Fatalf("GET / = %d %q %v", code, body, err)
		}
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(20 * time.Second); code != 0 {
		t.Errorf("exit %d:\n%s", code, d.logs.String())
	}
}
