package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLimitListener: past the cap a connection gets a complete 503 once
// it sent its request, and closing a served connection frees its place.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	dial()
	var served []net.Conn
	for range 2 {
		select {
		case c := <-accepted:
			served = append(served, c)
		case <-time.After(5 * time.Second):
			t.Fatal("connections under the cap not accepted")
		}
	}
	if _, ok := served[0].(*trackedTCPConn); !ok {
		t.Errorf("a TCP connection is wrapped as %T, hiding *net.TCPConn's methods", served[0])
	}
	if got := ln.Open(); got != 2 {
		t.Errorf("Open() = %d, want 2", got)
	}

	// The third is answered 503 after its request, not handed to Accept.
	c := dial()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !resp.Close ||
		!strings.Contains(string(body), `"code": 503`) {
		t.Errorf("rejection: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if got := ln.Rejected(); got != 1 {
		t.Errorf("Rejected() = %d, want 1", got)
	}
	select {
	case c := <-accepted:
		t.Fatalf("a connection past the cap was accepted: %v", c.RemoteAddr())
	default:
	}

	// Closing one (twice: counted once) makes room for the next.
	served[0].Close()
	served[0].Close()
	if got := ln.Open(); got != 1 {
		t.Errorf("Open() after a close = %d, want 1", got)
	}
	dial()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("no room after a close")
	}
	served[1].Close()
}

func TestDefaultMaxConnections(t *testing.T) {
	for nofile, want := range map[uint64]int{
		256: 96, 1024: 480, 65536: 32736, 100: 18, 64: 16, 10: 16, 1 << 30: 1 << 23, 1<<64 - 1: 1 << 23,
	} {
		if got := maxConnectionsFor(nofile); got != want {
			t.Errorf("maxConnectionsFor(%d) = %d, want %d", nofile, got, want)
		}
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		if got, want := defaultMaxConnections(), maxConnectionsFor(lim.Cur); got != want {
			t.Errorf("defaultMaxConnections() = %d, want %d for the limit %d", got, want, lim.Cur)
		}
	}
}

// TestActiveRequests: a server with the ConnState hook marks each
// connection busy while it serves a request; Active counts the busy ones
// and forgets closed connections.
func TestActiveRequests(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 10)
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	srv := &http.Server{ConnState: setActive, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	addr := inner.Addr().String()

	get := func(path string) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, c)
		return err
	}
	if err := get("/fast"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- get("/slow") }()
	}
	idle, err := net.Dial("tcp", addr) // open, no request
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	<-started
	<-started
	if n := ln.Active(); n != 2 {
		t.Errorf("Active with 2 requests in progress = %d", n)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for ln.Active() != 0 || ln.Open() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after the requests: Active %d, Open %d; want 0 and 1 (the idle connection)", ln.Active(), ln.Open())
		}
		time.Sleep(5 * time.Millisecond)
	}
	ln.mu.Lock()
	tracked := len(ln.conns)
	ln.mu.Unlock()
	if tracked != 1 {
		t.Errorf("%d connections tracked, want 1", tracked)
	}
}
