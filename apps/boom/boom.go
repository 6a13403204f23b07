// Package boom provides the "boom" application, which fails on purpose. It
// exists to test error handling (catch_errors, faultwrap, the server's own
// recovery): never route real traffic to it.
//
// With when = call it panics before writing anything; with when = body it
// sets Content-Type: text/plain, commits status 200 (without flushing) and
// then panics before the first body byte. The panic value is an *Error
// carrying message, which error handlers may log but must never send to the
// client.
package boom

import (
	"context"
	"fmt"
	"net/http"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options configure the boom app.
type Options struct {
	Message string `ini:"message" default:"boom" doc:"the panic message: logged by error handlers, never sent to clients"`
	When    string `ini:"when" default:"call" doc:"call: panic before writing; body: after the 200 status line, before the body"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.When != "call" && o.When != "body" {
		return fmt.Errorf("when: must be call or body, got %q", o.When)
	}
	return nil
}

// Error is the value boom panics with.
type Error struct{ Message string }

func (e *Error) Error() string { return "boom: " + e.Message }

// Factory is the "boom" AppFactory.
func Factory(_ context.Context, c *pipeline.Config) (http.Handler, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(o)
}

// Register registers "boom" in reg.
func Register(reg *pipeline.Registry) {
	reg.App("boom", Factory, pipeline.Info{
		Doc:     "fails on purpose (panics), for testing error handling only",
		Options: Options{},
	})
}

// New returns the boom app for o; an empty When means "call".
func New(o Options) (http.Handler, error) {
	if o.When == "" {
		o.When = "call"
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &app{err: &Error{Message: o.Message}, body: o.When == "body"}, nil
}

type app struct {
	err  *Error
	body bool
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.body {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
	}
	panic(a.err)
}
