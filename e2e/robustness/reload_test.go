package robustness

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadIni serves a marker through a few filters; the test rewrites it
// with the other marker before each SIGHUP.
func reloadIni(marker string) string {
	return `
[pipeline:main]
pipeline = request_id faultwrap request_log sizelimit app

[filter:request_id]
use = egg:oslo.middleware#request_id

[filter:faultwrap]
use = egg:vietstack#faultwrap

[filter:request_log]
use = egg:vietstack#request_log
destination = %(here)s/access.log

[filter:sizelimit]
use = egg:oslo.middleware#sizelimit

[app:app]
use = egg:vietstack#text
body = ` + marker + `

[server:main]
use = egg:vietstack#http
host = 127.0.0.1
port = 0
`
}

// TestReloadUnderLoad is R1 (CI-sized): 32 keep-alive clients load the
// daemon for ~8 s while 6 SIGHUPs, 1 s apart, alternate two files with
// different markers. Pass: no request fails, every answer is 200 with
// marker A or B, and from 1 s after the last reload every answer carries
// the last marker.
func TestReloadUnderLoad(t *testing.T) {
	d := startDaemon(t, reloadIni("marker-A"), nil)
	path := filepath.Join(d.dir, "api-paste.ini")
	c := newClient()
	var (
		stop      atomic.Bool
		total     atomic.Int64
		mu        sync.Mutex
		failures  []string
		lastHUP   atomic.Int64 // unix nanos of the last reload's log line
		final     atomic.Value
		staleLate atomic.Int64
	)
	final.Store("")
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for !stop.Load() {
				sent := time.Now()
				resp, err := c.Get(d.url("/"))
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				total.Add(1)
				body := string(b)
				if resp.StatusCode != 200 || body != "marker-A" && body != "marker-B" {
					mu.Lock()
					failures = append(failures, resp.Status+" "+body)
					mu.Unlock()
					continue
				}
				if f := final.Load().(string); f != "" && sent.UnixNano() > lastHUP.Load()+int64(time.Second) && body != f {
					staleLate.Add(1)
				}
			}
		})
	}
	markers := []string{"marker-B", "marker-A"}
	reloads := 6
	for i := range reloads {
		time.Sleep(time.Second)
		m := markers[i%2]
		if err := os.WriteFile(path, []byte(reloadIni(m)), 0o644); err != nil {
			t.Fatal(err)
		}
		before := strings.Count(d.logText(), `"msg":"reloaded"`)
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); strings.Count(d.logText(), `"msg":"reloaded"`) == before; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("reload %d not logged:\n%.3000s", i+1, d.logText())
			}
		}
		if i == reloads-1 {
			lastHUP.Store(time.Now().UnixNano())
			final.Store(m)
		}
	}
	time.Sleep(2 * time.Second)
	stop.Store(true)
	wg.Wait()
	c.CloseIdleConnections()
	d.alive()
	t.Logf("%d requests across %d reloads, %d failures", total.Load(), reloads, len(failures))
	if len(failures) > 0 {
		t.Errorf("%d requests failed across reloads; first: %s", len(failures), failures[0])
	}
	if n := staleLate.Load(); n > 0 {
		t.Errorf("%d requests sent 1 s after the last reload got the previous marker", n)
	}
	if total.Load() < 1000 {
		t.Errorf("only %d requests: the load did not run", total.Load())
	}
}
