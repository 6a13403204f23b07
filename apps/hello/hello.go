// Package hello is the seed's application: it answers GET and HEAD with a
// short, configurable text.
package hello

import (
	"context"
	"net/http"
	"strconv"

	"github.com/vietstack/vietstack-api/pipeline"
)

// DefaultMessage is the text served when no message option is given: the
// seed's greeting, spelling kept.
const DefaultMessage = "From VietStack: Wellcome the 8th Meetup of VietOpenStack"

// Options are the options of the hello app.
type Options struct {
	Message string `ini:"message" default:"From VietStack: Wellcome the 8th Meetup of VietOpenStack" doc:"the text GET and HEAD answer with"`
}

// Register registers the hello app factory in reg under the name "hello"
// (use = egg:vietstack#hello).
func Register(reg *pipeline.Registry) {
	reg.App("hello", Factory, pipeline.Info{
		Doc:     "answers GET and HEAD with 200 and a text/plain message; other methods get 405",
		Options: Options{},
	})
}

// Factory is the hello AppFactory: it decodes Options and returns the
// handler built by New.
func Factory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(o.Message), nil
}

// New returns a handler that answers GET and HEAD on any path with 200,
// Content-Type text/plain and message as the body (HEAD gets the headers
// only), and every other method with 405 and an Allow header.
// The handler is safe for concurrent use.
func New(message string) http.Handler {
	return &handler{body: []byte(message), length: strconv.Itoa(len(message))}
}

type handler struct {
	body   []byte
	length string
}

const (
	allowed   = "GET, HEAD"
	textPlain = "text/plain; charset=utf-8"
)

var (
	notAllowed    = []byte("405 Method Not Allowed: use GET or HEAD\n")
	notAllowedLen = strconv.Itoa(len(notAllowed))
)

// ReadsIdentityHeaders reports false: the answer is the same for every
// caller (see pipeline.ReadsIdentityHeaders).
func (h *handler) ReadsIdentityHeaders() bool { return false }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		hdr.Set("Content-Type", textPlain)
		hdr.Set("Content-Length", h.length)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(h.body)
		}
	default:
		hdr.Set("Allow", allowed)
		hdr.Set("Content-Type", textPlain)
		hdr.Set("Content-Length", notAllowedLen)
		hdr.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusMethodNotAllowed)
		w.Write(notAllowed)
	}
}
