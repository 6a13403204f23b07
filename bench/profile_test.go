package bench

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// TestProfileUnderWrk serves the nova-like pipeline (or, with
// BENCH_PROFILE=bare, the bare handler) from this process on loopback
// while wrk loads it for 5 s, so that -cpuprofile sees the whole server
// side (net/http, the pipeline, the GC) and nothing of the client:
//
//	BENCH_PROFILE=nova-like go test ./bench/ -run TestProfileUnderWrk -cpuprofile cpu.out
//	go tool pprof -top cpu.out
//
// It is skipped unless BENCH_PROFILE is set.
func TestProfileUnderWrk(t *testing.T) {
	which := os.Getenv("BENCH_PROFILE")
	if which == "" {
		t.Skip("set BENCH_PROFILE=nova-like or bare to profile under wrk")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk not found: apt-get install wrk")
	}
	var h http.Handler = http.HandlerFunc(bare)
	if which == "nova-like" {
		gen := build(t, registry(), novaLikeIni, paste.Options{})
		defer gen.Close()
		h = gen.Handler
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	out, err := exec.Command(wrk, "-t1", "-c50", "-d5s", "-H", "X-Auth-Token: bench:bench", srv.URL+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
