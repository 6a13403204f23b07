package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vietstack/vietstack-api/apps/healthcheck"
	"github.com/vietstack/vietstack-api/pipeline"
)

const (
	// reloadGrace is how long a retired generation stays open after a
	// reload so that requests it is still serving can finish.
	reloadGrace = 60 * time.Second
	// reloadSettle debounces SIGHUP: a reload starts once no other SIGHUP
	// came for this long (an editor saving twice, a burst from a script),
	// but never later than reloadMaxDelay after the first one.
	reloadSettle   = 100 * time.Millisecond
	reloadMaxDelay = time.Second
)

// daemon is a serving vietstack-api: the source it loads, the switch that
// serves the current generation and the settings it listens with.
type daemon struct {
	src      *source
	log      *slog.Logger
	sw       *pipeline.Switch
	settings *pipeline.ServerSettings // guarded by mu
	drain    *healthcheck.Drain       // set when the daemon starts to stop
	level    *slog.LevelVar           // the log level, set from settings
	metrics  *daemonMetrics
	notify   *notifier      // systemd's NOTIFY_SOCKET (no-op without)
	watch    *watcher       // --watch, or nil
	addr     string         // the address served, for status lines
	ln       *limitListener // the listener served, closed early by refuse_during_delay; nil in tests
	mu       sync.Mutex     // serialises reloads; guards settings
}

// newDaemon returns the daemon serving gen with the settings st, its
// metrics registered in proc's registry (counting ln's connections when ln
// is not nil), its log level set from st. It does not listen.
func newDaemon(src *source, gen *pipeline.Generation, st *pipeline.ServerSettings, proc *process, ln *limitListener) *daemon {
	d := &daemon{src: src, log: src.logger, sw: pipeline.NewSwitch(gen), settings: st, drain: proc.drain,
		level: proc.level, metrics: newDaemonMetrics(proc.metrics, ln), ln: ln}
	d.applyLogLevel(st)
	return d
}

// listenAddr is host:port of st.
func listenAddr(st *pipeline.ServerSettings) string {
	return net.JoinHostPort(st.Host, strconv.Itoa(st.Port))
}

// closeWhenDraining returns h with one addition: once drain is set (the
// daemon starts to stop), every response carries "Connection: close", so
// that net/http closes each keep-alive connection cleanly right after a
// response, instead of Shutdown closing it later while idle, at the moment
// a balancer may be writing the next request on it (which, for a POST, it
// must not resend). Idle connections are left open until Shutdown; the
// cost is one atomic load per request.
func closeWhenDraining(h http.Handler, drain *healthcheck.Drain) http.Handler {
	if drain == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if drain.IsSet() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// newHTTPServer returns the server for h with the limits of st. With
// track, it marks on each connection from a limitListener whether a
// request is in progress (limitListener.Active counts them).
func newHTTPServer(h http.Handler, st *pipeline.ServerSettings, log *slog.Logger, track bool) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: st.ReadHeaderTimeout,
		ReadTimeout:       st.ReadTimeout,
		WriteTimeout:      st.WriteTimeout,
		IdleTimeout:       st.IdleTimeout,
		MaxHeaderBytes:    st.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// "OPTIONS *" goes to the pipeline (a urlmap answers 404, as
		// Paste's does) instead of net/http's built-in 200.
		DisableGeneralOptionsHandler: true,
	}
	if track {
		srv.ConnState = setActive
	}
	return srv
}

// inFlight returns the number of connections with a request in progress
// (0 without a tracked listener, in tests).
func (d *daemon) inFlight() int64 {
	if d.ln == nil {
		return 0
	}
	return d.ln.Active()
}

// serve builds the pipeline, listens and serves until SIGTERM, SIGINT or
// ctx ends; SIGHUP reloads. With more than one worker it supervises worker
// processes instead, and in a worker it serves the socket its supervisor
// passed and reports to it (workers.go).
func serve(ctx context.Context, src *source, proc *process, stdout, stderr io.Writer) int {
	log := src.logger
	// Signals are subscribed first, so that none sent while the pipeline
	// builds is lost or, for SIGHUP, kills the process: they are acted on
	// once the daemon serves.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	gen, appWarn, errs := src.buildApp(ctx)
	st, srvWarn, serr := src.serverSettings()
	// A worker's supervisor has logged the warnings of the same files.
	warnLevel := slog.LevelWarn
	if src.opts.worker {
		warnLevel = slog.LevelDebug
	}
	for _, w := range dedupeWarnings(appWarn, srvWarn) {
		log.Log(ctx, warnLevel, "configuration warning", "warning", problemText(w))
	}
	if problems := dedupe(append(errs, serr...)); len(problems) > 0 {
		if gen != nil {
			gen.Close()
		}
		printProblems(stderr, problems)
		fmt.Fprintf(stderr, "vietstack-api: not serving: %s in %s\n", plural(len(problems), "problem"), src.display())
		return exitError
	}
	if st.Workers > 1 && !src.opts.worker {
		// The supervisor built the pipeline only to check it, once.
		if err := gen.Close(); err != nil {
			log.Warn("closing the checked pipeline", "err", err)
		}
		return supervise(ctx, src, st, sigs, stdout, stderr)
	}

	ln, err := openListener(src, st)
	if err != nil {
		gen.Close()
		fmt.Fprintf(stderr, "vietstack-api: %v\n", err)
		return exitError
	}
	maxConns := st.MaxConnections
	if maxConns == 0 {
		maxConns = defaultMaxConnections()
	}
	lln := newLimitListener(ln, maxConns)
	d := newDaemon(src, gen, st, proc, lln)
	defer func() { d.sw.Current().Close() }()
	d.notify = newNotifier(log)
	if src.opts.worker {
		conn, err := supervisorConn(src.opts.statusFD)
		if err != nil {
			lln.Close()
			fmt.Fprintf(stderr, "vietstack-api: %v\n", err)
			return exitError
		}
		defer conn.Close()
		d.notify = workerNotifier(log, conn)
		go watchSupervisor(conn, log, func() {
			select {
			case sigs <- syscall.SIGTERM:
			default: // a stop is already pending
			}
		})
	}
	srv := newHTTPServer(closeWhenDraining(d.sw, d.drain), st, log, true)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lln) }()
	d.addr = ln.Addr().String()
	log.Info("serving", "app", src.opts.name, "config", src.display(), "addr", d.addr,
		"url", "http://"+d.addr+"/", "max_connections", maxConns, "pid", os.Getpid())
	d.notify.Ready(d.servingStatus())

	// One goroutine runs reloads, one at a time, each after the burst of
	// SIGHUPs that asked for it has settled.
	reloadCtx, stopReloads := context.WithCancel(ctx)
	reloads := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-reloadCtx.Done():
				return
			case <-reloads:
				if !settle(reloadCtx, reloads) {
					return
				}
				d.reload(reloadCtx)
			}
		}
	})
	defer func() { stopReloads(); wg.Wait() }()

	// --watch asks for the same reload as SIGHUP when a loaded file changes.
	if src.opts.watch {
		w, err := newWatcher(log, func() {
			select {
			case reloads <- struct{}{}:
			default: // a reload is already pending
			}
		})
		if err != nil {
			log.Error("cannot watch the configuration files; SIGHUP still reloads", "err", err)
		} else {
			d.watch = w
			watchLoaded(w, log, gen.Graph.Files, src.opts.configDirs)
			wg.Go(func() { w.Run(reloadCtx) })
			defer w.Close() // before stopReloads and wg.Wait: Run returns
		}
	}

	for {
		select {
		case err := <-serveErr:
			log.Error("server stopped", "err", err)
			return exitError
		case <-ctx.Done():
			return d.shutdown(srv, serveErr, sigs, "context done")
		case s := <-sigs:
			if s == syscall.SIGHUP {
				select {
				case reloads <- struct{}{}:
				default: // a reload is already pending
				}
				continue
			}
			return d.shutdown(srv, serveErr, sigs, s.String())
		}
	}
}

// settle waits until no request arrived on reloads for reloadSettle, or
// reloadMaxDelay passed; it reports false when ctx ended first.
func settle(ctx context.Context, reloads <-chan struct{}) bool {
	quiet := time.NewTimer(reloadSettle)
	defer quiet.Stop()
	limit := time.NewTimer(reloadMaxDelay)
	defer limit.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-reloads:
			quiet.Reset(reloadSettle)
		case <-quiet.C:
			return true
		case <-limit.C:
			return true
		}
	}
}

// shutdown stops the server gracefully. Every healthcheck reports 503 from
// now on, and every response closes its connection after it (see
// closeWhenDraining); with --shutdown-delay the daemon first keeps serving
// for that long so load balancers notice, accepting new connections unless
// refuse_during_delay closed the listener at the start of the delay. Then
// it stops accepting, closes idle connections and lets in-flight requests
// complete within the shutdown timeout; past it, or on a second signal, it
// closes every connection.
func (d *daemon) shutdown(srv *http.Server, serveErr <-chan error, sigs <-chan os.Signal, why string) int {
	d.notify.Stopping("stopping (" + why + ")")
	if d.drain != nil {
		d.drain.Set()
	}
	d.mu.Lock()
	delay, grace, refuse := d.settings.ShutdownDelay, d.settings.ShutdownTimeout, d.settings.RefuseDuringDelay
	d.mu.Unlock()
	// Closing the listener ends srv.Serve with an accept error while the
	// connections it accepted are still served; that error, and Shutdown's
	// second close (a no-op, see limitListener.Close), are expected.
	refused := refuse && delay > 0 && d.ln != nil
	if refused {
		if err := d.ln.Close(); err != nil {
			d.log.Warn("closing the listener at the start of the delay", "err", err)
		}
	}
	if delay > 0 {
		d.log.Info("draining: healthchecks answer 503, still serving", "reason", why, "delay", delay.String(),
			"refusing_new_connections", refused)
		t := time.NewTimer(delay)
	wait:
		for {
			select {
			case <-t.C:
				break wait
			case s := <-sigs:
				if s != syscall.SIGHUP {
					d.log.Warn("second signal; ending the drain now", "signal", s.String())
					t.Stop()
					break wait
				}
			}
		}
	}
	d.log.Info("shutting down", "reason", why, "grace", grace.String(), "in_flight", d.inFlight())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				d.log.Warn("grace period over; closing the remaining connections", "grace", grace.String(),
					"requests_cut", d.inFlight())
				srv.Close()
			}
			if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) &&
				!(refused && errors.Is(err, net.ErrClosed)) {
				d.log.Error("server error", "err", err)
			}
			d.log.Info("stopped")
			return exitOK
		case s := <-sigs:
			if s == syscall.SIGHUP {
				continue
			}
			d.log.Warn("second signal; closing every connection now", "signal", s.String(),
				"requests_cut", d.inFlight())
			srv.Close()
		}
	}
}

// reload rebuilds the pipeline from the configuration files and swaps it
// in. On any problem it logs every one and keeps serving the current
// generation. A changed [server:main] is reported but needs a restart.
func (d *daemon) reload(ctx context.Context) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	d.notify.Reloading()
	d.log.Info("reloading", "config", d.src.display())
	gen, appWarn, errs := d.src.buildApp(ctx)
	st, srvWarn, serr := d.src.serverSettings()
	for _, w := range dedupeWarnings(appWarn, srvWarn) {
		d.log.Warn("configuration warning", "warning", problemText(w))
	}
	if problems := dedupe(append(errs, serr...)); len(problems) > 0 {
		if gen != nil {
			gen.Close()
		}
		for _, p := range problems {
			d.log.Error("configuration problem", "problem", problemText(p))
		}
		d.log.Error("reload failed; still serving the previous configuration",
			"config", d.src.display(), "problems", len(problems))
		d.notify.ReloadFailed(fmt.Sprintf("%s in %s, the first: %s", plural(len(problems), "problem"), d.src.display(), problemText(problems[0])))
		d.metrics.reloaded(false)
		return false
	}
	if !sameSettings(st, d.settings) {
		d.log.Warn("the server settings changed and need a restart of vietstack-api to apply",
			"serving", listenAddr(d.settings), "configured", listenAddr(st))
	}
	d.applyLogLevel(st)
	// What a reload can apply: the log level and the shutdown settings.
	d.settings.LogLevel = st.LogLevel
	d.settings.ShutdownDelay = st.ShutdownDelay
	d.settings.RefuseDuringDelay = st.RefuseDuringDelay
	d.settings.ShutdownTimeout = st.ShutdownTimeout
	d.metrics.reloaded(true)
	d.sw.Swap(gen, reloadGrace)
	if d.watch != nil {
		watchLoaded(d.watch, d.log, gen.Graph.Files, d.src.opts.configDirs)
	}
	d.log.Info("reloaded", "app", d.src.opts.name, "config", d.src.display(),
		"duration", time.Since(start).Round(time.Microsecond).String())
	d.notify.Ready(d.servingStatus())
	return true
}

// applyLogLevel sets the log level to st's (which the serverSettings
// of the source filled from log_level or --log-level).
func (d *daemon) applyLogLevel(st *pipeline.ServerSettings) {
	lv, err := pipeline.ParseLogLevel(st.LogLevel)
	if err != nil || lv == d.level.Level() {
		return
	}
	old := d.level.Level()
	d.level.Set(lv)
	d.log.Log(context.Background(), max(lv, old), "log level changed", "from", old.String(), "to", lv.String())
}

// openListener returns the socket to serve: a worker's inherited one,
// systemd's (LISTEN_FDS; [server:main]'s address is then not bound) or a
// new one on st's address.
func openListener(src *source, st *pipeline.ServerSettings) (net.Listener, error) {
	if src.opts.worker {
		return inheritedListener(src.opts.listenFD)
	}
	ln, err := activatedListener()
	if err != nil {
		return nil, err
	}
	if ln != nil {
		src.logger.Info("using the socket passed by systemd", "addr", ln.Addr().String())
		return ln, nil
	}
	if ln, err = net.Listen("tcp", listenAddr(st)); err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %s", listenAddr(st), describeNetError(err))
	}
	return ln, nil
}

// describeNetError reduces a listen error to its cause ("address already in
// use", "permission denied", "no such host").
func describeNetError(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot resolve host " + strconv.Quote(dnsErr.Name) + ": " + dnsErr.Err
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// servingStatus is the systemd status line of a serving daemon.
func (d *daemon) servingStatus() string {
	return "serving " + d.src.opts.name + " on " + d.addr + " from " + d.src.display()
}
