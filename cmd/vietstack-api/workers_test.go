package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// fakeWorker is a worker process of the supervisor tests: its events go
// to the supervisor in order, the exit last.
type fakeWorker struct {
	index, pid int
	out        chan workerEvent

	mu      sync.Mutex
	signals []os.Signal
	stops   int
	done    bool
	// stopAfter is the number of stop signals after which it exits 0
	// (default 1); reload answers a SIGHUP with RELOADING then READY and
	// the STATUS it returns, or not at all when it returns "".
	stopAfter int
	reload    func() string
}

func (f *fakeWorker) Pid() int { return f.pid }

func (f *fakeWorker) Signal(s os.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return os.ErrProcessDone
	}
	f.signals = append(f.signals, s)
	switch s {
	case syscall.SIGHUP:
		if st := f.reload(); st != "" {
			f.out <- workerEvent{proc: f, state: "RELOADING=1\nMONOTONIC_USEC=1"}
			f.out <- workerEvent{proc: f, state: "READY=1\nSTATUS=" + st}
		}
	default:
		f.stops++
		if f.stops >= f.stopAfter {
			f.exitLocked(0, 0)
		}
	}
	return nil
}

// send reports an sd_notify state.
func (f *fakeWorker) send(state string) { f.out <- workerEvent{proc: f, state: state} }

// exit ends the process with code, or killed by sig when sig is not 0.
func (f *fakeWorker) exit(code int, sig syscall.Signal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exitLocked(code, sig)
}

func (f *fakeWorker) exitLocked(code int, sig syscall.Signal) {
	if f.done {
		return
	}
	f.done = true
	if sig != 0 {
		code = -1
	}
	f.out <- workerEvent{proc: f, exit: &workerExit{code: code, signal: sig}}
}

func (f *fakeWorker) setStopAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopAfter = n
}

func (f *fakeWorker) got() []os.Signal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.signals)
}

// fakeStarter starts fakeWorkers. onStart runs for each new process (by
// default it reports READY); fail, when it returns an error, makes the
// start fail.
type fakeStarter struct {
	mu      sync.Mutex
	procs   []*fakeWorker
	starts  []time.Time
	onStart func(f *fakeWorker, incarnation int)
	fail    func(index, incarnation int) error
	reload  func(index int) string
}

func (s *fakeStarter) spawn(index int, events chan<- workerEvent) (workerProcess, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc := 0
	for _, p := range s.procs {
		if p.index == index {
			inc++
		}
	}
	if s.fail != nil {
		if err := s.fail(index, inc); err != nil {
			return nil, err
		}
	}
	f := &fakeWorker{index: index, pid: 1000 + len(s.procs), out: make(chan workerEvent, 100), stopAfter: 1}
	f.reload = func() string {
		if s.reload != nil {
			return s.reload(index)
		}
		return "serving main"
	}
	s.procs = append(s.procs, f)
	s.starts = append(s.starts, time.Now())
	go func() {
		for ev := range f.out {
			events <- ev
			if ev.exit != nil {
				return
			}
		}
	}()
	if s.onStart != nil {
		s.onStart(f, inc)
	} else {
		f.send("READY=1\nSTATUS=serving main")
	}
	return f, nil
}

func (s *fakeStarter) setOnStart(fn func(f *fakeWorker, incarnation int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onStart = fn
}

// of returns the processes started in slot index, in order.
func (s *fakeStarter) of(index int) []*fakeWorker {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*fakeWorker
	for _, p := range s.procs {
		if p.index == index {
			out = append(out, p)
		}
	}
	return out
}

func (s *fakeStarter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.procs)
}

// harness runs a supervisor of fake workers; it must be made inside a
// synctest bubble.
type harness struct {
	t        *testing.T
	starter  *fakeStarter
	sigs     chan os.Signal
	cancel   context.CancelFunc
	code     chan int
	logs     *syncBuffer
	mu       sync.Mutex
	notes    []string
	released int
}

func newHarness(t *testing.T, n int, starter *fakeStarter) *harness {
	h := &harness{t: t, starter: starter, sigs: make(chan os.Signal, 4), code: make(chan int, 1), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	s := &supervisor{
		n:      n,
		log:    log,
		status: "serving main on 127.0.0.1:1 with 3 workers",
		notify: &notifier{log: log, send: func(state string) (bool, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notes = append(h.notes, state)
			return true, nil
		}},
		spawn: starter.spawn,
		release: func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.released++
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.code <- s.run(ctx, h.sigs) }()
	return h
}

// notifications returns the sd_notify messages so far, MONOTONIC_USEC
// values replaced by N.
func (h *harness) notifications() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, n := range h.notes {
		if i := strings.Index(n, "MONOTONIC_USEC="); i >= 0 {
			n = n[:i] + "MONOTONIC_USEC=N"
		}
		out = append(out, n)
	}
	return out
}

// readiness is notifications without the STATUS-only messages.
func (h *harness) readiness() []string {
	return slices.DeleteFunc(h.notifications(), func(s string) bool { return strings.HasPrefix(s, "STATUS=") })
}

// exitCode waits (in virtual time) for the supervisor to return.
func (h *harness) exitCode() int {
	h.t.Helper()
	select {
	case c := <-h.code:
		return c
	case <-time.After(time.Hour):
		h.t.Fatalf("the supervisor did not return:\n%s", h.logs.String())
		return -1
	}
}

func (h *harness) wantLog(parts ...string) {
	h.t.Helper()
	for l := range strings.Lines(h.logs.String()) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return
		}
	}
	h.t.Errorf("no log line with %q:\n%s", parts, h.logs.String())
}

func signalsEqual(got []os.Signal, want ...os.Signal) bool { return slices.Equal(got, want) }

// TestSupervisorStartStop: READY=1 once every worker serves; SIGTERM is
// forwarded to each once, the listener copy is released, nothing is
// restarted, and the supervisor exits 0.
func TestSupervisorStartStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStarter{onStart: func(f *fakeWorker, _ int) {
			if f.index != 2 {
				f.send("READY=1\nSTATUS=serving main")
			}
		}}
		h := newHarness(t, 3, st)
		synctest.Wait()
		if got := h.notifications(); len(got) != 0 {
			t.Fatalf("notified %q before every worker serves", got)
		}
		st.of(2)[0].send("READY=1\nSTATUS=serving main")
		synctest.Wait()
		if got, want := h.notifications(), []string{"READY=1\nSTATUS=serving main on 127.0.0.1:1 with 3 workers"}; !slices.Equal(got, want) {
			t.Fatalf("notifications %q, want %q", got, want)
		}
		h.wantLog("all workers serve", "workers=3")
		h.sigs <- syscall.SIGTERM
		if code := h.exitCode(); code != 0 {
			t.Errorf("exit %d:\n%s", code, h.logs.String())
		}
		if st.count() != 3 {
			t.Errorf("%d processes started, want 3", st.count())
		}
		for i := range 3 {
			if got := st.of(i)[0].got(); !signalsEqual(got, syscall.SIGTERM) {
				t.Errorf("worker %d got %v, want one SIGTERM", i, got)
			}
		}
		h.mu.Lock()
		if h.released != 1 {
			t.Errorf("listener released %d times, want 1", h.released)
		}
		h.mu.Unlock()
		if got := h.notifications(); len(got) != 2 || !strings.HasPrefix(got[1], "STOPPING=1\nSTATUS=stopping (terminated)") {
			t.Errorf("notifications %q", got)
		}
		h.wantLog("worker stopped", "worker=1", "pid=1001", `status="exit status 0"`)
	})
}

// TestSupervisorSecondSignal: a second SIGINT is forwarded too; a worker
// that ends with a failure during the stop makes the exit status 1.
func TestSupervisorSecondSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStarter{}
		h := newHarness(t, 2, st)
		synctest.Wait()
		for i := range 2 {
			st.of(i)[0].setStopAfter(2)
		}
		h.sigs <- syscall.SIGINT
		synctest.Wait()
		for i := range 2 {
			if got := st.of(i)[0].got(); !signalsEqual(got, syscall.SIGINT) {
				t.Errorf("worker %d got %v after one SIGINT", i, got)
			}
		}
		h.sigs <- syscall.SIGHUP // ignored while stopping
		h.sigs <- syscall.SIGINT
		synctest.Wait()
		if code := h.exitCode(); code != 0 {
			t.Errorf("exit %d", code)
		}
		for i := range 2 {
			if got := st.of(i)[0].got(); !signalsEqual(got, syscall.SIGINT, syscall.SIGINT) {
				t.Errorf("worker %d got %v, want SIGINT twice", i, got)
			}
		}
		h.wantLog("second signal; forwarded")
	})
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStarter{}
		h := newHarness(t, 2, st)
		synctest.Wait()
		st.of(1)[0].setStopAfter(99)
		h.sigs <- syscall.SIGTERM
		synctest.Wait()
		st.of(1)[0].exit(0, syscall.SIGKILL)
		if code := h.exitCode(); code != 1 {
			t.Errorf("exit %d with a worker killed during the stop, want 1", code)
		}
		h.wantLog("worker stopped with a failure", "worker=1", `status="killed by signal killed"`)
	})
}

// TestSupervisorFailFast: a worker that fails before serving at start-up
// stops the others and the supervisor exits 1, restarting nothing; so
// does a worker that cannot be started at all.
func TestSupervisorFailFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStarter{onStart: func(f *fakeWorker, _ int) {
			if f.index == 1 {
				f.exit(1, 0)
				return
			}
			f.send("READY=1\nSTATUS=serving main")
		}}
		h := newHarness(t, 3, st)
		if code := h.exitCode(); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if st.count() != 3 {
			t.Errorf("%d processes started, want 3 (no restart)", st.count())
		}
		for _, i := range []int{0, 2} {
			if got := st.of(i)[0].got(); !signalsEqual(got, syscall.SIGTERM) {
				t.Errorf("worker %d got %v, want SIGTERM", i, got)
			}
		}
		for _, n := range h.notifications() {
			if strings.HasPrefix(n, "READY=1") {
				t.Errorf("READY sent although start-up failed: %q", h.notifications())
			}
		}
		h.wantLog("worker failed before serving; stopping", "worker=1", `status="exit status 1"`)
	})
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStarter{fail: func(index, _ int) error {
			if index == 2 {
				return errors.New("fork/exec: no such file")
			}
			return nil
		}}
		h := newHarness(t, 3, st)
		if code := h.exitCode(); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if st.count() != 2 {
			t.Errorf("%d processes started, want 2", st.count())
		}
		h.wantLog("cannot start a worker; stopping", "worker=2", "no such file")
	})
}

func TestNextBackoff(t *testing.T) {
	for _, tt := range []struct {
		prev, up, want time.Duration
	}{
		{0, 0, 100 * time.Millisecond},
		{0, time.Hour, 100 * time.Millisecond},
		{100 * time.Millisecond, time.Second, 200 * time.Millisecond},
		{3200 * time.Millisecond, 29 * time.Second, 6400 * time.Millisecond},
		{6400 * time.Millisecond, 0, 10 * time.Second},
		{10 * time.Second, 0, 10 * time.Second},
		{10 * time.Second, 30 * time.Second, 100 * time.Millisecond},
	} {
		if got := nextBackoff(tt.prev, tt.up); got != tt.want {
			t.Errorf("nextBackoff(%v, %v) = %v, want %v", tt.prev, tt.up, got, tt.want)
		}
	}
}

// TestSupervisorRestart: a worker that crashes after serving is restarted
// after 100 ms, then 200 ms, 400 ms ... up to 10 s while it keeps
// crashing at once, and after 100 ms again once it stayed up 30 s; the
// other worker is left alone, each crash is logged, and start-up failures
// past start-up are retried instead of stopping everything.
func TestSupervisorRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var crashed []time.Time
		var mu sync.Mutex
		st := &fakeStarter{}
		st.onStart = func(f *fakeWorker, inc int) {
			f.send("READY=1\nSTATUS=serving main")
			if f.index != 0 || inc == 0 || inc > 12 {
				return
			}
			up := time.Duration(0)
			if inc == 10 {
				up = 30 * time.Second // stays up long enough to reset
			}
			go func() {
				time.Sleep(up)
				mu.Lock()
				crashed = append(crashed, time.Now())
				mu.Unlock()
				switch {
				case inc == 11:
					f.exit(0, syscall.SIGKILL)
				case inc == 12:
					f.exit(0, 0) // stopped by someone else: restarted too
				default:
					f.exit(2, 0)
				}
			}()
		}
		// The start-up spawn of a replacement fails once: retried.
		failedOnce := false
		st.fail = func(index, inc int) error {
			if index == 0 && inc == 6 && !failedOnce {
				failedOnce = true
				return errors.New("resource temporarily unavailable")
			}
			return nil
		}
		h := newHarness(t, 2, st)
		synctest.Wait()
		mu.Lock()
		crashed = append(crashed, time.Now())
		mu.Unlock()
		st.of(0)[0].exit(2, 0) // the first crash
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		procs := st.of(0)
		if len(procs) != 14 {
			t.Fatalf("%d processes in slot 0, want 14:\n%s", len(procs), h.logs.String())
		}
		var starts []time.Time
		st.mu.Lock()
		for i, p := range st.procs {
			if p.index == 0 {
				starts = append(starts, st.starts[i])
			}
		}
		st.mu.Unlock()
		// crash k is followed by start k+1.
		// The sixth start fails once: 3.2 s, then 6.4 s more.
		want := []time.Duration{100, 200, 400, 800, 1600, 3200 + 6400, 10000, 10000, 10000, 10000, 100, 200, 400}
		var got []time.Duration
		for k := range want {
			got = append(got, starts[k+1].Sub(crashed[k])/time.Millisecond)
		}
		if !slices.Equal(got, want) {
			t.Errorf("restart delays (ms) %v, want %v", got, want)
		}
		if n := len(st.of(1)); n != 1 {
			t.Errorf("the other worker was started %d times", n)
		}
		h.wantLog("worker exited unexpectedly; restarting it", "level=ERROR", "worker=0", `status="exit status 2"`, "restart_in=100ms")
		h.wantLog("worker exited unexpectedly; restarting it", "level=ERROR", "worker=0", `status="killed by signal killed"`, "restart_in=200ms")
		h.wantLog("worker exited unexpectedly; restarting it", "level=WARN", "worker=0", `status="exit status 0"`, "restart_in=400ms")
		h.wantLog("cannot restart a worker; trying again", "worker=0", "restart_in=6.4s")
		h.wantLog("worker serves again", "worker=0")
		notes := h.notifications()
		if n := len(slices.DeleteFunc(slices.Clone(notes), func(s string) bool { return !strings.HasPrefix(s, "READY=1") })); n != 1 {
			t.Errorf("READY sent %d times, want once: %q", n, notes)
		}
		const status = "STATUS=serving main on 127.0.0.1:1 with 3 workers"
		if !slices.Contains(notes, status+"; worker 0 exited (killed by signal killed), restarting") || notes[len(notes)-1] != status {
			t.Errorf("systemd status %q, want the crash named, then cleared once the worker serves again", notes)
		}
		h.sigs <- syscall.SIGTERM
		if code := h.exitCode(); code != 0 {
			t.Errorf("exit %d", code)
		}
	})
}

// TestSupervisorNoRestartWhileStopping: a worker crashing during the stop
// is not restarted, nor is one whose restart was pending.
func TestSupervisorNoRestartWhileStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStarter{}
		h := newHarness(t, 2, st)
		synctest.Wait()
		st.of(0)[0].exit(1, 0)
		synctest.Wait() // a restart is pending, 100 ms away
		h.sigs <- syscall.SIGTERM
		time.Sleep(time.Minute)
		if code := h.exitCode(); code != 0 {
			t.Errorf("exit %d", code)
		}
		if n := st.count(); n != 2 {
			t.Errorf("%d processes started, want 2", n)
		}
	})
}

// TestSupervisorReload: SIGHUP is forwarded to every serving worker;
// systemd sees RELOADING then READY once each reported the end of its
// reload, with the first failure in STATUS; a worker leaving or not
// answering does not hold the reload forever; a worker that was starting
// gets the SIGHUP once it serves.
func TestSupervisorReload(t *testing.T) {
	const ready = "READY=1\nSTATUS=serving main on 127.0.0.1:1 with 3 workers"
	synctest.Test(t, func(t *testing.T) {
		answers := map[int]string{}
		var mu sync.Mutex
		st := &fakeStarter{reload: func(i int) string {
			mu.Lock()
			defer mu.Unlock()
			if a, ok := answers[i]; ok {
				return a
			}
			return "serving main"
		}}
		h := newHarness(t, 3, st)
		synctest.Wait()

		h.sigs <- syscall.SIGHUP
		synctest.Wait()
		if got, want := h.readiness(), []string{ready, "RELOADING=1\nMONOTONIC_USEC=N", ready}; !slices.Equal(got, want) {
			t.Errorf("after a good reload: %q, want %q", got, want)
		}
		for i := range 3 {
			if got := st.of(i)[0].got(); !signalsEqual(got, syscall.SIGHUP) {
				t.Errorf("worker %d got %v", i, got)
			}
		}
		h.wantLog("workers reloaded", "workers=3")

		mu.Lock()
		answers[1] = reloadFailedStatus + "1 problem in api-paste.ini, the first: api-paste.ini:3: boom"
		mu.Unlock()
		h.sigs <- syscall.SIGHUP
		synctest.Wait()
		got := h.readiness()
		if want := "READY=1\nSTATUS=" + reloadFailedStatus + "worker 1: 1 problem in api-paste.ini, the first: api-paste.ini:3: boom"; got[len(got)-1] != want {
			t.Errorf("after a failed reload: %q, want %q", got[len(got)-1], want)
		}
		h.wantLog("reload failed in some workers", "failed=1")

		// Worker 2 does not answer and worker 0 dies: the reload ends
		// when worker 0 leaves only if worker 2 answered; it never does,
		// so it ends after reloadWait.
		mu.Lock()
		answers = map[int]string{0: "", 2: ""}
		mu.Unlock()
		before := len(h.readiness())
		h.sigs <- syscall.SIGHUP
		synctest.Wait()
		// Its replacement will not serve until told to.
		st.setOnStart(func(f *fakeWorker, inc int) {
			if f.index != 0 {
				f.send("READY=1\nSTATUS=serving main")
			}
		})
		st.of(0)[0].exit(1, 0)
		synctest.Wait()
		if got := h.readiness(); len(got) != before+1 {
			t.Errorf("the reload ended while worker 2 had not answered: %q", got[before:])
		}
		time.Sleep(reloadWait)
		synctest.Wait()
		if got := h.readiness(); len(got) != before+2 || got[before+1] != ready {
			t.Errorf("after the reload timeout: %q", got[before:])
		}
		h.wantLog("did not report the end of the reload in time", "workers=2")

		// Worker 0 restarted and is starting: a SIGHUP reaches it once it
		// serves.
		mu.Lock()
		answers = map[int]string{}
		mu.Unlock()
		procs := st.of(0)
		if len(procs) != 2 {
			t.Fatalf("worker 0 started %d times, want 2", len(procs))
		}
		restarted := procs[1]
		h.sigs <- syscall.SIGHUP
		synctest.Wait()
		if got := restarted.got(); len(got) != 0 {
			t.Errorf("a starting worker got %v", got)
		}
		restarted.send("READY=1\nSTATUS=serving main")
		synctest.Wait()
		if got := restarted.got(); !signalsEqual(got, syscall.SIGHUP) {
			t.Errorf("the restarted worker got %v once serving, want SIGHUP", got)
		}
		h.cancel()
		if code := h.exitCode(); code != 0 {
			t.Errorf("exit %d after cancel", code)
		}
		h.wantLog("stopping the workers", "reason=\"context done\"")
	})
}

// TestReloadFailedStatus pins the prefix by which the supervisor knows a
// worker's reload failed to what notifier.ReloadFailed sends.
func TestReloadFailedStatus(t *testing.T) {
	var got string
	n := &notifier{log: slog.Default(), send: func(s string) (bool, error) { got = s; return true, nil }}
	n.ReloadFailed("why")
	if st := parseState(got); st["READY"] != "1" || st["STATUS"] != reloadFailedStatus+"why" {
		t.Errorf("ReloadFailed sent %q", got)
	}
}

func TestWorkerFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	for _, tt := range []struct {
		name    string
		env     func(string) (string, bool)
		worker  bool
		index   int
		wantErr string
	}{
		{"none", env(), false, 0, ""},
		{"worker", env(envWorker, "2", envListenFD, "3", envStatusFD, "4"), true, 2, ""},
		{"bad index", env(envWorker, "x", envListenFD, "3", envStatusFD, "4"), false, 0, "VIETSTACK_API_WORKER=\"x\""},
		{"index too big", env(envWorker, fmt.Sprint(pipeline.MaxWorkers), envListenFD, "3", envStatusFD, "4"), false, 0, "worker index"},
		{"no listen fd", env(envWorker, "0", envStatusFD, "4"), false, 0, "VIETSTACK_API_LISTEN_FD=\"\""},
		{"stdio fd", env(envWorker, "0", envListenFD, "2", envStatusFD, "4"), false, 0, "3 or more"},
		{"no status fd", env(envWorker, "0", envListenFD, "3"), false, 0, "VIETSTACK_API_STATUS_FD"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := &options{}
			err := workerFromEnv(o, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || o.worker != tt.worker || o.workerIndex != tt.index {
				t.Errorf("err %v, worker %v index %d", err, o.worker, o.workerIndex)
			}
			if tt.worker && (o.listenFD != 3 || o.statusFD != 4) {
				t.Errorf("fds %d %d", o.listenFD, o.statusFD)
			}
		})
	}
}

func TestWorkerEnviron(t *testing.T) {
	got := workerEnviron([]string{"PATH=/bin", "LISTEN_FDS=1", "LISTEN_PID=9", "LISTEN_FDNAMES=x", "NOTIFY_SOCKET=/run/n",
		"VIETSTACK_API_WORKER=7", "HOME=/root", "VIETSTACK_API_LISTEN_FDX=keep"}, 1)
	want := []string{"PATH=/bin", "HOME=/root", "VIETSTACK_API_LISTEN_FDX=keep",
		"VIETSTACK_API_WORKER=1", "VIETSTACK_API_LISTEN_FD=3", "VIETSTACK_API_STATUS_FD=4"}
	if !slices.Equal(got, want) {
		t.Errorf("workerEnviron = %q, want %q", got, want)
	}
}

func TestParseState(t *testing.T) {
	got := parseState("READY=1\nSTATUS=serving a=b\nnoise\n")
	if len(got) != 2 || got["READY"] != "1" || got["STATUS"] != "serving a=b" {
		t.Errorf("parseState = %q", got)
	}
}

// TestListenerFile: the copy of the listening socket handed to workers is
// a working listener in the worker, and passing it (os/exec calls Fd)
// leaves the shared socket non-blocking.
func TestListenerFile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := listenerFile(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	flags, err := fcntlGetfl(fd)
	if err != nil {
		t.Fatal(err)
	}
	if flags&syscall.O_NONBLOCK == 0 {
		t.Errorf("the socket is blocking after Fd: flags %#x", flags)
	}
	if cloexec, err := fcntlGetfd(fd); err != nil || cloexec&syscall.FD_CLOEXEC == 0 {
		t.Errorf("the copy is inherited by every child: %v %#x", err, cloexec)
	}
	// A worker takes a duplicate as its fd.
	dup, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	wl, err := inheritedListener(dup)
	if err != nil {
		t.Fatal(err)
	}
	defer wl.Close()
	if wl.Addr().String() != ln.Addr().String() {
		t.Errorf("worker listens on %s, want %s", wl.Addr(), ln.Addr())
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := wl.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}

	null, err := syscall.Open(os.DevNull, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inheritedListener(null); err == nil || !strings.Contains(err.Error(), "is not a listening socket") {
		t.Errorf("%s taken for a listener: %v", os.DevNull, err)
	}
}

func fcntlGetfl(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func fcntlGetfd(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// TestWorkerChannel: a worker's notifier sends one message per state over
// the socket pair; closing the supervisor's end makes the worker stop,
// closing its own does not.
func TestWorkerChannel(t *testing.T) {
	sup, conn := socketPair(t)
	defer sup.Close()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	n := workerNotifier(log, conn)
	n.Ready("serving main on 127.0.0.1:1")
	n.Reloading()
	n.ReloadFailed("x")
	buf := make([]byte, 4096)
	var msgs []string
	for range 3 {
		k, err := sup.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, string(buf[:k]))
	}
	if msgs[0] != "READY=1\nSTATUS=serving main on 127.0.0.1:1" || !strings.HasPrefix(msgs[1], "RELOADING=1\nMONOTONIC_USEC=") ||
		msgs[2] != "READY=1\nSTATUS="+reloadFailedStatus+"x" {
		t.Errorf("messages %q", msgs)
	}

	stopped := make(chan struct{})
	done := make(chan struct{})
	go func() { watchSupervisor(conn, log, func() { close(stopped) }); close(done) }()
	sup.Close()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not notice its supervisor is gone")
	}
	<-done
	if !strings.Contains(logs.String(), "the supervisor is gone; stopping") {
		t.Errorf("not logged: %s", logs.String())
	}
	conn.Close()
	n.Ready("x") // a send to a gone supervisor is logged, not fatal
	if !strings.Contains(logs.String(), "cannot notify systemd") {
		t.Errorf("failed send not logged: %s", logs.String())
	}

	// Closing its own end (the worker stops) is not the supervisor leaving.
	a, b := socketPair(t)
	defer b.Close()
	done = make(chan struct{})
	go func() {
		watchSupervisor(a, log, func() { t.Error("stop called when the worker closed its own end") })
		close(done)
	}()
	a.Close()
	<-done
}

// socketPair returns the supervisor's and the worker's ends of a new
// socket pair, as execSpawner makes them, the worker's through
// supervisorConn.
func socketPair(t *testing.T) (sup, worker net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "sup")
	sup, err = net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	worker, err = supervisorConn(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	return sup, worker
}

func TestWorkerExitString(t *testing.T) {
	for _, tt := range []struct {
		x      workerExit
		want   string
		failed bool
	}{
		{workerExit{code: 0}, "exit status 0", false},
		{workerExit{code: 1}, "exit status 1", true},
		{workerExit{code: -1, signal: syscall.SIGKILL}, "killed by signal killed", true},
	} {
		if got := tt.x.String(); got != tt.want || tt.x.failed() != tt.failed {
			t.Errorf("%+v: %q failed=%v, want %q %v", tt.x, got, tt.x.failed(), tt.want, tt.failed)
		}
	}
}
