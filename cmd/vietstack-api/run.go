package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/vietstack/vietstack-api/apps"
	"github.com/vietstack/vietstack-api/apps/healthcheck"
	"github.com/vietstack/vietstack-api/filters"
	"github.com/vietstack/vietstack-api/filters/metrics"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // configuration or runtime error
	exitUsage = 2 // bad command line
)

// run is the whole program: it parses args, does what they ask and returns
// the exit status. It writes results to stdout and messages and logs to
// stderr, and never panics on bad input. When serving, it stops on SIGTERM,
// SIGINT or when ctx is cancelled. With more than one worker it supervises
// worker processes, and in a worker (VIETSTACK_API_WORKER set) it serves
// the socket its supervisor passed: see workers.go.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "vietstack-api: %v\nRun 'vietstack-api --help' for usage.\n", err)
		return exitUsage
	}
	switch {
	case o.help:
		io.WriteString(stdout, usage())
		return exitOK
	case o.version:
		fmt.Fprintf(stdout, "vietstack-api %s\n", versionString())
		return exitOK
	}
	// A worker started by a supervisor (workers.go) is told so by its
	// environment, which it then clears for anything it starts.
	if err := workerFromEnv(o, os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "vietstack-api: %v\n", err)
		return exitError
	}
	if o.worker {
		unsetWorkerEnv()
	}
	proc := &process{drain: &healthcheck.Drain{}, metrics: metrics.NewRegistry(), level: new(slog.LevelVar)}
	proc.level.Set(o.logLevel)
	reg := newRegistryWith(proc.metrics, apps.WithDrain(proc.drain))
	if o.listFactories {
		if err := listFactories(stdout, reg); err != nil {
			fmt.Fprintf(stderr, "vietstack-api: %v\n", err)
			return exitError
		}
		return exitOK
	}
	logger := newLogger(stderr, o, proc.level)
	if o.worker {
		logger = logger.With("worker", o.workerIndex)
	}
	src := newSource(o, reg, logger)
	if _, err := src.read(); err != nil {
		fmt.Fprintf(stderr, "vietstack-api: %v\n", err)
		return exitError
	}
	switch {
	case o.dumpGraph:
		return dumpGraph(src, stdout, stderr)
	case o.graph != "":
		return drawGraph(src, stdout, stderr)
	case o.check:
		return check(ctx, src, stdout, stderr)
	}
	tuneGC(os.Getenv)
	return serve(ctx, src, proc, stdout, stderr)
}

// serveGCPercent is the garbage collector's target when serving: the heap
// may grow to three times the live heap between collections instead of
// two. Per request the daemon allocates little that lives, so this halves
// the collections; measured with make bench-e2e (nova-like, 50
// connections) it cut the extra CPU per request over a bare net/http
// server from +9..+11 µs to +5..+6.5 µs, for RSS 22.5 MiB instead of 18.7
// (GOGC=400: +0.1..+3.6 µs but 30 MiB, over the 25 MiB budget).
const serveGCPercent = 200

// tuneGC sets the collector's target to serveGCPercent unless the
// operator chose one with the GOGC environment variable; GOMEMLIMIT, when
// set, still bounds the heap as the runtime documents.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(serveGCPercent)
}

// process is what the serving daemon shares with the factories it builds
// and keeps across reloads.
type process struct {
	drain   *healthcheck.Drain // set when the daemon starts to stop
	metrics *metrics.Registry  // served by every metrics_app
	level   *slog.LevelVar     // the log level, reloadable
}

// newRegistry returns the registry of every factory vietstack-api has.
func newRegistry(opts ...apps.Option) *pipeline.Registry {
	return newRegistryWith(metrics.NewRegistry(), opts...)
}

// newRegistryWith is newRegistry with the metrics registry the metrics
// filter and app use.
func newRegistryWith(m *metrics.Registry, opts ...apps.Option) *pipeline.Registry {
	reg := pipeline.NewRegistry()
	apps.Register(reg, opts...)
	filters.RegisterWith(reg, m)
	return reg
}

// newLogger returns the logger writing to w in --log-format at level.
func newLogger(w io.Writer, o *options, level slog.Leveler) *slog.Logger {
	ho := &slog.HandlerOptions{Level: level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// plural formats n and noun, adding an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printProblems writes each problem on its own line.
func printProblems(w io.Writer, errs []error) {
	for _, e := range errs {
		fmt.Fprintln(w, problemText(e))
	}
}

func printWarnings(w io.Writer, ws []*paste.Warning) {
	for _, x := range ws {
		fmt.Fprintf(w, "warning: %s\n", problemText(x))
	}
}

// problemText is the text of a problem with its file shown relative to the
// working directory when it lies below it, as the operator typed it, and
// the built-in configuration as "(built-in)/api-paste.ini".
func problemText(err error) string {
	pe, ok := err.(*paste.Error)
	if !ok || pe.File == "" {
		return err.Error()
	}
	cp := *pe
	cp.File = displayPath(pe.File)
	return cp.Error()
}

// displayPath shortens an absolute path below the working directory to a
// relative one.
func displayPath(file string) string {
	if file == embeddedPath {
		return embeddedPath[1:]
	}
	if !filepath.IsAbs(file) {
		return file
	}
	wd, err := os.Getwd()
	if err != nil {
		return file
	}
	rel, err := filepath.Rel(wd, file)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return file
	}
	return rel
}

// dumpGraph prints the graph of --name (--dump-kind) as JSON without
// building any factory.
func dumpGraph(src *source, stdout, stderr io.Writer) int {
	g, errs := src.loadGraph(src.opts.name, src.opts.dumpKind)
	if errs != nil {
		printProblems(stderr, errs)
		return exitError
	}
	printWarnings(stderr, g.Warnings)
	if err := g.WriteJSON(stdout); err != nil {
		fmt.Fprintf(stderr, "vietstack-api: writing the graph: %v\n", err)
		return exitError
	}
	return exitOK
}

// drawGraph prints the --name application as Graphviz DOT without
// building any factory.
func drawGraph(src *source, stdout, stderr io.Writer) int {
	g, errs := src.loadGraph(src.opts.name, paste.KindApp)
	if errs != nil {
		printProblems(stderr, errs)
		return exitError
	}
	printWarnings(stderr, g.Warnings)
	if err := pipeline.WriteDOT(stdout, g, src.reg); err != nil {
		fmt.Fprintf(stderr, "vietstack-api: writing the graph: %v\n", err)
		return exitError
	}
	return exitOK
}

// check loads and builds the application and the server section, prints
// every problem to stderr and a summary of what would be served to stdout.
func check(ctx context.Context, src *source, stdout, stderr io.Writer) int {
	var problems []error
	gen, appWarn, errs := src.buildApp(ctx)
	problems = append(problems, errs...)
	var graph *paste.Graph
	if gen != nil {
		graph = gen.Graph
		if err := gen.Close(); err != nil {
			problems = append(problems, paste.Flatten(err)...)
		}
	}
	st, srvWarn, errs := src.serverSettings()
	problems = dedupe(append(problems, errs...))
	printWarnings(stderr, dedupeWarnings(appWarn, srvWarn))
	if len(problems) > 0 {
		printProblems(stderr, problems)
		fmt.Fprintf(stderr, "%s: %s\n", src.display(), plural(len(problems), "problem"))
		return exitError
	}
	fmt.Fprintf(stdout, "%s: OK: serves %s on %s\n", src.display(), src.opts.name, listenAddr(st))
	if graph != nil {
		describe(stdout, graph.Root, src.opts.name, "  ")
	}
	return exitOK
}

// describe writes the effective pipeline of n, one line per application,
// with urlmap routes indented below their map:
//
//	main = urlmap
//	  /v1 = request_id passthrough hello
func describe(w io.Writer, n *paste.Node, label, indent string) {
	var chain []string
	for n != nil && n.Type == paste.TypeFilter {
		chain = append(chain, nodeName(n))
		n = n.App
	}
	if n == nil {
		fmt.Fprintf(w, "%s%s = %s\n", indent, label, strings.Join(chain, " "))
		return
	}
	switch n.Type {
	case paste.TypeURLMap:
		chain = append(chain, "urlmap")
	case paste.TypeComposite:
		chain = append(chain, "composite:"+nodeName(n))
	default:
		chain = append(chain, nodeName(n))
	}
	fmt.Fprintf(w, "%s%s = %s\n", indent, label, strings.Join(chain, " "))
	if n.Type == paste.TypeURLMap {
		for _, r := range n.Routes {
			describe(w, r.Node, r.Key, indent+"  ")
		}
		if n.NotFound != nil {
			describe(w, n.NotFound, "not_found_app", indent+"  ")
		}
	}
}

// nodeName is the name of the section a node was referenced by.
func nodeName(n *paste.Node) string {
	s := n.Section
	if len(n.Path) > 0 {
		s = n.Path[len(n.Path)-1]
	}
	if _, name, ok := strings.Cut(s, ":"); ok {
		return name
	}
	if s == "" {
		return n.Factory
	}
	return s
}
