package pipeline

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Switch serves the current Generation and lets a reload replace it
// atomically. ServeHTTP costs one atomic load; a request keeps running on
// the generation it started on even if a Swap happens meanwhile.
// A Switch is safe for concurrent use.
type Switch struct {
	cur atomic.Pointer[Generation]
}

// NewSwitch returns a Switch serving g.
func NewSwitch(g *Generation) *Switch {
	s := &Switch{}
	s.cur.Store(g)
	return s
}

// ServeHTTP serves r with the current generation's handler.
func (s *Switch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.cur.Load().Handler.ServeHTTP(w, r)
}

// Current returns the generation being served.
func (s *Switch) Current() *Generation { return s.cur.Load() }

// Swap installs g and closes the previous generation after grace, so that
// in-flight requests finish on it first. It returns the previous generation.
func (s *Switch) Swap(g *Generation, grace time.Duration) *Generation {
	old := s.cur.Swap(g)
	if old != nil && old != g {
		time.AfterFunc(grace, func() { _ = old.Close() })
	}
	return old
}
