package pipeline

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRootHoldsStatusUntilBody(t *testing.T) {
	var committedAtWriteHeader, committedAtWrite bool
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := RequestFrom(r)
		w.WriteHeader(http.StatusCreated)
		committedAtWriteHeader = st.Committed()
		if st.Status() != http.StatusCreated {
			t.Errorf("Status = %d", st.Status())
		}
		w.WriteHeader(http.StatusTeapot) // superfluous: ignored
		io.WriteString(w, "hi")
		committedAtWrite = st.Committed()
		if st.ResetResponse() {
			t.Error("ResetResponse after commit")
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if committedAtWriteHeader || !committedAtWrite || rec.Code != 201 || rec.Body.String() != "hi" {
		t.Errorf("commit at WriteHeader=%v at Write=%v code=%d body=%q", committedAtWriteHeader, committedAtWrite, rec.Code, rec.Body.String())
	}
}

func TestRootCommitsStatusWithoutBody(t *testing.T) {
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 204 || !rec.Flushed && rec.Result().StatusCode != 204 {
		t.Errorf("code = %d", rec.Code)
	}
}

func TestRootPanics(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)

	tests := []struct {
		name      string
		app       http.HandlerFunc
		wantCode  int
		wantAbort bool
	}{
		{"before anything", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Secret-Internal", "db01")
			panic("database password is hunter2")
		}, 500, false},
		{"after status, before body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			panic(errors.New("late"))
		}, 500, false},
		{"after body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			panic("too late")
		}, 0, true},
		{"abort handler", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			rec := httptest.NewRecorder()
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				Root(tt.app).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
			}()
			if tt.wantAbort {
				if recovered != http.ErrAbortHandler {
					t.Fatalf("recovered %v, want http.ErrAbortHandler", recovered)
				}
				return
			}
			if recovered != nil {
				t.Fatalf("panic escaped: %v", recovered)
			}
			body := rec.Body.String()
			if rec.Code != tt.wantCode || strings.Contains(body, "hunter2") || strings.Contains(body, "goroutine") || strings.Contains(body, "late") {
				t.Errorf("code %d body %q", rec.Code, body)
			}
			if rec.Header().Get("X-Secret-Internal") != "" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", rec.Header())
			}
			if !strings.Contains(logs.String(), "stack=") || strings.Count(logs.String(), "panic serving request") != 1 {
				t.Errorf("log: %s", logs.String())
			}
		})
	}
}

type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

func TestRootFlushAndReadFrom(t *testing.T) {
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	var st *Request
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st = RequestFrom(r)
		w.WriteHeader(202)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		if !st.Committed() {
			t.Error("not committed after Flush")
		}
		io.Copy(w, strings.NewReader("0123456789"))
	}))
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 202 || rec.flushes != 1 || st.BytesWritten() != 10 || rec.Body.String() != "0123456789" {
		t.Errorf("code %d flushes %d bytes %d body %q", rec.Code, rec.flushes, st.BytesWritten(), rec.Body.String())
	}
}

func TestRootDropsUnderscoreHeaders(t *testing.T) {
	var got http.Header
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header["X_Roles"] = []string{"admin"}
	req.Header["X_identity_status"] = []string{"Confirmed"}
	req.Header.Set("X-Roles", "member")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(got) != 1 || got.Get("X-Roles") != "member" {
		t.Errorf("headers reaching the app: %v", got)
	}
}
