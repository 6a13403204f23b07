// Package passthrough is the seed's middleware: a filter that hands every
// request on untouched. It marks the place of a filter in a pipeline and
// costs nothing per request.
package passthrough

import (
	"context"
	"net/http"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the passthrough filter: it has none, so any
// option written in its section is reported as unknown.
type Options struct{}

// Register registers the passthrough filter factory in reg under the name
// "passthrough" (use = egg:vietstack#passthrough).
func Register(reg *pipeline.Registry) {
	reg.Filter("passthrough", Factory, pipeline.Info{
		Doc:     "hands every request on untouched (a placeholder that costs nothing per request)",
		Options: Options{},
	})
}

// Factory is the passthrough FilterFactory. It rejects any option and
// returns Middleware.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return Middleware, nil
}

// Middleware returns next itself: the request, its headers, body and
// response writer reach next exactly as they came, with no allocation and
// no extra call.
func Middleware(next http.Handler) http.Handler { return next }
