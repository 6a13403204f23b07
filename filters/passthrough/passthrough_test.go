package passthrough

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

// recorder is a response writer with no per-call allocation, so the
// allocation count measures only the chain.
type recorder struct {
	h      http.Header
	status int
	n      int
}

func (w *recorder) Header() http.Header         { return w.h }
func (w *recorder) WriteHeader(code int)        { w.status = code }
func (w *recorder) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var body = []byte("ok")

type app struct{ seen *http.Request }

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.seen = r
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func TestUntouched(t *testing.T) {
	a := &app{}
	h := Middleware(a)
	r := httptest.NewRequest("POST", "/a/b?c=d", strings.NewReader("body"))
	r.Header.Set("X-Test", "1")
	w := &recorder{h: http.Header{}}
	h.ServeHTTP(w, r)
	if a.seen != r {
		t.Fatalf("app saw a different request: %p, want %p", a.seen, r)
	}
	if w.status != 200 || w.n != 2 {
		t.Fatalf("response = %d, %d bytes", w.status, w.n)
	}
	if len(w.h) != 0 {
		t.Errorf("filter added headers: %v", w.h)
	}
}

func TestZeroAllocs(t *testing.T) {
	var h http.Handler = &app{}
	for range 10 {
		h = Middleware(h)
	}
	r := httptest.NewRequest("GET", "/", nil)
	w := &recorder{h: http.Header{}}
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Fatalf("10 passthrough filters allocate %v times per request, want 0", n)
	}
}

func TestFactory(t *testing.T) {
	c := &pipeline.Config{Name: "filter:passthrough", Local: map[string]string{}, Global: map[string]string{}}
	mw, err := Factory(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{}
	if got := mw(a); got != http.Handler(a) {
		t.Errorf("middleware wrapped next instead of handing it on")
	}
	c.Local = map[string]string{"verbose": "true"}
	if _, err := Factory(context.Background(), c); err == nil || !strings.Contains(err.Error(), "verbose") {
		t.Errorf("unknown option: err = %v, want an error naming it", err)
	}
}

func TestRegister(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	f, ok := reg.Lookup("egg:vietstack#passthrough")
	if !ok || f.Kind != pipeline.KindFilter || f.Filter == nil {
		t.Fatalf("Lookup = %+v, %v", f, ok)
	}
}

func BenchmarkChain10(b *testing.B) {
	var h http.Handler = &app{}
	for range 10 {
		h = Middleware(h)
	}
	r := httptest.NewRequest("GET", "/", nil)
	w := &recorder{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
