// Command startup measures a server's start-up: the time from just before
// exec to the first answer with the expected status, repeated and
// summarised (median, min, max, 90th percentile).
//
//	startup [-n 21] [-url http://127.0.0.1:18180/] [-expect 200] [-H 'Name: value']... -- CMD ARGS...
//
// Each run starts CMD in its own process group, then polls the URL's
// host:port with a raw TCP connect every -poll (200µs by default) and,
// once one connects, sends one HTTP/1.1 GET with the -H headers on that
// connection and reads the status line. An answer with another status is
// polled again until -timeout. The process group is then sent SIGTERM and
// waited for (SIGKILL after 5 s) before the next run. It uses no
// net/http client on purpose: the client's own first-request set-up would
// be counted against the server.
//
// With -url "" it measures exec to exit instead (for CMD --version, say:
// the cost of the runtime and package initialisation alone).
//
// At the first answer it also reads, from /proc, the server's minor page
// faults and CPU time (summed over its threads) so far: on a virtual
// machine where a page fault is expensive these explain most of the
// clock time, and they vary much less with the machine's other load than
// the clock does.
//
// It prints one line per run and a summary line of medians; -q prints the
// summary only. The exit status is 1 when a run fails.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	n := flag.Int("n", 21, "number of start-ups")
	rawURL := flag.String("url", "http://127.0.0.1:18180/", `URL to poll; "" measures exec to exit`)
	expect := flag.Int("expect", 200, "status that counts as started (0: any)")
	poll := flag.Duration("poll", 200*time.Microsecond, "interval between connection attempts")
	timeout := flag.Duration("timeout", 30*time.Second, "give up on a run after")
	quiet := flag.Bool("q", false, "print the summary only")
	var hdrs headers
	flag.Var(&hdrs, "H", "request header `Name: value` (repeatable)")
	flag.Parse()
	argv := flag.Args()
	if len(argv) == 0 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: startup [flags] -- CMD ARGS...")
		os.Exit(2)
	}
	var target *url.URL
	if *rawURL != "" {
		u, err := url.Parse(*rawURL)
		if err != nil || u.Scheme != "http" || u.Port() == "" {
			fmt.Fprintln(os.Stderr, "startup: -url must be http://host:port/path")
			os.Exit(2)
		}
		target = u
		if c, err := net.DialTimeout("tcp", u.Host, 500*time.Millisecond); err == nil {
			c.Close()
			fmt.Fprintf(os.Stderr, "startup: %s is already in use\n", u.Host)
			os.Exit(1)
		}
	}
	var ms, flt, cpu []float64
	for i := 0; i < *n; i++ {
		r, err := once(argv, target, hdrs, *expect, *poll, *timeout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "startup: run %d: %v\n", i+1, err)
			os.Exit(1)
		}
		ms = append(ms, float64(r.clock.Microseconds())/1000)
		flt = append(flt, float64(r.faults))
		cpu = append(cpu, float64(r.cpu.Microseconds())/1000)
		if !*quiet {
			fmt.Printf("run %d: %.2f ms  %d faults  cpu %.2f ms\n", i+1, ms[i], r.faults, cpu[i])
		}
	}
	med, lo, p90, hi := summary(ms)
	fmt.Printf("n %d  median %.2f ms  min %.2f  p90 %.2f  max %.2f  |  faults %.0f  cpu %.2f ms (medians)\n",
		len(ms), med, lo, p90, hi, median(flt), median(cpu))
}

// result is what one start-up measured.
type result struct {
	clock  time.Duration // exec to first answer (or to exit)
	faults int64         // minor page faults of the server by then
	cpu    time.Duration // its user+system CPU time by then
}

func median(v []float64) float64 {
	m, _, _, _ := summary(v)
	return m
}

// summary returns the median, minimum, 90th percentile and maximum of v.
func summary(v []float64) (med, lo, p90, hi float64) {
	v = slices.Clone(v)
	slices.Sort(v)
	med = v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return med, v[0], v[(len(v)*9+9)/10-1], v[len(v)-1]
}

// once runs argv one time and measures its start-up.
func once(argv []string, target *url.URL, hdrs headers, expect int, poll, timeout time.Duration) (result, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if target == nil {
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return result{}, err
		}
		r := result{clock: time.Since(t0)}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.faults = ru.Minflt
			r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		return r, nil
	}
	req := "GET " + target.RequestURI() + " HTTP/1.1\r\nHost: " + target.Host + "\r\nConnection: close\r\n"
	for _, h := range hdrs {
		req += h + "\r\n"
	}
	req += "\r\n"
	exited := make(chan error, 1)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	defer stop(pid, exited)
	deadline := t0.Add(timeout)
	last := errors.New("no answer")
	for time.Now().Before(deadline) {
		status, err := ask(target.Host, req)
		if err == nil && (expect == 0 || status == expect) {
			r := result{clock: time.Since(t0)}
			r.faults, r.cpu = usage(pid)
			return r, nil
		}
		if err == nil {
			last = fmt.Errorf("answered %d, want %d", status, expect)
		}
		select {
		case err := <-exited:
			exited <- err
			return result{}, fmt.Errorf("%s exited before answering (%v)", argv[0], err)
		default:
		}
		time.Sleep(poll)
	}
	return result{}, fmt.Errorf("not started after %s: %v", timeout, last)
}

// usage returns the minor faults of process pid (all its threads) and the
// CPU time its threads have run, from /proc; zeros when unreadable.
func usage(pid int) (faults int64, cpu time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		// Fields after the parenthesised command; minflt is field 10.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 7 {
				faults, _ = strconv.ParseInt(f[7], 10, 64)
			}
		}
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			cpu += time.Duration(ns)
		}
	}
	return faults, cpu
}

// ask sends req to addr and returns the answer's status.
func ask(addr, req string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// stop ends the process group pid and waits for its leader.
func stop(pid int, exited chan error) {
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
}
