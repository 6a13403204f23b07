package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifySocket listens on a unixgram socket, points NOTIFY_SOCKET at it
// for the test and returns a function that reads the next datagram.
func notifySocket(t *testing.T) func() string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
}

func monotonicUsec(t *testing.T, msg string) int64 {
	t.Helper()
	for _, l := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(l, "MONOTONIC_USEC="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				t.Fatalf("bad MONOTONIC_USEC in %q", msg)
			}
			return n
		}
	}
	t.Fatalf("no MONOTONIC_USEC in %q", msg)
	return 0
}

func TestNotifier(t *testing.T) {
	next := notifySocket(t)
	var logs bytes.Buffer
	n := newNotifier(slog.New(slog.NewTextHandler(&logs, nil)))

	n.Ready("serving on 127.0.0.1:8080\nconfig api-paste.ini")
	if got, want := next(), "READY=1\nSTATUS=serving on 127.0.0.1:8080 config api-paste.ini"; got != want {
		t.Errorf("ready: %q, want %q", got, want)
	}
	n.Reloading()
	first := next()
	if !strings.HasPrefix(first, "RELOADING=1\nMONOTONIC_USEC=") || strings.HasSuffix(first, "\n") {
		t.Errorf("reloading: %q", first)
	}
	n.Reloading()
	second := next()
	if a, b := monotonicUsec(t, first), monotonicUsec(t, second); b < a {
		t.Errorf("MONOTONIC_USEC went back: %d then %d", a, b)
	}
	n.ReloadFailed("api-paste.ini:3: [app:x] use: no factory")
	if got, want := next(), "READY=1\nSTATUS=reload failed, serving the previous configuration: api-paste.ini:3: [app:x] use: no factory"; got != want {
		t.Errorf("reload failed: %q, want %q", got, want)
	}
	n.Status("draining")
	if got := next(); got != "STATUS=draining" {
		t.Errorf("status: %q", got)
	}
	n.Stopping("SIGTERM")
	if got := next(); got != "STOPPING=1\nSTATUS=SIGTERM" {
		t.Errorf("stopping: %q", got)
	}
	if logs.Len() != 0 {
		t.Errorf("unexpected log: %s", logs.String())
	}
	if os.Getenv("NOTIFY_SOCKET") == "" {
		t.Error("NOTIFY_SOCKET was unset")
	}
}

func TestNotifierOutsideSystemd(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	t.Setenv("NOTIFY_SOCKET", "")
	n := newNotifier(log)
	n.Ready("x")
	n.Stopping("x")
	if logs.Len() != 0 {
		t.Errorf("logged without NOTIFY_SOCKET: %s", logs.String())
	}
	var nilN *notifier
	nilN.Ready("x") // does nothing

	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	n.Ready("x")
	if !strings.Contains(logs.String(), "cannot notify systemd") || !strings.Contains(logs.String(), "state=ready") {
		t.Errorf("a failed send is not logged: %q", logs.String())
	}
}

// TestActivatedListener runs activationChild in a child process the way
// systemd starts a socket-activated service: the sockets from fd 3 on,
// LISTEN_FDS and LISTEN_PID (set by a shell that execs the child, so it is
// the child's pid).
func TestActivatedListener(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	tcp := func(t *testing.T) (*net.TCPListener, *os.File) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return ln.(*net.TCPListener), f
	}
	run := func(t *testing.T, pid string, files ...*os.File) (*exec.Cmd, io.ReadCloser) {
		script := `LISTEN_PID=$$ exec "$0" "$@"`
		if pid != "" {
			script = `LISTEN_PID=` + pid + ` exec "$0" "$@"`
		}
		cmd := exec.Command("sh", "-c", script, os.Args[0], "-test.run=^TestActivationChild$")
		cmd.Env = append(os.Environ(), "VIETSTACK_ACTIVATION_CHILD=1", "LISTEN_FDS="+strconv.Itoa(len(files)))
		cmd.ExtraFiles = files
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, out
	}
	line := func(t *testing.T, r io.Reader) string {
		t.Helper()
		s, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			t.Fatalf("child: %q, %v", s, err)
		}
		return strings.TrimSpace(s)
	}

	t.Run("one socket", func(t *testing.T) {
		ln, f := tcp(t)
		_, out := run(t, "", f)
		if got := line(t, out); got != "listening "+ln.Addr().String()+" env-cleared" {
			t.Fatalf("child: %q", got)
		}
		ln.Close() // only the child accepts now
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if got := line(t, c); got != "served by the activated socket" {
			t.Errorf("through the socket: %q", got)
		}
	})
	t.Run("two sockets", func(t *testing.T) {
		_, f1 := tcp(t)
		_, f2 := tcp(t)
		_, out := run(t, "", f1, f2)
		if got := line(t, out); !strings.Contains(got, "systemd passed 2 sockets") {
			t.Errorf("child: %q", got)
		}
	})
	t.Run("not a listener", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		_, out := run(t, "", r)
		if got := line(t, out); !strings.Contains(got, "not a stream listener") {
			t.Errorf("child: %q", got)
		}
	})
	t.Run("another process's sockets", func(t *testing.T) {
		_, f := tcp(t)
		_, out := run(t, "1", f)
		if got := line(t, out); got != "no socket" {
			t.Errorf("child: %q", got)
		}
	})
}

// TestActivationChild is the child of TestActivatedListener; it does
// nothing in a normal run.
func TestActivationChild(t *testing.T) {
	if os.Getenv("VIETSTACK_ACTIVATION_CHILD") != "1" {
		t.Skip("child process of TestActivatedListener")
	}
	inherited := os.Getenv("LISTEN_FDS") != "" && os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid())
	ln, err := activatedListener()
	switch {
	case err != nil:
		fmt.Println("error:", err)
		return
	case ln == nil:
		fmt.Println("no socket")
		return
	}
	cleared := "env-cleared"
	if os.Getenv("LISTEN_FDS") != "" || os.Getenv("LISTEN_PID") != "" || !inherited {
		cleared = "env-kept"
	}
	fmt.Println("listening", ln.Addr().String(), cleared)
	c, err := ln.Accept()
	if err != nil {
		fmt.Println("accept:", err)
		return
	}
	fmt.Fprintln(c, "served by the activated socket")
	c.Close()
	ln.Close()
}
