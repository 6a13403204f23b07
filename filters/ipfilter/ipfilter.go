// Package ipfilter is the client-address access filter: allow and deny
// lists of IP prefixes checked against the client address as derived by
// the http_proxy_to_wsgi filter ([pipeline.Request].RemoteAddr: the socket
// peer unless a trusted proxy vouched for another), never against a raw
// client header.
//
// A request is refused with 403 and a JSON fault when its address matches
// a deny prefix, or when an allow list is given and no allow prefix
// matches; otherwise it goes on. IPv4-mapped IPv6 addresses are compared as
// IPv4. An address that does not parse (a Unix socket peer) is refused,
// unless allow_unknown = true.
package ipfilter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Prefixes is a list of IP prefixes in an ini value: CIDRs or bare
// addresses (a bare address is its /32 or /128), separated by commas or
// whitespace.
type Prefixes []netip.Prefix

// UnmarshalText parses a prefix list.
func (p *Prefixes) UnmarshalText(b []byte) error {
	var out Prefixes
	for _, s := range pipeline.SplitList(string(b)) {
		var pr netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			pr, err = netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("invalid prefix %q: want a CIDR such as 10.0.0.0/8 or 2001:db8::/32", s)
			}
			if pr.Masked() != pr {
				return fmt.Errorf("prefix %q has host bits set; did you mean %s?", s, pr.Masked())
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("invalid address %q", s)
			}
			a = a.WithZone("")
			pr = netip.PrefixFrom(a, a.BitLen())
		}
		if pr.Addr().Is4In6() && pr.Bits() >= 96 {
			// Addresses are compared unmapped, so prefixes are too.
			pr = netip.PrefixFrom(pr.Addr().Unmap(), pr.Bits()-96)
		}
		out = append(out, pr)
	}
	*p = out
	return nil
}

// Options are the options of the ipfilter filter.
type Options struct {
	Allow        Prefixes `ini:"allow" doc:"prefixes allowed (CIDRs or addresses); when given, every other address is refused"`
	Deny         Prefixes `ini:"deny" doc:"prefixes refused, checked before allow"`
	AllowUnknown bool     `ini:"allow_unknown" default:"false" doc:"let requests whose client address does not parse (Unix sockets) through"`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if len(o.Allow) == 0 && len(o.Deny) == 0 {
		return errors.New("give allow, deny or both")
	}
	return nil
}

// Register registers the ipfilter filter factory in reg under the name
// "ipfilter" (use = egg:vietstack#ipfilter).
func Register(reg *pipeline.Registry) {
	reg.Filter("ipfilter", Factory, pipeline.Info{
		Doc:     "allow/deny lists of IP prefixes on the derived client address; 403 JSON fault",
		Options: Options{},
	})
}

// Factory is the ipfilter FilterFactory.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(o).Middleware, nil
}

// Filter is one ipfilter's lists. It is safe for concurrent use.
type Filter struct {
	allow, deny  []netip.Prefix
	allowUnknown bool
}

// New returns the filter for o.
func New(o Options) *Filter {
	return &Filter{allow: o.Allow, deny: o.Deny, allowUnknown: o.AllowUnknown}
}

// Allowed reports whether a client at remote (host:port or a bare
// address) may pass.
func (f *Filter) Allowed(remote string) bool {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		a = ap.Addr()
	} else if a2, err := netip.ParseAddr(remote); err == nil {
		a = a2
	} else {
		return f.allowUnknown
	}
	a = a.Unmap().WithZone("")
	for _, p := range f.deny {
		if p.Contains(a) {
			return false
		}
	}
	if len(f.allow) == 0 {
		return true
	}
	for _, p := range f.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var (
	forbiddenBody = []byte(`{"error": {"code": 403, "title": "Forbidden", "message": "Access from this address is not allowed."}}` + "\n")
	forbiddenLen  = strconv.Itoa(len(forbiddenBody))
)

// Middleware is the filter.
func (f *Filter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remote := r.RemoteAddr
		if st := pipeline.RequestFrom(r); st != nil {
			remote = st.RemoteAddr
		}
		if f.Allowed(remote) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{forbiddenLen}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(forbiddenBody)
	})
}
