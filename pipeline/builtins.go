package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// MaxWorkers is the largest number of worker processes a server section
// or --workers may ask for.
const MaxWorkers = 256

// ParseLogLevel parses a log level as the log_level option and the
// daemon's --log-level spell it: debug, info, warn (or warning) or error,
// in any case.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
}

// httpServerOptions are the options of the "http" server factory
// (egg:Paste#http): where to listen and the server's protective limits.
type httpServerOptions struct {
	Host              string        `ini:"host" default:"127.0.0.1" doc:"address to listen on"`
	Port              int           `ini:"port" default:"8080" doc:"TCP port to listen on"`
	ReadHeaderTimeout time.Duration `ini:"read_header_timeout" default:"10s" doc:"time allowed to read request headers"`
	ReadTimeout       time.Duration `ini:"read_timeout" default:"60s" doc:"time allowed to read a whole request, body included"`
	WriteTimeout      time.Duration `ini:"write_timeout" default:"120s" doc:"time allowed to write a response"`
	IdleTimeout       time.Duration `ini:"idle_timeout" default:"120s" doc:"how long an idle keep-alive connection stays open"`
	MaxHeaderBytes    ByteSize      `ini:"max_header_bytes" default:"64KiB" doc:"largest request header block accepted"`
	ShutdownTimeout   time.Duration `ini:"graceful_shutdown_timeout" default:"60s" doc:"how long in-flight requests may finish after a stop signal"`
	ShutdownDelay     time.Duration `ini:"shutdown_delay" default:"0s" doc:"on a stop signal, keep serving this long first while healthchecks answer 503, so load balancers stop sending (--shutdown-delay overrides)"`
	RefuseDuringDelay bool          `ini:"refuse_during_delay" default:"false" doc:"close the listener when the shutdown delay starts, not when it ends, so new connections are refused during it: for balancers that retry refused connections but check no health (nginx open source); behind one that does not retry, refusals become client errors, which the delay exists to avoid"`
	MaxConnections    int           `ini:"max_connections" default:"0" doc:"open connections served at once per process; past it a new connection gets a fast 503 and is closed (0: 90% of the open-file limit, less 32)"`
	Workers           int           `ini:"workers" default:"1" doc:"processes serving the one listening socket; each loads the pipeline, a crashed one is restarted (--workers overrides)"`
	LogLevel          string        `ini:"log_level" doc:"log level debug, info, warn or error; applied again on every reload (default: --log-level)"`

	// Paste's threaded-server knobs have no meaning for Go's server.
	_ struct{} `ini:"use_threadpool,ignore" doc:"Paste thread-pool setting; Go serves each connection on its own goroutine"`
	_ struct{} `ini:"threadpool_workers,ignore" doc:"Paste thread-pool setting; ignored"`
	_ struct{} `ini:"threadpool_options,ignore" doc:"Paste thread-pool setting; ignored"`
	_ struct{} `ini:"request_queue_size,ignore" doc:"Paste listen backlog; the kernel default is used"`
	_ struct{} `ini:"daemon_threads,ignore" doc:"Paste thread setting; ignored"`
}

func (o *httpServerOptions) Validate() error {
	if o.Port < 0 || o.Port > 65535 {
		return errors.New("port: must be between 0 and 65535")
	}
	if o.MaxHeaderBytes <= 0 {
		return errors.New("max_header_bytes: must be positive")
	}
	if o.ShutdownDelay < 0 {
		return errors.New("shutdown_delay: must not be negative")
	}
	if o.MaxConnections < 0 {
		return errors.New("max_connections: must not be negative")
	}
	if o.Workers < 1 || o.Workers > MaxWorkers {
		return fmt.Errorf("workers: must be between 1 and %d", MaxWorkers)
	}
	if o.LogLevel != "" {
		if _, err := ParseLogLevel(o.LogLevel); err != nil {
			return fmt.Errorf("log_level: %w", err)
		}
	}
	return nil
}

func newHTTPServer(c *Config) (*ServerSettings, error) {
	var o httpServerOptions
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return &ServerSettings{
		Host:              o.Host,
		Port:              o.Port,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    int(o.MaxHeaderBytes),
		ShutdownTimeout:   o.ShutdownTimeout,
		ShutdownDelay:     o.ShutdownDelay,
		RefuseDuringDelay: o.RefuseDuringDelay,
		MaxConnections:    o.MaxConnections,
		Workers:           o.Workers,
		LogLevel:          o.LogLevel,
	}, nil
}

func registerBuiltins(r *Registry) {
	r.Composite("urlmap", newURLMapComposite, Info{
		Doc: "Paste's urlmap: dispatch on [domain HOST] [port N] /path prefixes, longest first",
	})
	for _, a := range []string{"egg:Paste#urlmap", "paste.urlmap:urlmap_factory",
		"call:cinder.api:root_app_factory", "call:manila.api:root_app_factory",
		"freezer_api.service:root_app_factory", "glance.api:root_app_factory",
		"magnum.api:root_app_factory", "searchlight.api:root_app_factory"} {
		r.Alias(a, "urlmap")
	}
	r.Server("http", newHTTPServer, Info{
		Doc:     "the HTTP server: listen address and protective timeouts and limits",
		Options: httpServerOptions{},
	})
	r.Alias("egg:Paste#http", "http")
	r.Alias("paste.httpserver:server_runner", "http")
}

// DefaultServerSettings returns the settings of an [server:main] section
// that sets nothing: 127.0.0.1:8080 with the default limits. The daemon
// uses them when the file has no server section.
func DefaultServerSettings() *ServerSettings {
	s, err := newHTTPServer(&Config{Name: "server:main"})
	if err != nil {
		panic("pipeline: bad built-in server defaults: " + err.Error())
	}
	return s
}
