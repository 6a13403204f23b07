// Command bare is the baseline of `make bench-e2e`: a bare net/http server,
// with no middleware, that answers every request with the same 57-byte
// text/plain body as the `text` app of etc/bench/nova-like.ini. The ratio of
// vietstack-api's figures to this server's is the cost of the pipeline.
//
//	bare [-addr 127.0.0.1:18090]
//
// It uses the same http.Server limits as vietstack-api's defaults so that
// only the pipeline differs, and exits on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Body is the answer: the 57 bytes etc/bench/nova-like.ini serves.
const Body = "From VietStack: Wellcome the 8th Meetup of VietOpenStack."

var (
	body  = []byte(Body)
	ctype = []string{"text/plain; charset=UTF-8"}
	clen  = []string{"57"}
)

func handle(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h["Content-Type"] = ctype
	h["Content-Length"] = clen
	_, _ = w.Write(body)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	flag.Parse()
	srv := &http.Server{
		Addr:              *addr,
		Handler:           http.HandlerFunc(handle),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "bare:", err)
	}
}
