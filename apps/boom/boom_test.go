package boom

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

func TestBoom(t *testing.T) {
	tests := []struct {
		when       string
		wantStatus int // recorded before the panic; 0 means nothing written
	}{
		{"call", 0},
		{"", 0},
		{"body", 200},
	}
	for _, tt := range tests {
		h, err := New(Options{Message: "secret-0123", When: tt.when})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		func() {
			defer func() {
				v := recover()
				e, ok := v.(error)
				var be *Error
				if !ok || !errors.As(e, &be) || be.Message != "secret-0123" {
					t.Errorf("when=%q: panic value %#v", tt.when, v)
				}
			}()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		}()
		if tt.wantStatus == 0 && (w.Code != 200 || w.Body.Len() != 0 || len(w.Header()) != 0) {
			t.Errorf("when=%q: wrote before the panic: %v", tt.when, w.Header())
		}
		if tt.wantStatus != 0 && (w.Code != tt.wantStatus || w.Header().Get("Content-Type") != "text/plain" || w.Body.Len() != 0) {
			t.Errorf("when=%q: %d %v %q", tt.when, w.Code, w.Header(), w.Body.String())
		}
	}
}

func TestBoomBadWhen(t *testing.T) {
	if _, err := New(Options{When: "later"}); err == nil {
		t.Error("when=later accepted")
	}
}

func TestFactory(t *testing.T) {
	if _, err := Factory(context.Background(), &pipeline.Config{Name: "app:boom", Local: map[string]string{"when": "body", "message": "m"}}); err != nil {
		t.Error(err)
	}
	for _, local := range []map[string]string{{"when": "never"}, {"mesage": "x"}} {
		if _, err := Factory(context.Background(), &pipeline.Config{Name: "app:boom", Local: local}); err == nil {
			t.Errorf("%v accepted", local)
		}
	}
}
