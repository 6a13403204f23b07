package main

// Worker processes: --workers N, or workers = N in [server:main].
//
// With N > 1 the process started by the operator (or systemd) becomes a
// supervisor. It reads and builds the configuration once, as --check does,
// and closes what it built: a broken file is reported once and the
// supervisor exits 1 before any worker starts. It then takes the listening
// socket (systemd's, passed with LISTEN_FDS, or its own on [server:main]'s
// address) and starts N workers by running its own binary again with the
// same arguments. Each worker gets
//
//   - the listening socket as file descriptor 3 (VIETSTACK_API_LISTEN_FD),
//     shared by all workers: the kernel hands each new connection to one
//     of them, and connections waiting in the backlog survive a worker's
//     crash;
//   - one end of a socket pair as file descriptor 4 (VIETSTACK_API_STATUS_FD)
//     on which it reports what a single process tells systemd (READY,
//     RELOADING, STOPPING, STATUS), and whose end of file tells it that the
//     supervisor is gone, in which case it stops gracefully;
//   - VIETSTACK_API_WORKER=<index> (0..N-1), which makes it a worker: it
//     serves exactly as a single process does (its own pipeline,
//     max_connections, metrics, SIGHUP reload and graceful stop) and never
//     supervises. Its log lines carry worker=<index>;
//   - the supervisor's environment without LISTEN_FDS, LISTEN_PID,
//     LISTEN_FDNAMES and NOTIFY_SOCKET: only the supervisor talks to
//     systemd. Workers run in their own process group, so a terminal's
//     Ctrl-C reaches the supervisor alone, which forwards it once.
//
// The supervisor serves nothing itself (and exposes no metrics: each worker
// has its own, as a scrape through the shared port reaches one of them;
// max_connections, too, counts each worker's own connections). With
// --watch each worker watches the files and reloads on its own. A reload
// applies log_level to the workers; the supervisor keeps the level it
// started with.
// It tells systemd READY=1 once all N workers serve. SIGHUP is forwarded
// to every worker, each rebuilds its pipeline (one whose file is broken
// keeps its previous pipeline), and systemd sees RELOADING=1 then READY=1
// when every worker reported the end of its reload. SIGTERM and SIGINT are
// forwarded to every worker; the supervisor closes its copy of the
// listening socket, restarts nothing any more and waits for every worker
// to drain (shutdown_delay, then graceful_shutdown_timeout); a second
// signal is forwarded too and the workers close their connections at once.
// It exits 0 when every worker exited 0 (or, not serving yet, was ended by
// the forwarded signal), 1 otherwise.
//
// A worker that exits while the supervisor is not stopping is logged
// (index, pid, exit status or signal), named in systemd's STATUS until
// every worker serves again, and started again after a backoff:
// 100 ms, doubled at each exit in a row up to 10 s, back to 100 ms once a
// worker stayed up 30 s. A restarted worker reads the configuration files
// as they are then. A worker that fails before it serves during start-up
// (before all N served once) makes the supervisor stop the others and
// exit 1: a broken configuration must not loop. Under systemd, keep
// KillMode=mixed (etc/vietstack-api.service does): with control-group,
// systemd's SIGTERM reaches the workers directly as well, and the
// forwarded one is then their second signal, which cuts their requests.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// The environment of a worker.
const (
	envWorker   = "VIETSTACK_API_WORKER"    // the worker's index, 0..N-1
	envListenFD = "VIETSTACK_API_LISTEN_FD" // the listening socket
	envStatusFD = "VIETSTACK_API_STATUS_FD" // the socket to the supervisor
)

// The file descriptors a worker is given (exec.Cmd.ExtraFiles start at 3).
const (
	workerListenFD = 3
	workerStatusFD = 4
)

// Restart backoff of a worker that exited.
const (
	restartBackoffMin   = 100 * time.Millisecond
	restartBackoffMax   = 10 * time.Second
	restartBackoffReset = 30 * time.Second // uptime after which the backoff starts over
)

// reloadWait bounds how long the supervisor waits for the workers to
// report the end of a reload before telling systemd it is ready again: a
// worker's reload settles (reloadMaxDelay at most), then builds
// (buildTimeout at most).
const reloadWait = reloadMaxDelay + buildTimeout + 5*time.Second

// reloadFailedStatus begins the STATUS text of notifier.ReloadFailed, by
// which a worker's report of a failed reload is recognised.
const reloadFailedStatus = "reload failed, serving the previous configuration: "

// workerFromEnv makes o a worker's options when lookup (os.LookupEnv)
// finds VIETSTACK_API_WORKER, reading the descriptors it names. A worker
// variable that is set but malformed is an error: the process must not
// serve on a descriptor it guessed.
func workerFromEnv(o *options, lookup func(string) (string, bool)) error {
	idx, ok := lookup(envWorker)
	if !ok {
		return nil
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= pipeline.MaxWorkers {
		return fmt.Errorf("%s=%q: want a worker index from 0 to %d", envWorker, idx, pipeline.MaxWorkers-1)
	}
	fd := func(name string) (int, error) {
		v, _ := lookup(name)
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 {
			return 0, fmt.Errorf("%s=%q with %s set: want a file descriptor number of 3 or more", name, v, envWorker)
		}
		return n, nil
	}
	if o.listenFD, err = fd(envListenFD); err != nil {
		return err
	}
	if o.statusFD, err = fd(envStatusFD); err != nil {
		return err
	}
	o.worker, o.workerIndex = true, i
	return nil
}

// unsetWorkerEnv removes the worker variables from the environment, so
// that nothing this process starts takes itself for a worker.
func unsetWorkerEnv() {
	for _, k := range []string{envWorker, envListenFD, envStatusFD} {
		os.Unsetenv(k)
	}
}

// workerEnviron is env for worker index: without systemd's variables and
// any worker variables, with the worker's own.
func workerEnviron(env []string, index int) []string {
	drop := []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", envWorker, envListenFD, envStatusFD}
	out := make([]string, 0, len(env)+3)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			out = append(out, kv)
		}
	}
	return append(out,
		envWorker+"="+strconv.Itoa(index),
		envListenFD+"="+strconv.Itoa(workerListenFD),
		envStatusFD+"="+strconv.Itoa(workerStatusFD))
}

// inheritedListener is the listening socket a worker was given as fd.
func inheritedListener(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), "listener")
	if f == nil {
		return nil, fmt.Errorf("worker: no file descriptor %d", fd)
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("worker: file descriptor %d is not a listening socket: %w", fd, err)
	}
	return ln, nil
}

// supervisorConn is a worker's end of the socket pair to its supervisor.
func supervisorConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "supervisor")
	if f == nil {
		return nil, fmt.Errorf("worker: no file descriptor %d", fd)
	}
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("worker: file descriptor %d is not the supervisor's socket: %w", fd, err)
	}
	return c, nil
}

// workerNotifier is a worker's notifier: the sd_notify states a single
// process would send to systemd go to the supervisor, one message each.
func workerNotifier(log *slog.Logger, conn net.Conn) *notifier {
	return &notifier{log: log, send: func(state string) (bool, error) {
		if _, err := conn.Write([]byte(state)); err != nil {
			return false, err
		}
		return true, nil
	}}
}

// watchSupervisor calls stop when the supervisor's end of conn closes
// (the supervisor died without stopping its workers). It returns when
// conn is closed by this process or the supervisor is gone.
func watchSupervisor(conn net.Conn, log *slog.Logger, stop func()) {
	var b [64]byte
	for {
		_, err := conn.Read(b[:])
		if err == nil {
			continue // the supervisor sends nothing; ignore it if it ever does
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		log.Warn("the supervisor is gone; stopping", "err", err)
		stop()
		return
	}
}

// listenerFile returns a duplicate of ln's descriptor for workers. Unlike
// the *os.File of TCPListener.File, its Fd method leaves the socket
// non-blocking: O_NONBLOCK belongs to the socket that every worker shares,
// and os/exec calls Fd on each file it passes, so a blocking socket would
// leave the running workers' accept calls deaf to their own Close.
func listenerFile(ln net.Listener) (*os.File, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("a %T cannot be shared with workers", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if nfd, derr = syscall.Dup(int(fd)); derr == nil {
			syscall.CloseOnExec(nfd)
		}
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("dup", derr)
	}
	return os.NewFile(uintptr(nfd), "listener"), nil
}

// supervisorListener opens what the workers will serve: the socket systemd
// passed, or a new one on st's address. It returns a copy of its
// descriptor for the workers and its address.
func supervisorListener(st *pipeline.ServerSettings, log *slog.Logger) (*os.File, string, error) {
	ln, err := activatedListener()
	if err != nil {
		return nil, "", err
	}
	if ln != nil {
		log.Info("using the socket passed by systemd", "addr", ln.Addr().String())
	} else if ln, err = net.Listen("tcp", listenAddr(st)); err != nil {
		return nil, "", fmt.Errorf("cannot listen on %s: %s", listenAddr(st), describeNetError(err))
	}
	defer ln.Close()
	f, err := listenerFile(ln)
	if err != nil {
		return nil, "", err
	}
	return f, ln.Addr().String(), nil
}

// workerProcess is a running worker, as the supervisor sees it.
type workerProcess interface {
	Pid() int
	Signal(os.Signal) error
}

// workerExit is how a worker process ended.
type workerExit struct {
	code   int            // exit status; -1 when a signal killed it
	signal syscall.Signal // the signal that killed it, or 0
}

func (x workerExit) String() string {
	if x.signal != 0 {
		return "killed by signal " + x.signal.String()
	}
	return "exit status " + strconv.Itoa(x.code)
}

// failed reports whether x is a crash: a non-zero status or a signal.
func (x workerExit) failed() bool { return x.code != 0 || x.signal != 0 }

// workerEvent is what a worker process reports to the supervisor loop: a
// state message, or its end (always its last event).
type workerEvent struct {
	proc  workerProcess
	state string      // an sd_notify message, when exit is nil
	exit  *workerExit // the process ended
}

// spawnFunc starts worker index; the process reports its messages and
// then its end on events.
type spawnFunc func(index int, events chan<- workerEvent) (workerProcess, error)

// execSpawner starts workers by running the binary at path with args.
type execSpawner struct {
	path           string
	args           []string
	env            []string // the supervisor's environment
	ln             *os.File // the shared listening socket
	stdout, stderr io.Writer
}

// execWorker is a worker started by execSpawner.
type execWorker struct{ p *os.Process }

func (w *execWorker) Pid() int                 { return w.p.Pid }
func (w *execWorker) Signal(s os.Signal) error { return w.p.Signal(s) }

// spawn starts worker index with the listening socket and its end of a
// new socket pair; a goroutine relays the worker's messages to events
// until the worker closes its end, then waits for the process and sends
// its end.
func (e *execSpawner) spawn(index int, events chan<- workerEvent) (workerProcess, error) {
	// SOCK_SEQPACKET keeps each message whole; the pair is created and
	// marked close-on-exec under ForkLock so no other child inherits it.
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "worker"), os.NewFile(uintptr(fds[1]), "supervisor")
	defer theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(e.path, e.args...)
	cmd.Env = workerEnviron(e.env, index)
	cmd.ExtraFiles = []*os.File{e.ln, theirs} // fds 3 and 4
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, err
	}
	w := &execWorker{p: cmd.Process}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			events <- workerEvent{proc: w, state: string(buf[:n])}
		}
		conn.Close()
		cmd.Wait()
		x := workerExit{code: cmd.ProcessState.ExitCode()}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			x = workerExit{code: -1, signal: ws.Signal()}
		}
		events <- workerEvent{proc: w, exit: &x}
	}()
	return w, nil
}

// nextBackoff is the delay before restarting a worker that exited after
// up, when the delay before its previous restart was prev (0: none yet).
func nextBackoff(prev, up time.Duration) time.Duration {
	if prev == 0 || up >= restartBackoffReset {
		return restartBackoffMin
	}
	return min(prev*2, restartBackoffMax)
}

// workerSlot is one of the N places of workers.
type workerSlot struct {
	index         int
	proc          workerProcess // nil while none runs
	pid           int
	started       time.Time
	ready         bool // this process serves
	inReload      bool // it reported RELOADING and not yet its end
	reloadOnReady bool // a SIGHUP came while it was starting
	backoff       time.Duration
	timer         *time.Timer // a scheduled restart
}

// reloadRound is a reload of every worker asked for by a SIGHUP to the
// supervisor.
type reloadRound struct {
	pending  map[int]bool // workers whose reload has not ended
	failures []string
	timer    *time.Timer
}

// supervisor runs n workers; see the comment at the top of this file.
type supervisor struct {
	n       int
	log     *slog.Logger
	notify  *notifier
	status  string // the systemd status once every worker serves
	spawn   spawnFunc
	release func() // closes the supervisor's copy of the listening socket

	events   chan workerEvent
	restarts chan int
	slots    []*workerSlot
	serving  bool      // every worker served once: start-up is over
	stopSig  os.Signal // the stop signal forwarded; nil while running
	failed   bool      // the exit status is 1
	round    *reloadRound
}

// run starts the workers and supervises them until they all ended after
// a stop (SIGTERM or SIGINT on sigs, or ctx done) or a failure at
// start-up, and returns the exit status.
func (s *supervisor) run(ctx context.Context, sigs <-chan os.Signal) int {
	s.events = make(chan workerEvent, 16)
	s.restarts = make(chan int, s.n)
	s.slots = make([]*workerSlot, s.n)
	for i := range s.slots {
		s.slots[i] = &workerSlot{index: i}
	}
	for _, w := range s.slots {
		if err := s.start(w); err != nil {
			s.log.Error("cannot start a worker; stopping", "worker", w.index, "err", err)
			s.failed = true
			s.stop(syscall.SIGTERM, "a worker could not start")
			break
		}
	}
	ctxDone := ctx.Done()
	for s.stopSig == nil || s.running() > 0 {
		var reloadTimeout <-chan time.Time
		if s.round != nil {
			reloadTimeout = s.round.timer.C
		}
		select {
		case ev := <-s.events:
			s.handle(ev)
		case i := <-s.restarts:
			s.restart(s.slots[i])
		case sig := <-sigs:
			s.signal(sig)
		case <-ctxDone:
			ctxDone = nil
			if s.stopSig == nil {
				s.stop(syscall.SIGTERM, "context done")
			}
		case <-reloadTimeout:
			s.log.Warn("workers did not report the end of the reload in time", "workers", s.pendingList(), "waited", reloadWait.String())
			s.endRound()
		}
	}
	if s.release != nil {
		s.release()
	}
	if s.failed {
		s.log.Error("stopped", "workers", s.n)
		return exitError
	}
	s.log.Info("stopped", "workers", s.n)
	return exitOK
}

// running is the number of worker processes running.
func (s *supervisor) running() int {
	n := 0
	for _, w := range s.slots {
		if w.proc != nil {
			n++
		}
	}
	return n
}

// start starts a process in slot w.
func (s *supervisor) start(w *workerSlot) error {
	p, err := s.spawn(w.index, s.events)
	if err != nil {
		return err
	}
	w.proc, w.pid, w.started = p, p.Pid(), time.Now()
	w.ready, w.inReload = false, false
	s.log.Info("worker started", "worker", w.index, "pid", w.pid)
	return nil
}

// restart starts slot w again after its backoff, unless the supervisor
// stops or w already runs.
func (s *supervisor) restart(w *workerSlot) {
	w.timer = nil
	if s.stopSig != nil || w.proc != nil {
		return
	}
	if err := s.start(w); err != nil {
		w.backoff = nextBackoff(w.backoff, 0)
		s.log.Error("cannot restart a worker; trying again", "worker", w.index, "err", err, "restart_in", w.backoff.String())
		s.schedule(w)
	}
}

// schedule arranges for slot w to restart after its backoff.
func (s *supervisor) schedule(w *workerSlot) {
	i := w.index
	w.timer = time.AfterFunc(w.backoff, func() { s.restarts <- i })
}

// handle acts on one event of a worker process.
func (s *supervisor) handle(ev workerEvent) {
	var w *workerSlot
	for _, x := range s.slots {
		if x.proc != nil && x.proc == ev.proc {
			w = x
		}
	}
	if w == nil {
		return // a process no longer in a slot
	}
	if ev.exit != nil {
		s.exited(w, *ev.exit)
		return
	}
	st := parseState(ev.state)
	switch {
	case st["RELOADING"] == "1":
		w.inReload = true
	case st["READY"] == "1" && !w.ready:
		s.ready(w)
	case st["READY"] == "1" && w.inReload:
		w.inReload = false
		s.reloaded(w, st["STATUS"])
	}
}

// parseState splits an sd_notify message into its assignments.
func parseState(msg string) map[string]string {
	m := map[string]string{}
	for l := range strings.Lines(msg) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(l, "\n"), "="); ok {
			m[k] = v
		}
	}
	return m
}

// ready records that slot w's process serves.
func (s *supervisor) ready(w *workerSlot) {
	w.ready = true
	if w.reloadOnReady {
		// A SIGHUP came while it started: it may have read the files
		// before they changed.
		w.reloadOnReady = false
		s.sendTo(w, syscall.SIGHUP)
	}
	switch {
	case s.serving:
		s.log.Info("worker serves again", "worker", w.index, "pid", w.pid)
		if s.readyCount() == s.n {
			s.notify.Status(s.status)
		}
	case s.stopSig == nil && s.readyCount() == s.n:
		s.serving = true
		s.log.Info("all workers serve", "workers", s.n)
		s.notify.Ready(s.status)
	}
}

func (s *supervisor) readyCount() int {
	n := 0
	for _, w := range s.slots {
		if w.ready {
			n++
		}
	}
	return n
}

// exited handles the end of slot w's process.
func (s *supervisor) exited(w *workerSlot, x workerExit) {
	up := time.Since(w.started)
	wasReady := w.ready
	w.proc, w.ready, w.inReload, w.reloadOnReady = nil, false, false, false
	if s.round != nil && s.round.pending[w.index] {
		delete(s.round.pending, w.index)
		if len(s.round.pending) == 0 {
			s.endRound()
		}
	}
	attrs := []any{"worker", w.index, "pid", w.pid, "status", x.String(), "uptime", up.Round(time.Millisecond).String()}
	if s.stopSig != nil {
		// Ended by the forwarded signal before it could catch it.
		byStop := x.signal != 0 && x.signal == s.stopSig
		if x.failed() && !byStop {
			s.failed = true
			s.log.Warn("worker stopped with a failure", attrs...)
		} else {
			s.log.Info("worker stopped", attrs...)
		}
		return
	}
	if !s.serving && !wasReady {
		s.log.Error("worker failed before serving; stopping", attrs...)
		s.failed = true
		s.stop(syscall.SIGTERM, fmt.Sprintf("worker %d failed at start-up", w.index))
		return
	}
	w.backoff = nextBackoff(w.backoff, up)
	level := slog.LevelError
	if !x.failed() {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "worker exited unexpectedly; restarting it",
		append(attrs, "restart_in", w.backoff.String())...)
	if s.serving {
		s.notify.Status(fmt.Sprintf("%s; worker %d exited (%s), restarting", s.status, w.index, x))
	}
	s.schedule(w)
}

// signal acts on a signal to the supervisor.
func (s *supervisor) signal(sig os.Signal) {
	switch {
	case sig == syscall.SIGHUP && s.stopSig == nil:
		s.reloadAll()
	case sig == syscall.SIGHUP:
		// stopping: nothing to reload
	case s.stopSig == nil:
		s.stop(sig, sig.String())
	default:
		s.log.Warn("second signal; forwarded: the workers close every connection now", "signal", sig.String())
		s.forward(sig)
	}
}

// stop forwards sig to every worker, restarts nothing any more and
// closes the supervisor's copy of the listening socket.
func (s *supervisor) stop(sig os.Signal, why string) {
	s.stopSig = sig
	s.notify.Stopping("stopping (" + why + ")")
	for _, w := range s.slots {
		if w.timer != nil {
			w.timer.Stop()
			w.timer = nil
		}
	}
	if s.round != nil {
		s.round.timer.Stop()
		s.round = nil
	}
	if s.release != nil {
		s.release()
		s.release = nil
	}
	s.log.Info("stopping the workers", "reason", why, "signal", sig.String(), "running", s.running())
	s.forward(sig)
}

// forward sends sig to every running worker.
func (s *supervisor) forward(sig os.Signal) {
	for _, w := range s.slots {
		s.sendTo(w, sig)
	}
}

func (s *supervisor) sendTo(w *workerSlot, sig os.Signal) {
	if w.proc == nil {
		return
	}
	if err := w.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.log.Warn("cannot signal a worker", "worker", w.index, "pid", w.pid, "signal", sig.String(), "err", err)
	}
}

// reloadAll forwards SIGHUP to every serving worker; one still starting
// gets it once it serves. Once start-up is over, systemd is told
// RELOADING=1 now and READY=1 when every serving worker reported the end
// of its reload (or left, or reloadWait passed).
func (s *supervisor) reloadAll() {
	if s.serving && s.round == nil {
		s.notify.Reloading()
		s.round = &reloadRound{pending: map[int]bool{}, timer: time.NewTimer(reloadWait)}
	}
	n := 0
	for _, w := range s.slots {
		switch {
		case w.proc == nil:
		case w.ready:
			s.sendTo(w, syscall.SIGHUP)
			n++
			if s.round != nil {
				s.round.pending[w.index] = true
			}
		default:
			w.reloadOnReady = true
		}
	}
	s.log.Info("reloading the workers", "workers", n)
	if s.round != nil && len(s.round.pending) == 0 {
		s.endRound()
	}
}

// reloaded records the end of slot w's reload, status being the STATUS
// it reported.
func (s *supervisor) reloaded(w *workerSlot, status string) {
	if s.round == nil || !s.round.pending[w.index] {
		return // a reload of its own (--watch, a SIGHUP sent to it)
	}
	delete(s.round.pending, w.index)
	if why, ok := strings.CutPrefix(status, reloadFailedStatus); ok {
		s.round.failures = append(s.round.failures, fmt.Sprintf("worker %d: %s", w.index, why))
	}
	if len(s.round.pending) == 0 {
		s.endRound()
	}
}

// endRound tells systemd the reload is over.
func (s *supervisor) endRound() {
	r := s.round
	s.round = nil
	r.timer.Stop()
	if len(r.failures) > 0 {
		s.log.Warn("reload failed in some workers; they serve their previous configuration",
			"failed", len(r.failures), "workers", s.n)
		s.notify.ReloadFailed(r.failures[0])
		return
	}
	s.log.Info("workers reloaded", "workers", s.n)
	s.notify.Ready(s.status)
}

// pendingList is the indexes of the workers whose reload has not ended.
func (s *supervisor) pendingList() string {
	var ids []string
	if s.round != nil {
		for i := range s.n {
			if s.round.pending[i] {
				ids = append(ids, strconv.Itoa(i))
			}
		}
	}
	return strings.Join(ids, ",")
}

// supervise serves with st.Workers worker processes (see the top of this
// file) until SIGTERM, SIGINT or ctx ends, and returns the exit status.
// sigs is the daemon's subscription to SIGHUP, SIGTERM and SIGINT.
func supervise(ctx context.Context, src *source, st *pipeline.ServerSettings, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	log := src.logger
	ln, addr, err := supervisorListener(st, log)
	if err != nil {
		fmt.Fprintf(stderr, "vietstack-api: %v\n", err)
		return exitError
	}
	defer ln.Close()
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "vietstack-api: cannot start workers: %v\n", err)
		return exitError
	}
	sp := &execSpawner{path: exe, args: src.opts.args, env: os.Environ(), ln: ln, stdout: stdout, stderr: stderr}
	s := &supervisor{
		n:       st.Workers,
		log:     log,
		notify:  newNotifier(log),
		status:  fmt.Sprintf("serving %s on %s from %s with %d workers", src.opts.name, addr, src.display(), st.Workers),
		spawn:   sp.spawn,
		release: func() { ln.Close() },
	}
	log.Info("starting workers", "workers", st.Workers, "app", src.opts.name, "config", src.display(), "addr", addr)
	return s.run(ctx, sigs)
}
