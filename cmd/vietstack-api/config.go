package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	vietstack "github.com/vietstack/vietstack-api"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// embeddedPath is the virtual path under which the built-in configuration
// is loaded: positions in messages read "(built-in)/api-paste.ini:12".
var embeddedPath = filepath.Join(string(filepath.Separator)+"(built-in)", vietstack.DefaultConfigName)

// buildTimeout bounds one build of the pipeline (start-up, reload,
// --check), so a factory stuck in start-up I/O cannot hang a reload.
const buildTimeout = 60 * time.Second

// source is the configuration the daemon loads: a file, or the built-in
// copy of the root api-paste.ini.
type source struct {
	path     string // what paste.Load is given
	embedded bool
	opts     *options
	reg      *pipeline.Registry
	logger   *slog.Logger
}

func newSource(o *options, reg *pipeline.Registry, logger *slog.Logger) *source {
	s := &source{opts: o, reg: reg, logger: logger}
	if o.configFile == "" {
		s.path, s.embedded = embeddedPath, true
	} else if abs, err := filepath.Abs(o.configFile); err == nil {
		s.path = abs
	} else {
		s.path = o.configFile
	}
	return s
}

// display is the name of the configuration for messages.
func (s *source) display() string {
	more := slices.Clone(s.opts.overlays)
	for _, d := range s.opts.configDirs {
		more = append(more, filepath.Join(d, "*.ini"))
	}
	if len(more) == 0 {
		return s.mainName()
	}
	return s.mainName() + " + " + strings.Join(more, " + ")
}

// mainName is the name of the top-level file for messages.
func (s *source) mainName() string {
	if s.embedded {
		return "built-in " + vietstack.DefaultConfigName
	}
	return s.opts.configFile
}

// readFile reads a configuration file for the loader: the virtual path of
// the built-in configuration gives its bytes, anything else the disk.
func (s *source) readFile(name string) ([]byte, error) {
	if s.embedded && filepath.Clean(name) == s.path {
		return vietstack.DefaultConfig(), nil
	}
	return os.ReadFile(name)
}

// read reads the top-level file, turning a missing or unreadable file into
// one clear message.
func (s *source) read() ([]byte, error) {
	data, err := s.readFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("cannot read configuration file %s: %s", s.mainName(), describeIOError(err))
	}
	return data, nil
}

// describeIOError reduces an OS error to its cause ("no such file or
// directory", "permission denied", "is a directory").
func describeIOError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

func (s *source) loadOptions(name string, kind paste.Kind) paste.Options {
	return paste.Options{Name: name, Kind: kind, Globals: s.opts.globals, ReadFile: s.readFile}
}

// loadGraph loads the graph of entry point name of the given kind.
func (s *source) loadGraph(name string, kind paste.Kind) (*paste.Graph, []error) {
	if _, err := s.read(); err != nil {
		return nil, []error{err}
	}
	opts := s.loadOptions(name, kind)
	overlays, err := overlayFiles(s.opts.overlays, s.opts.configDirs)
	if err != nil {
		return nil, []error{err}
	}
	opts.Overlays = overlays
	g, err := paste.Load(s.path, opts)
	if err != nil {
		return nil, paste.Flatten(err)
	}
	return g, nil
}

// buildApp loads and builds the --name application. On failure it returns
// every problem found; what was built is already closed.
func (s *source) buildApp(ctx context.Context) (*pipeline.Generation, []*paste.Warning, []error) {
	g, errs := s.loadGraph(s.opts.name, paste.KindApp)
	if errs != nil {
		return nil, nil, errs
	}
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	gen, err := pipeline.Build(ctx, g, pipeline.BuildOptions{Registry: s.reg, Logger: s.logger})
	if err != nil {
		return nil, g.Warnings, paste.Flatten(err)
	}
	return gen, g.Warnings, nil
}

// serverSettings loads and decodes [server:main], applies the --bind-host
// and --bind-port overrides and fills the defaults. A file without a
// [server:main] section gets pipeline.DefaultServerSettings (127.0.0.1:8080).
func (s *source) serverSettings() (*pipeline.ServerSettings, []*paste.Warning, []error) {
	data, err := s.read()
	if err != nil {
		return nil, nil, []error{err}
	}
	var st *pipeline.ServerSettings
	var warnings []*paste.Warning
	if hasSection(data, "server", "main") {
		g, errs := s.loadGraph("main", paste.KindServer)
		if errs != nil {
			return nil, nil, errs
		}
		warnings = g.Warnings
		st, err = pipeline.BuildServer(g, pipeline.BuildOptions{Registry: s.reg, Logger: s.logger})
		if err != nil {
			return nil, warnings, paste.Flatten(err)
		}
		if st == nil {
			st = &pipeline.ServerSettings{}
		}
	} else {
		st = pipeline.DefaultServerSettings()
	}
	if s.opts.hostSet {
		st.Host = s.opts.bindHost
	}
	if s.opts.portSet {
		st.Port = s.opts.bindPort
	}
	if s.opts.shutdownDelaySet {
		st.ShutdownDelay = s.opts.shutdownDelay
	}
	if s.opts.workers > 0 {
		st.Workers = s.opts.workers
	}
	if s.opts.logLevelSet || st.LogLevel == "" {
		st.LogLevel = s.opts.logLevel.String()
	}
	fillServerDefaults(st)
	return st, warnings, nil
}

// fillServerDefaults replaces zero (or negative) limits by the defaults of
// an empty [server:main], so the server never runs without timeouts.
func fillServerDefaults(st *pipeline.ServerSettings) {
	def := pipeline.DefaultServerSettings()
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&st.ReadHeaderTimeout, def.ReadHeaderTimeout)
	setDur(&st.ReadTimeout, def.ReadTimeout)
	setDur(&st.WriteTimeout, def.WriteTimeout)
	setDur(&st.IdleTimeout, def.IdleTimeout)
	setDur(&st.ShutdownTimeout, def.ShutdownTimeout)
	if st.MaxHeaderBytes <= 0 {
		st.MaxHeaderBytes = def.MaxHeaderBytes
	}
	if st.Workers <= 0 {
		st.Workers = 1
	}
}

// sameSettings reports whether a and b agree on every setting that needs
// a restart to change: all but the ones a reload applies (log_level,
// shutdown_delay, refuse_during_delay, graceful_shutdown_timeout).
func sameSettings(a, b *pipeline.ServerSettings) bool {
	x, y := *a, *b
	x.LogLevel, y.LogLevel = "", ""
	x.ShutdownDelay, y.ShutdownDelay = 0, 0
	x.RefuseDuringDelay, y.RefuseDuringDelay = false, false
	x.ShutdownTimeout, y.ShutdownTimeout = 0, 0
	return reflect.DeepEqual(x, y)
}

// hasSection reports whether the ini text has a section header PREFIX:NAME,
// with Paste's matching: the header is what lies between the first "[" and
// the last "]" of the line, split at the first ":" with spaces trimmed. An
// indented line right after an option is a continuation of its value, as
// in ConfigParser, and never a header.
func hasSection(data []byte, prefix, name string) bool {
	open := false // an option whose value may continue on indented lines
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		t := strings.TrimSpace(line)
		indented := line != "" && (line[0] == ' ' || line[0] == '\t')
		switch {
		case t == "":
			open = false
		case indented && open:
			// continuation line
		case t[0] == '#' || t[0] == ';':
			if !indented {
				open = false
			}
		case t[0] == '[' && strings.LastIndexByte(t, ']') > 1:
			open = false
			header := t[1:strings.LastIndexByte(t, ']')]
			p, n, ok := strings.Cut(header, ":")
			if ok && strings.TrimSpace(p) == prefix && strings.TrimSpace(n) == name {
				return true
			}
		default:
			open = true
		}
	}
	return false
}

// dedupe drops repeated problems (a syntax error is found by both the app
// and the server load), keeping the first occurrence's order.
func dedupe(errs []error) []error {
	seen := make(map[string]bool, len(errs))
	out := errs[:0:0]
	for _, e := range errs {
		k := e.Error()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}

func dedupeWarnings(ws ...[]*paste.Warning) []*paste.Warning {
	seen := map[string]bool{}
	var out []*paste.Warning
	for _, list := range ws {
		for _, w := range list {
			if k := w.Error(); !seen[k] {
				seen[k] = true
				out = append(out, w)
			}
		}
	}
	return out
}
