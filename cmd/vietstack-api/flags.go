package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// options are the parsed command line.
type options struct {
	configFile string   // "" means the built-in api-paste.ini
	overlays   []string // --config-file after the first: applied over it, in order
	configDirs []string // --config-dir: every DIR/*.ini applied after the overlays
	watch      bool     // --watch: reload when a loaded file changes
	name       string
	bindHost   string
	bindPort   int
	hostSet    bool
	portSet    bool
	globals    map[string]string

	check         bool
	dumpGraph     bool
	dumpKind      paste.Kind
	listFactories bool
	graph         string // "" or "dot"
	version       bool
	help          bool

	shutdownDelay    time.Duration
	shutdownDelaySet bool
	workers          int      // --workers, 0 when not given
	worker           bool     // this process is a worker started by a supervisor (workers.go)
	workerIndex      int      // the worker's index, 0..N-1
	listenFD         int      // a worker's listening socket
	statusFD         int      // a worker's socket to its supervisor
	args             []string // the command line, which workers are started with

	logLevel    slog.Level
	logLevelSet bool // --log-level given: it wins over log_level
	logFormat   string
}

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

const usageHeader = `Usage: vietstack-api [flags]

vietstack-api loads an OpenStack-style api-paste.ini (the Python Paste Deploy
format), composes the application and filters it names into one HTTP handler
and serves it. SIGHUP reloads the file (a broken file keeps the running
pipeline); SIGTERM or SIGINT stops after in-flight requests complete.

Flags:
`

const usageFooter = `
Exit status: 0 on success, 1 on a configuration or runtime error, 2 on a
command-line error.
`

// newFlagSet defines the flags on a fresh FlagSet bound to o.
func newFlagSet(o *options) (*pflag.FlagSet, *flagVars) {
	fs := pflag.NewFlagSet("vietstack-api", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	v := &flagVars{}
	fs.StringArrayVar(&v.configFiles, "config-file", nil, "load the api-paste.ini at `PATH` (default: the copy of the root api-paste.ini built into the binary); repeated, each later file is applied over the ones before (overlays: later sections and keys win)")
	fs.StringArrayVar(&o.configDirs, "config-dir", nil, "apply every `DIR`/*.ini over the --config-file files, in lexical order, later files winning (repeatable)")
	fs.StringVar(&o.name, "name", "main", "serve the application section `NAME`: [app:NAME], [pipeline:NAME], [composite:NAME] or [filter-app:NAME]")
	fs.StringVar(&o.bindHost, "bind-host", "", "listen on `HOST` instead of the host of [server:main] (127.0.0.1 when the file has no [server:main])")
	fs.IntVar(&o.bindPort, "bind-port", 0, "listen on `PORT` instead of the port of [server:main] (8080 when the file has none; 0 picks a free port)")
	fs.DurationVar(&o.shutdownDelay, "shutdown-delay", 0, "on SIGTERM or SIGINT, first keep serving for `DURATION` while every healthcheck answers 503, so load balancers stop sending traffic (0: stop at once)")
	fs.IntVar(&o.workers, "workers", 0, "serve with `N` worker processes sharing the listening socket, each building its own pipeline, with its own max_connections and metrics; this process supervises them: it forwards SIGHUP, SIGTERM and SIGINT to every worker and restarts a crashed one after a backoff (default: workers of [server:main], else 1)")
	fs.StringArrayVar(&v.globals, "global", nil, "add `KEY=VALUE` to the global conf every section sees, as Paste's global_conf (repeatable)")
	switchVar(fs, &o.check, "check", "", "load and build the application and [server:main], print every problem, exit 0 (none) or 1; serves nothing")
	switchVar(fs, &o.dumpGraph, "dump-graph", "", "print the composed graph as JSON without building any factory, then exit (1 on a load error)")
	fs.StringVar(&v.dumpKind, "dump-kind", "app", "the `KIND` of section --dump-graph loads: app (the --name application) or server ([server:NAME])")
	fs.StringVar(&o.graph, "graph", "", "print the composed --name application as a picture in `FORMAT` dot (Graphviz) without building any factory, then exit")
	switchVar(fs, &o.listFactories, "list-factories", "", "list every factory with its kind, aliases, description and options, then exit")
	switchVar(fs, &o.watch, "watch", "", "reload, as on SIGHUP, when a loaded file changes or a --config-dir gains or loses an .ini file")
	fs.StringVar(&v.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error (default: log_level of [server:main], else info; the file's is applied again on reload)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `FORMAT`: text or json (log lines go to standard error)")
	switchVar(fs, &o.version, "version", "", "print the version and exit")
	switchVar(fs, &o.help, "help", "h", "print this help and exit")
	return fs, v
}

// switchValue is a boolean flag that is set by its name alone (--check).
// Unlike pflag's own bool it does not advertise "[=true|false]" in --help;
// --check=false still works.
type switchValue struct{ p *bool }

func (s switchValue) String() string {
	if s.p != nil && *s.p {
		return "true"
	}
	return "false"
}

func (s switchValue) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false, not %q", v)
	}
	*s.p = b
	return nil
}

func (s switchValue) Type() string { return "bool" }

func switchVar(fs *pflag.FlagSet, p *bool, name, short, usage string) {
	f := fs.VarPF(switchValue{p}, name, short, usage)
	f.NoOptDefVal = "true"
}

// flagVars hold the raw text of flags that parseArgs validates.
type flagVars struct {
	configFiles []string
	globals     []string
	dumpKind    string
	logLevel    string
}

// usage returns the --help text.
func usage() string {
	fs, _ := newFlagSet(&options{})
	return usageHeader + fs.FlagUsagesWrapped(100) + usageFooter
}

// parseArgs parses and validates the command line. A bad command line is a
// *usageError.
func parseArgs(args []string) (*options, error) {
	o := &options{args: slices.Clone(args)}
	fs, v := newFlagSet(o)
	err := fs.Parse(args)
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	if o.help {
		return o, nil
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (the configuration file is given with --config-file)", fs.Arg(0))
	}
	o.hostSet = fs.Changed("bind-host")
	o.portSet = fs.Changed("bind-port")
	if o.portSet && (o.bindPort < 0 || o.bindPort > 65535) {
		return nil, usagef("--bind-port %d: must be between 0 and 65535", o.bindPort)
	}
	o.shutdownDelaySet = fs.Changed("shutdown-delay")
	if o.shutdownDelay < 0 {
		return nil, usagef("--shutdown-delay %v: must not be negative", o.shutdownDelay)
	}
	if fs.Changed("workers") && (o.workers < 1 || o.workers > pipeline.MaxWorkers) {
		return nil, usagef("--workers %d: must be between 1 and %d", o.workers, pipeline.MaxWorkers)
	}
	for i, f := range v.configFiles {
		if f == "" {
			return nil, usagef("--config-file: empty path")
		}
		if i == 0 {
			o.configFile = f
		} else {
			o.overlays = append(o.overlays, f)
		}
	}
	for _, d := range o.configDirs {
		if d == "" {
			return nil, usagef("--config-dir: empty path")
		}
	}
	if o.name == "" {
		return nil, usagef("--name: empty name")
	}
	if len(v.globals) > 0 {
		o.globals = make(map[string]string, len(v.globals))
	}
	for _, kv := range v.globals {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("--global %q: want KEY=VALUE", kv)
		}
		o.globals[strings.TrimSpace(k)] = val
	}
	switch v.dumpKind {
	case "app":
		o.dumpKind = paste.KindApp
	case "server":
		o.dumpKind = paste.KindServer
	default:
		return nil, usagef("--dump-kind %q: want app or server", v.dumpKind)
	}
	if fs.Changed("dump-kind") && !o.dumpGraph {
		return nil, usagef("--dump-kind only applies to --dump-graph")
	}
	o.logLevelSet = fs.Changed("log-level")
	if o.logLevel, err = pipeline.ParseLogLevel(v.logLevel); err != nil {
		return nil, usagef("--log-level %v", err)
	}
	switch o.logFormat {
	case "text", "json":
	default:
		return nil, usagef("--log-format %q: want text or json", o.logFormat)
	}
	if fs.Changed("graph") && o.graph != "dot" {
		return nil, usagef("--graph %q: want dot", o.graph)
	}
	var modes []string
	for _, m := range []struct {
		on   bool
		name string
	}{{o.check, "--check"}, {o.dumpGraph, "--dump-graph"}, {o.graph != "", "--graph"}, {o.listFactories, "--list-factories"}, {o.version, "--version"}} {
		if m.on {
			modes = append(modes, m.name)
		}
	}
	if len(modes) > 1 {
		return nil, usagef("%s cannot be combined", strings.Join(modes, " and "))
	}
	return o, nil
}

// isUsageError reports whether err is a command-line error.
func isUsageError(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}
