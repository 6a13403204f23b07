# vietstack-api: build, run and test.
#
#   make run     build, then serve the root api-paste.ini on http://localhost:8080
#   make test    go vet, unit tests under the race detector, end-to-end tests
#
# Other targets: build, check, bench, fuzz, deps, clean.

GO       ?= go
BIN      := bin/vietstack-api
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 10s
# Debian packages the tests need; `make deps` (run by `make test`) installs
# the missing ones with apt-get: gcc and libc6-dev for -race (cgo); python3
# for the oslo-diff corpus (e2e/); python3-keystone, curl and jq for the real
# Keystone the authtoken tests start (../shared/tools/keystone).
DEB_PACKAGES ?= gcc libc6-dev python3 curl jq python3-keystone
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build run test deps vet unit e2e bench fuzz check clean readme

all: build

## build: compile the daemon into bin/vietstack-api
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vietstack-api

## run: build, then serve the root api-paste.ini (SIGHUP reloads it)
run: build
	./$(BIN) --config-file api-paste.ini

## test: vet, unit tests with -race, then the end-to-end tests
test: deps vet unit e2e

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

unit:
	$(GO) test -race ./...

## e2e: build the binary and drive it over real sockets and signals
e2e:
	$(GO) test -race -tags e2e -count=1 -run E2E ./cmd/vietstack-api/

## bench: every benchmark, with allocation counts
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## fuzz: run each fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME
fuzz:
	@set -e; grep -rH --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . \
		| sed -E 's|^\./(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' | sort -u \
		| while read dir target; do \
			echo "== ./$$dir $$target ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) ./$$dir </dev/null; \
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
