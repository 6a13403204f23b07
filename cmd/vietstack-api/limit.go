package main

import (
	"net"
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

// maxRejecters bounds the goroutines answering rejected connections at
// once; past it a rejected connection is closed without an answer, so a
// flood cannot turn the rejections into the exhaustion they prevent.
const maxRejecters = 64

// defaultMaxConnections derives max_connections from the process's
// open-file limit (which the Go runtime raises to the hard limit at
// start-up): 90% of it less 32, leaving descriptors for the listener,
// log files, backends and the rejections themselves, and at least 16.
func defaultMaxConnections() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<24 {
		return 1 << 20
	}
	n := int(lim.Cur)*9/10 - 32
	return max(n, 16)
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
	wg        sync.WaitGroup // rejecting goroutines
}

// newLimitListener returns ln limited to max open connections.
func newLimitListener(ln net.Listener, max int) *limitListener {
	return &limitListener{Listener: ln, max: int64(max)}
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

// reject answers c with a 503 and closes it. The request is read (a
// little, briefly) before closing so that the close does not reset the
// connection before the client reads the answer.
func (l *limitListener) reject(c net.Conn) {
	if l.rejecters.Add(1) > maxRejecters {
		l.rejecters.Add(-1)
		c.Close()
		return
	}
	l.wg.Go(func() {
		defer l.rejecters.Add(-1)
		defer c.Close()
		c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Write(rejectResponse); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		var buf [4096]byte
		for total := 0; total < 64<<10; {
			n, err := c.Read(buf[:])
			total += n
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
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.wg.Wait()
	return err
}

// track wraps c so that closing it releases its place. A TCP connection
// keeps its *net.TCPConn methods (ReadFrom for sendfile, CloseWrite) that
// net/http looks for.
func (l *limitListener) track(c net.Conn) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		return &trackedTCPConn{TCPConn: tc, l: l}
	}
	return &trackedConn{Conn: c, l: l}
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
		c.l.open.Add(-1)
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
		c.l.open.Add(-1)
	}
	return c.Conn.Close()
}
