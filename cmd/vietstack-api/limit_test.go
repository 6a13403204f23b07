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
