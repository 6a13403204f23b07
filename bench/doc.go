// Package bench holds vietstack-api's whole-daemon benchmarks and budgets:
// the nova-like pipeline of etc/bench/nova-like.ini built exactly as the
// daemon builds it (paste.Load, then pipeline.Build with every registered
// factory) and served in process, the loader and the composer on the
// largest real OpenStack paste files, and the allocation budget of the
// nova-like pipeline. Its subdirectory bare is the bare net/http server
// `make bench-e2e` compares the daemon with; e2e.sh is that driver.
//
// The package has no API; it exists for its tests and benchmarks:
//
//	go test -run '^$' -bench . -benchmem ./bench/
package bench
