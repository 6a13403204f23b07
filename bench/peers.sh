#!/usr/bin/env bash
# bench/peers.sh: the peer benchmark of ../shared/tools/peers (nginx, Caddy,
# the Python Paste/eventlet/gunicorn stack, hand-written Go chains) with
# vietstack-api serving etc/bench/nova-like.ini as one more target, in the
# same interleaved loop; `make bench-peers` runs it. Arguments go to run.sh
# (default --quick).
#
# noauth answers 401 without a token and run.sh's wrk command cannot take
# extra headers, so wrk is reached through a wrapper, first on PATH, that
# adds "X-Auth-Token: bench:bench" to every run against every peer (the
# peers ignore it). The start-up poll carries no token: vietstack-api is
# ready at its first answer, noauth's 401 (TARGET_EXPECT=401).
#
# Env: VS_BIN (bin/vietstack-api), INI (etc/bench/nova-like.ini), PEERS_DIR
# (../shared/tools/peers), BENCH_WORK (/tmp/vs-bench-peers), VS_PORT (18181).
set -euo pipefail
VS_BIN="${VS_BIN:-bin/vietstack-api}"
INI="${INI:-etc/bench/nova-like.ini}"
PEERS_DIR="${PEERS_DIR:-../shared/tools/peers}"
BENCH_WORK="${BENCH_WORK:-/tmp/vs-bench-peers}"
VS_PORT="${VS_PORT:-18181}"
WRK="$(command -v wrk)" || { echo "bench-peers: wrk not found: apt-get install wrk" >&2; exit 1; }
[ -x "$VS_BIN" ] || { echo "bench-peers: $VS_BIN missing: make build" >&2; exit 1; }
mkdir -p "$BENCH_WORK/wrkbin"
printf '#!/bin/sh\nexec %s -H "X-Auth-Token: bench:bench" "$@"\n' "$WRK" >"$BENCH_WORK/wrkbin/wrk"
chmod +x "$BENCH_WORK/wrkbin/wrk"
[ $# -gt 0 ] || set -- --quick
PATH="$BENCH_WORK/wrkbin:$PATH" BENCH_WORK="$BENCH_WORK" \
  TARGET_NAME=vietstack-nova-like \
  TARGET_CMD="$VS_BIN --config-file $INI --bind-port $VS_PORT --log-level warn" \
  TARGET_URL="http://127.0.0.1:$VS_PORT/" TARGET_EXPECT=401 \
  exec "$PEERS_DIR/run.sh" "$@"
