# vietstack-api: build, run and test.
#
#   make run     build, then serve the root api-paste.ini on http://localhost:8080
#   make test    go vet, unit tests under the race detector, end-to-end tests,
#                then every fuzz target for 60 s
#
# Other targets: build, check, bench, fuzz, graph, readme, deps, clean.

GO       ?= go
BIN      := bin/vietstack-api
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 10s
# Debian packages the tests need; `make deps` (run by `make test`) installs
# the missing ones with apt-get: gcc and libc6-dev for -race (cgo); python3
# for the oslo-diff corpus (e2e/); python3-keystone, curl and jq for the real
# Keystone the authtoken tests start (../shared/tools/keystone); nginx-light
# and haproxy for the gateway and scale-out end-to-end tests, slowhttptest
# for the slow-client tests (e2e/robustness), wrk for make bench-e2e.
DEB_PACKAGES ?= gcc libc6-dev python3 curl jq python3-keystone nginx-light haproxy slowhttptest wrk
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build run test deps vet unit e2e bench fuzz check clean readme graph
.PHONY: fuzz-ci bench-e2e bench-peers robustness soak

all: build

## build: compile the daemon into bin/vietstack-api (static: no cgo, Go's
## own resolver; it also starts with ~8% fewer page faults)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vietstack-api

## run: build, then serve the root api-paste.ini (SIGHUP reloads it)
run: build
	./$(BIN) --config-file api-paste.ini

## test: vet, unit tests with -race, the robustness suite, the end-to-end
## tests, then each fuzz target for 60 s (the CI length of reliability.md L1/H5)
test: deps vet unit robustness e2e fuzz-ci

## deps: install the Debian packages the tests need, when missing
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

vet:
	$(GO) vet -tags e2e ./...

# The robustness suite measures latencies under attack; it runs on its own
# (target robustness) after the other packages, not beside them.
unit:
	$(GO) test -race $$($(GO) list ./... | grep -v /e2e/robustness)

## e2e: build the binary and drive it over real sockets and signals
e2e:
	$(GO) test -race -tags e2e -count=1 -run E2E ./cmd/vietstack-api/

## bench: every benchmark, with allocation counts
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## fuzz: run each fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME.
## A run that fails with "context deadline exceeded" and no failing input
## (go test stopping mid-minimisation at the deadline, not a finding) is
## run once more; a real failure writes its input to testdata/fuzz and fails.
fuzz:
	@set -e; grep -rH --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . \
		| sed -E 's|^\./(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' | sort -u \
		| while read dir target; do \
			echo "== ./$$dir $$target ($(FUZZTIME))"; \
			for try in 1 2; do \
				out=$$($(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) ./$$dir </dev/null 2>&1) && rc=0 || rc=$$?; \
				printf '%s\n' "$$out" | tail -n 25; \
				if [ $$rc -eq 0 ]; then break; fi; \
				if [ $$try -eq 1 ] && printf '%s' "$$out" | grep -q 'context deadline exceeded' \
					&& ! printf '%s' "$$out" | grep -q 'Failing input written'; then \
					echo "== $$target stopped mid-minimisation at the deadline (no failing input): once more"; \
					continue; \
				fi; \
				exit $$rc; \
			done; \
		done

## fuzz-ci: every fuzz target for 60 s, the CI length of reliability.md L1/H5
fuzz-ci:
	$(MAKE) fuzz FUZZTIME=60s

# The peer benchmark harness (wrk A/B loop, CPU and RSS accounting).
PEERS_DIR ?= ../shared/tools/peers

## bench-e2e: vietstack-api serving etc/bench/nova-like.ini against the bare
## net/http server of bench/bare, under wrk, alternating A B A B (needs wrk)
bench-e2e: build
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/bench-bare ./bench/bare
	VS_BIN=$(BIN) BARE_BIN=bin/bench-bare PEERS_DIR=$(PEERS_DIR) bench/e2e.sh

## bench-peers: the same pipeline beside nginx, Caddy and the Python stack
## (../shared/tools/peers/run.sh --quick; ARGS="--reps 3" for the full run)
bench-peers: build
	VS_BIN=$(BIN) PEERS_DIR=$(PEERS_DIR) bench/peers.sh $(ARGS)

## robustness: the robustness suite under -race, CI-sized (needs slowhttptest)
robustness:
	$(GO) test -race -count=1 -timeout 10m ./e2e/robustness/

## soak: the long versions: the robustness soak at 1,000,000 mixed requests,
## and reload under load at 50 connections for 20 s with 10 reloads
soak:
	ROBUSTNESS_SOAK=1000000 $(GO) test -race -count=1 -timeout 60m -run '^TestSoak$$' -v ./e2e/robustness/
	VIETSTACK_SOAK=1 $(GO) test -race -tags e2e -count=1 -timeout 30m -run '^TestE2EReloadUnderLoad$$' -v ./cmd/vietstack-api/

## graph: draw each ini of etc/ as SVG beside it (installs Debian's graphviz if missing)
graph: build
	@command -v dot >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends graphviz; }
	@set -e; for f in etc/*.ini; do \
		./$(BIN) --config-file $$f --graph dot > bin/graph.dot; \
		dot -Tsvg bin/graph.dot -o $${f%.ini}.svg; \
		echo "$$f -> $${f%.ini}.svg"; \
	done

## check: --check every ini of etc/ and the root
check: build
	@rc=0; for f in api-paste.ini etc/*.ini; do \
		./$(BIN) --config-file $$f --check || rc=1; \
	done; exit $$rc

clean:
	rm -rf bin

## readme: regenerate README.md's flag list and factory reference
readme:
	$(GO) test ./cmd/vietstack-api/ -run '^TestReadme$$' -count=1 -update
