package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vietstack/vietstack-api/apps/healthcheck"
	"github.com/vietstack/vietstack-api/filters/metrics"
)

// keepAliveConn is a raw client connection that sends HTTP/1.1 requests
// one at a time and reads each response whole.
type keepAliveConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAliveConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAliveConn{c: c, r: bufio.NewReader(c)}
}

// do sends a request for path and returns its response, body read.
func (k *keepAliveConn) do(t *testing.T, method, path, body string) (*http.Response, string) {
	t.Helper()
	k.c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.NewRequest(method, "http://test"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Write(k.c); err != nil {
		t.Fatalf("%s %s: write: %v", method, path, err)
	}
	res, err := http.ReadResponse(k.r, req)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return res, string(b)
}

// closedByServer reports whether the server closed the connection: a
// read sees the end of the stream (or a reset) instead of waiting.
func (k *keepAliveConn) closedByServer() bool {
	k.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := k.r.ReadByte()
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// stillOpen reports whether the connection is open and silent: a short
// read times out.
func (k *keepAliveConn) stillOpen() bool {
	k.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := k.r.ReadByte()
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// TestCloseWhenDraining: before the drain responses keep their
// connections open; from the drain on, an idle keep-alive connection is
// left open, and its next response, GET or POST, carries Connection: close
// and the server closes the connection after it.
func TestCloseWhenDraining(t *testing.T) {
	drain := &healthcheck.Drain{}
	h := closeWhenDraining(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, r.Method+" ok")
	}), drain)
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			drain.Clear()
			c := dialKeepAlive(t, addr)
			for i := range 2 {
				res, body := c.do(t, method, "/", "payload")
				if res.StatusCode != 200 || body != method+" ok" || res.Close {
					t.Fatalf("request %d before the drain: %d %q, close %v", i, res.StatusCode, body, res.Close)
				}
			}
			drain.Set()
			if !c.stillOpen() {
				t.Fatal("the drain closed an idle connection")
			}
			res, body := c.do(t, method, "/", "payload")
			if res.StatusCode != 200 || body != method+" ok" {
				t.Fatalf("request while draining: %d %q", res.StatusCode, body)
			}
			// res.Close is the HTTP/1.1 response's Connection: close
			// (which ReadResponse takes out of the header).
			if !res.Close {
				t.Error("response while draining: no Connection: close")
			}
			if !c.closedByServer() {
				t.Error("the server kept the connection open after a Connection: close response")
			}
		})
	}

	if got := closeWhenDraining(h, nil); got == nil {
		t.Error("closeWhenDraining(h, nil) is nil")
	}
}

// TestShutdownRefuseDuringDelay drives daemon.shutdown with a long delay,
// ended by a second signal: with refuse_during_delay new connections are
// refused from the start of the delay, without it they are served; either
// way an open keep-alive connection is served, closed after its response,
// and the daemon stops with exit 0 and no error logged.
func TestShutdownRefuseDuringDelay(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		name := map[bool]string{false: "accepting", true: "refusing"}[refuse]
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lln := newLimitListener(ln, 100)
			proc := &process{drain: &healthcheck.Drain{}, metrics: metrics.NewRegistry(), level: new(slog.LevelVar)}
			d := newTestDaemon(t, nil, logger, proc, lln)
			st := d.settings
			st.ShutdownDelay = time.Hour // ended by the second signal below
			st.RefuseDuringDelay = refuse
			defer func() { d.sw.Current().Close() }()
			srv := newHTTPServer(closeWhenDraining(d.sw, d.drain), st, logger, true)
			serveErr := make(chan error, 1)
			go func() { serveErr <- srv.Serve(lln) }()
			addr := ln.Addr().String()

			c := dialKeepAlive(t, addr)
			if res, _ := c.do(t, "GET", "/", ""); res.StatusCode != 200 || res.Close {
				t.Fatalf("before the stop: %d, close %v", res.StatusCode, res.Close)
			}

			sigs := make(chan os.Signal, 1)
			exited := make(chan int, 1)
			go func() { exited <- d.shutdown(srv, serveErr, sigs, "test") }()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), "draining") {
				if time.Now().After(deadline) {
					t.Fatalf("no draining line:\n%s", logs.String())
				}
				time.Sleep(5 * time.Millisecond)
			}

			// A new connection during the delay.
			nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if refuse {
				if err == nil {
					nc.Close()
					t.Error("a new connection was accepted during the delay")
				} else if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("a new connection during the delay: %v, want connection refused", err)
				}
			} else {
				if err != nil {
					t.Fatalf("a new connection during the delay: %v", err)
				}
				nc.Close()
			}

			// The open connection is still served, and closed after it.
			res, _ := c.do(t, "GET", "/", "")
			if res.StatusCode != 200 || !res.Close {
				t.Errorf("GET during the delay: %d, close %v; want 200 closing the connection", res.StatusCode, res.Close)
			}
			if !c.closedByServer() {
				t.Error("the connection stayed open after its response during the delay")
			}

			sigs <- syscall.SIGTERM // ends the delay
			select {
			case code := <-exited:
				if code != exitOK {
					t.Errorf("exit %d, want 0", code)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("shutdown did not return:\n%s", logs.String())
			}
			out := logs.String()
			for _, bad := range []string{`"level":"ERROR"`, "grace period over", "closing the listener"} {
				if strings.Contains(out, bad) {
					t.Errorf("log has %q:\n%s", bad, out)
				}
			}
			if want := `"refusing_new_connections":` + map[bool]string{false: "false", true: "true"}[refuse]; !strings.Contains(out, want) {
				t.Errorf("draining line lacks %s:\n%s", want, out)
			}
			if _, err := net.DialTimeout("tcp", addr, 10*time.Second); err == nil {
				t.Error("still listening after the shutdown")
			}
		})
	}
}

// TestLimitListenerCloseTwice: only the first Close reports the listener's
// close; a second (Shutdown's, after refuse_during_delay) returns nil.
func TestLimitListenerCloseTwice(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(ln, 1)
	if err := l.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	// Served by http.Server, whose Serve and Shutdown both close it.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = newLimitListener(ln, 1)
	srv := &http.Server{Handler: http.NotFoundHandler()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	l.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve after the listener closed: %v, want net.ErrClosed", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after the listener closed: %v, want nil", err)
	}
}
