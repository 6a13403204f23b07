// Package ratelimit is a token-bucket rate-limit filter built on
// golang.org/x/time/rate.
//
// Each key has a bucket that refills at rate tokens per second up to
// burst; a request takes one token or is refused with 429 Too Many
// Requests, a Retry-After header (whole seconds until a token is back) and
// a JSON fault. The key is one of:
//
//   - ip: the client address as derived by the http_proxy_to_wsgi filter
//     ([pipeline.Request].RemoteAddr: the socket peer unless a trusted
//     proxy vouched for another), IPv6 addresses grouped by their
//     ipv6_prefix (a /64 by default, since one host usually owns one);
//   - project: the authenticated project ([pipeline.Request].Identity),
//     falling back to the client address before authentication, so place
//     the filter after the auth filter;
//   - global: one bucket for every request through this filter.
//
// Memory is bounded: at most max_keys buckets are kept. A bucket left idle
// long enough to be full again is indistinguishable from a new one, so a
// background sweeper drops such buckets; when the table is full anyway, a
// new key evicts a random one from its shard. The sweeper stops when the
// pipeline generation that built the filter is retired.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the ratelimit filter.
type Options struct {
	Rate       float64       `ini:"rate" doc:"tokens added per second to each key's bucket (required, > 0; 0.5 is one request every 2 s)"`
	Burst      int           `ini:"burst" default:"0" doc:"bucket size: requests allowed at once; 0 means max(1, ceil(rate))"`
	Key        string        `ini:"key" default:"ip" doc:"what a bucket belongs to: ip (derived client address), project (authenticated project, else ip) or global"`
	IPv6Prefix int           `ini:"ipv6_prefix" default:"64" doc:"IPv6 clients share a bucket per prefix of this length (1-128)"`
	MaxKeys    int           `ini:"max_keys" default:"100000" doc:"bound on the buckets kept in memory"`
	Sweep      time.Duration `ini:"sweep_interval" default:"1m" doc:"how often idle buckets are dropped"`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		return errors.New("rate must be a positive number of requests per second")
	}
	if o.Burst < 0 {
		return errors.New("burst must not be negative")
	}
	switch o.Key {
	case "ip", "project", "global":
	default:
		return fmt.Errorf("key %q: want ip, project or global", o.Key)
	}
	if o.IPv6Prefix < 1 || o.IPv6Prefix > 128 {
		return errors.New("ipv6_prefix must be between 1 and 128")
	}
	if o.MaxKeys < 1 {
		return errors.New("max_keys must be positive")
	}
	if o.Sweep <= 0 {
		return errors.New("sweep_interval must be positive")
	}
	return nil
}

// Register registers the ratelimit filter factory in reg under the name
// "ratelimit" (use = egg:vietstack#ratelimit).
func Register(reg *pipeline.Registry) {
	reg.Filter("ratelimit", Factory, pipeline.Info{
		Doc:     "token-bucket rate limit per client address, project or globally: 429 with Retry-After, bounded memory",
		Options: Options{},
	})
}

// Factory is the ratelimit FilterFactory: it builds a Limiter and stops
// its sweeper when the generation is retired.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	l, err := New(o, c.Logger)
	if err != nil {
		return nil, c.Errorf("", "%v", err)
	}
	c.OnClose(func() error { l.Close(); return nil })
	return l.Middleware, nil
}

const nShards = 16

type mode int

const (
	byIP mode = iota
	byProject
	global
)

// key identifies a bucket: an address (masked) or a project id.
type key struct {
	addr    netip.Addr
	project string
}

type entry struct {
	lim  *rate.Limiter
	last time.Time
}

type shard struct {
	mu sync.Mutex
	m  map[key]*entry
}

// Limiter is the rate-limit state of one filter instance. Its methods are
// safe for concurrent use.
type Limiter struct {
	limit    rate.Limit
	burst    int
	mode     mode
	v6bits   int
	perShard int
	idle     time.Duration
	seed     maphash.Seed
	global   *rate.Limiter
	shards   [nShards]shard
	log      *slog.Logger

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// New builds a Limiter from o and, unless the key is global, starts its
// sweeper; Close stops it.
func New(o Options, log *slog.Logger) (*Limiter, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	burst := o.Burst
	if burst == 0 {
		burst = max(1, int(math.Ceil(o.Rate)))
	}
	l := &Limiter{limit: rate.Limit(o.Rate), burst: burst, v6bits: o.IPv6Prefix, seed: maphash.MakeSeed(),
		perShard: max(1, (o.MaxKeys+nShards-1)/nShards), log: log, stop: make(chan struct{}), done: make(chan struct{})}
	// A bucket idle for this long has refilled completely.
	l.idle = time.Duration(float64(burst) / o.Rate * float64(time.Second))
	l.idle = max(l.idle, time.Second)
	switch o.Key {
	case "ip":
		l.mode = byIP
	case "project":
		l.mode = byProject
	case "global":
		l.mode = global
		l.global = rate.NewLimiter(l.limit, burst)
		close(l.done)
		return l, nil
	}
	for i := range l.shards {
		l.shards[i].m = make(map[key]*entry)
	}
	go l.sweeper(o.Sweep)
	return l, nil
}

// Close stops the sweeper and waits for it. Requests may still use the
// Limiter afterwards.
func (l *Limiter) Close() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (l *Limiter) sweeper(every time.Duration) {
	defer close(l.done)
	defer func() {
		if v := recover(); v != nil {
			l.log.Error("ratelimit sweeper panicked; idle buckets are no longer dropped", slog.Any("panic", v))
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			l.sweep(now)
		}
	}
}

// sweep drops the buckets idle for longer than it takes them to refill.
func (l *Limiter) sweep(now time.Time) {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if now.Sub(e.last) >= l.idle {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

// keyOf returns the bucket key of r.
func (l *Limiter) keyOf(r *http.Request) key {
	remote := r.RemoteAddr
	if st := pipeline.RequestFrom(r); st != nil {
		if l.mode == byProject && st.Identity != nil && st.Identity.ProjectID != "" {
			return key{project: st.Identity.ProjectID}
		}
		remote = st.RemoteAddr
	}
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		a = ap.Addr()
	} else if a2, err := netip.ParseAddr(remote); err == nil {
		a = a2
	}
	a = a.Unmap().WithZone("")
	if a.Is6() && l.v6bits < 128 {
		if p, err := a.Prefix(l.v6bits); err == nil {
			a = p.Addr()
		}
	}
	return key{addr: a}
}

// Allow reports whether a request with key k may go now, and when not, how
// long until it could.
func (l *Limiter) allow(k key, now time.Time) (bool, time.Duration) {
	var h uint64
	if k.project != "" {
		h = maphash.String(l.seed, k.project)
	} else {
		b := k.addr.As16()
		h = maphash.Bytes(l.seed, b[:])
	}
	s := &l.shards[h%nShards]
	s.mu.Lock()
	e, ok := s.m[k]
	if !ok {
		if len(s.m) >= l.perShard {
			for victim := range s.m { // random: map order
				delete(s.m, victim)
				break
			}
		}
		e = &entry{lim: rate.NewLimiter(l.limit, l.burst)}
		s.m[k] = e
	}
	e.last = now
	ok = e.lim.AllowN(now, 1)
	var wait time.Duration
	if !ok {
		wait = l.waitFor(e.lim, now)
	}
	s.mu.Unlock()
	return ok, wait
}

func (l *Limiter) waitFor(lim *rate.Limiter, now time.Time) time.Duration {
	deficit := 1 - lim.TokensAt(now)
	if deficit <= 0 {
		return 0
	}
	return time.Duration(deficit / float64(l.limit) * float64(time.Second))
}

// Middleware is the filter: it passes requests that get a token to next
// and answers the others with 429.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var ok bool
		var wait time.Duration
		if l.mode == global {
			ok = l.global.AllowN(now, 1)
			if !ok {
				wait = l.waitFor(l.global, now)
			}
		} else {
			ok, wait = l.allow(l.keyOf(r), now)
		}
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		tooMany(w, wait)
	})
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int64(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	n := strconv.FormatInt(secs, 10)
	body := make([]byte, 0, 160)
	body = append(body, `{"error": {"code": 429, "title": "Too Many Requests", "message": "Rate limit exceeded; retry after `...)
	body = append(body, n...)
	body = append(body, " seconds.\", \"retry_after\": "...)
	body = append(body, n...)
	body = append(body, "}}\n"...)
	h := w.Header()
	h["Retry-After"] = []string{n}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(body)
}
