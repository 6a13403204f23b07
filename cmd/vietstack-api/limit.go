package main

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// rejectBody is the JSON fault a connection past max_connections gets.
const rejectBody = `{"error": {"code": 503, "title": "Service Unavailable", "message": "The server is serving too many connections; retry later."}}`

// rejectResponse is what a connection past max_connections receives
// before it is closed: a complete response, so a client (or a load
// balancer) sees a fast, retryable 503 instead of a hang or a reset.
var rejectResponse = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: application/json\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"Content-Length: " + strconv.Itoa(len(rejectBody)) + "\r\n" +
	"\r\n" + rejectBody)

// maxRejecters bounds the goroutines (and descriptors) answering rejected
// connections at once (the default max_connections leaves room for them
// below the open-file limit). Past it a rejected connection is closed without an answer, so a
// flood cannot turn the rejections into the exhaustion they prevent.
const maxRejecters = 64

// rejectWait is how long a rejected connection may take to send its
// request head, and then to read the answer.
const rejectWait = 250 * time.Millisecond

// defaultMaxConnections derives max_connections from the process's
// open-file limit (which the Go runtime raises to the hard limit at
// start-up): half of it less 32, leaving a descriptor per connection for a
// backend (the proxy app), and room for the listener, logs, files and the
// rejections themselves; at least 16.
func defaultMaxConnections() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return maxConnectionsFor(1 << 63)
	}
	return maxConnectionsFor(lim.Cur)
}

// maxConnectionsFor is the default max_connections under an open-file
// limit of nofile (see defaultMaxConnections); an unlimited or huge limit
// gives 8 Mi.
func maxConnectionsFor(nofile uint64) int {
	switch {
	case nofile > 1<<24:
		return 1 << 23
	case nofile < 96:
		return 16
	}
	return int(nofile-64) / 2
}

// limitListener caps the connections accepted from its net.Listener that
// are open at once. A connection accepted past the cap is answered with
// rejectResponse and closed, off the accept loop; Accept never blocks
// because of the cap, so the kernel's backlog never fills with
// connections nobody answers. It is safe for concurrent use.
type limitListener struct {
	net.Listener
	max       int64
	open      atomic.Int64
	rejected  atomic.Uint64
	rejecters atomic.Int64
	closed    atomic.Bool
	wg        sync.WaitGroup // rejecting goroutines

	// conns are the open tracked connections, for Active. A connection's
	// active flag is written by its own server goroutine only (the server's
	// ConnState hook, see newHTTPServer), so a request costs no shared
	// counter; Active reads the flags when it is asked (at shutdown).
	mu    sync.Mutex
	conns map[activeFlagger]struct{}
}

// activeFlagger is a tracked connection.
type activeFlagger interface{ activeFlag() *atomic.Bool }

// newLimitListener returns ln limited to n open connections.
func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, max: int64(n), conns: map[activeFlagger]struct{}{}}
}

// Accept returns the next connection under the cap, answering and closing
// those past it.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return l.track(c), nil
		}
		l.open.Add(-1)
		l.rejected.Add(1)
		l.reject(c)
	}
}

// reject answers c with a 503 and closes it. The answer waits for the
// end of the request's header block (at most 8 KiB, rejectWait): an HTTP
// client may not read a response that arrives before it sent its request
// (Go's does not); a client slower than that is closed unanswered.
// After the answer the connection is half-closed and drained briefly, so
// that closing it does not reset it before the client reads the answer.
func (l *limitListener) reject(c net.Conn) {
	if l.rejecters.Add(1) > maxRejecters {
		l.rejecters.Add(-1)
		c.Close()
		return
	}
	l.wg.Go(func() {
		defer l.rejecters.Add(-1)
		defer c.Close()
		c.SetDeadline(time.Now().Add(rejectWait))
		var buf [8 << 10]byte
		n := 0
		for n < len(buf) && !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
			m, err := c.Read(buf[n:])
			n += m
			if err != nil {
				return
			}
		}
		if _, err := c.Write(rejectResponse); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		c.SetDeadline(time.Now().Add(rejectWait))
		for total := 0; total < 64<<10; {
			m, err := c.Read(buf[:])
			total += m
			if err != nil {
				return
			}
		}
	})
}

// Open is the number of connections open now.
func (l *limitListener) Open() int64 { return l.open.Load() }

// Rejected is the number of connections rejected since the start.
func (l *limitListener) Rejected() uint64 { return l.rejected.Load() }

// Close closes the listener and waits for the rejections in progress.
// Only the first call closes; later ones wait and return nil, so that
// http.Server.Shutdown does not report as a failure the close of a
// listener the daemon closed itself at the start of the shutdown delay
// (refuse_during_delay).
func (l *limitListener) Close() error {
	var err error
	if l.closed.CompareAndSwap(false, true) {
		err = l.Listener.Close()
	}
	l.wg.Wait()
	return err
}

// track wraps c so that closing it releases its place. A TCP connection
// keeps its *net.TCPConn methods (ReadFrom for sendfile, CloseWrite) that
// net/http looks for.
func (l *limitListener) track(c net.Conn) net.Conn {
	var t interface {
		net.Conn
		activeFlagger
	}
	if tc, ok := c.(*net.TCPConn); ok {
		t = &trackedTCPConn{TCPConn: tc, l: l}
	} else {
		t = &trackedConn{Conn: c, l: l}
	}
	l.mu.Lock()
	l.conns[t] = struct{}{}
	l.mu.Unlock()
	return t
}

// forget removes a closed connection from conns.
func (l *limitListener) forget(c activeFlagger) {
	l.open.Add(-1)
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// Active returns the number of open connections with a request in
// progress (as the server's ConnState hook last set their flags).
func (l *limitListener) Active() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for c := range l.conns {
		if c.activeFlag().Load() {
			n++
		}
	}
	return n
}

// setActive records whether a request is in progress on c, a connection
// the server got from a limitListener; other connections are ignored. It
// is the server's ConnState hook (see newHTTPServer).
func setActive(c net.Conn, s http.ConnState) {
	var f *atomic.Bool
	switch c := c.(type) {
	case *trackedTCPConn:
		f = &c.active
	case *trackedConn:
		f = &c.active
	default:
		return
	}
	switch s {
	case http.StateActive:
		f.Store(true)
	case http.StateIdle, http.StateHijacked, http.StateClosed:
		f.Store(false)
	}
}

type trackedTCPConn struct {
	*net.TCPConn
	l      *limitListener
	closed atomic.Bool
	active atomic.Bool // a request is in progress (see newHTTPServer)
}

func (c *trackedTCPConn) activeFlag() *atomic.Bool { return &c.active }

func (c *trackedTCPConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.forget(c)
	}
	return c.TCPConn.Close()
}

type trackedConn struct {
	net.Conn
	l      *limitListener
	closed atomic.Bool
	active atomic.Bool
}

func (c *trackedConn) activeFlag() *atomic.Bool { return &c.active }

func (c *trackedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.forget(c)
	}
	return c.Conn.Close()
}
