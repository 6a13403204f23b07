package pipeline

import (
	"errors"
	"time"
)

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
