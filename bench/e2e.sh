#!/usr/bin/env bash
# bench/e2e.sh: the end-to-end load benchmark behind `make bench-e2e`.
#
# Starts A = vietstack-api serving etc/bench/nova-like.ini and B = the bare
# net/http server of bench/bare (same 57-byte body), one at a time, and
# drives each with wrk on loopback, alternating A B A B for REPS
# repetitions. Process start, CPU accounting and memory sampling are done by
# benchctl from ../shared/tools/peers (built into $BENCH_WORK/bin): start-up
# is exec to first answer (1 ms polling), "srv µs/req" is the server's
# user+sys CPU time divided by the requests wrk completed, RSS the largest
# VmRSS sampled during the run. It prints one line per run and a table of
# medians with the A/B ratios, and exits 1 when a run fails or sees
# non-2xx answers or socket errors.
#
# Both servers get the header "X-Auth-Token: bench:bench": noauth needs it,
# the bare server ignores it. The start-up poll carries no token, so
# vietstack-api's first answer is noauth's 401: the whole pipeline is built
# before the listener opens, so it is the first answer the pipeline gives.
#
# Env: VS_BIN (bin/vietstack-api), BARE_BIN (bin/bench-bare), INI
# (etc/bench/nova-like.ini), PEERS_DIR (../shared/tools/peers), BENCH_WORK
# (/tmp/vs-bench-e2e), REPS (3), DURATION (10s), WARMUP (2s), CONNS (50),
# WRK_THREADS (1), STARTUP_REPS (5), PORT_A (18180), PORT_B (18190).
set -euo pipefail

VS_BIN="${VS_BIN:-bin/vietstack-api}"
BARE_BIN="${BARE_BIN:-bin/bench-bare}"
INI="${INI:-etc/bench/nova-like.ini}"
PEERS_DIR="${PEERS_DIR:-../shared/tools/peers}"
BENCH_WORK="${BENCH_WORK:-/tmp/vs-bench-e2e}"
REPS="${REPS:-3}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNS="${CONNS:-50}"
WRK_THREADS="${WRK_THREADS:-1}"
STARTUP_REPS="${STARTUP_REPS:-5}"
PORT_A="${PORT_A:-18180}"
PORT_B="${PORT_B:-18190}"
HDR="X-Auth-Token: bench:bench"

say() { echo "bench-e2e: $*" >&2; }
command -v wrk >/dev/null || { say "wrk not found: apt-get install wrk"; exit 1; }
[ -x "$VS_BIN" ] || { say "$VS_BIN missing: make build"; exit 1; }
[ -x "$BARE_BIN" ] || { say "$BARE_BIN missing"; exit 1; }
[ -d "$PEERS_DIR/go/cmd/benchctl" ] || { say "benchctl not found under $PEERS_DIR (set PEERS_DIR)"; exit 1; }
mkdir -p "$BENCH_WORK/bin"
(cd "$PEERS_DIR/go" && go build -o "$BENCH_WORK/bin/" ./cmd/benchctl) || { say "building benchctl failed"; exit 1; }
BC="$BENCH_WORK/bin/benchctl"
RESULTS="$BENCH_WORK/results.tsv"
RAW="$BENCH_WORK/wrk-raw.txt"
: >"$RESULTS"
: >"$RAW"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT_A" "$PORT_B"; do
  if port_busy "$p"; then say "port $p is in use (set PORT_A/PORT_B)"; exit 1; fi
done

# argv_of NAME: the command, URL and start-up status of server NAME.
argv_of() {
  case "$1" in
    A) URL="http://127.0.0.1:$PORT_A/"; READY=0
       ARGV=("$VS_BIN" --config-file "$INI" --bind-port "$PORT_A" --log-level warn) ;;
    B) URL="http://127.0.0.1:$PORT_B/"; READY=200
       ARGV=("$BARE_BIN" -addr "127.0.0.1:$PORT_B") ;;
  esac
}

CUR_PID=""
cleanup() { [ -n "$CUR_PID" ] && "$BC" stop "$CUR_PID" >/dev/null 2>&1 || true; }
trap cleanup EXIT

start() { # NAME -> CUR_PID, prints start-up ms
  argv_of "$1"
  local out
  out="$("$BC" start -url "$URL" -expect "$READY" -timeout 30s -log "$BENCH_WORK/$1.log" -- "${ARGV[@]}")"
  CUR_PID="${out%% *}"
  echo "${out##* }"
}
stop() { "$BC" stop "$CUR_PID" >/dev/null; CUR_PID=""; }

fail=0
say "A = vietstack-api $INI, B = bench/bare; wrk -t$WRK_THREADS -c$CONNS -d$DURATION, $REPS reps A B A B"
for ((rep = 1; rep <= REPS; rep++)); do
  for n in A B; do
    argv_of "$n"
    start "$n" >"$BENCH_WORK/startup"; su="$(cat "$BENCH_WORK/startup")"
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"$WARMUP" -H "$HDR" "$URL" >/dev/null 2>&1 || true
    if ! line="$("$BC" load -pid "$CUR_PID" -raw "$RAW" -- wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -H "$HDR" "$URL")"; then
      say "rep $rep $n: wrk failed"; fail=1; stop; continue
    fi
    stop
    printf '%s\t%s\t%s\t%s\n' "$n" "$rep" "$su" "$line" >>"$RESULTS"
    echo "$line" | awk -F'\t' -v n="$n" -v r="$rep" -v su="$su" '{
      printf "rep %d %s: %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms  srv %5.2f us/req  rss %5.1f MiB  non2xx %d  sockerr %d  start %s ms  other %3.0f%%\n",
        r, n, $1, $2, $3, $10, $8/1024, $6, $7, su, $13 }' >&2
    if [ "$(echo "$line" | cut -f6)" != 0 ] || [ "$(echo "$line" | cut -f7)" != 0 ]; then fail=1; fi
  done
done
for ((i = 0; i < STARTUP_REPS; i++)); do
  for n in A B; do
    start "$n" >"$BENCH_WORK/startup"; su="$(cat "$BENCH_WORK/startup")"; stop
    printf '%s\tstartup\t%s\n' "$n" "$su" >>"$RESULTS"
  done
done

awk -F'\t' -v conns="$CONNS" '
function median(arr, k,   i, j, t, a) {
  for (i = 1; i <= k; i++) a[i] = arr[i]
  for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
$2 == "startup" { su[$1, ++ns[$1]] = $3; next }
{ k = ++nr[$1]; su[$1, ++ns[$1]] = $3
  rps[$1, k] = $4; p50[$1, k] = $5; p99[$1, k] = $6; rss[$1, k] = $11 / 1024; cpu[$1, k] = $13 }
END {
  for (s = 0; s < 2; s++) {
    n = s ? "B" : "A"
    delete t; for (i = 1; i <= nr[n]; i++) t[i] = rps[n, i]; R[n] = median(t, nr[n])
    delete t; for (i = 1; i <= nr[n]; i++) t[i] = p50[n, i]; P50[n] = median(t, nr[n])
    delete t; for (i = 1; i <= nr[n]; i++) t[i] = p99[n, i]; P99[n] = median(t, nr[n])
    delete t; for (i = 1; i <= nr[n]; i++) t[i] = rss[n, i]; RSS[n] = median(t, nr[n])
    delete t; for (i = 1; i <= nr[n]; i++) t[i] = cpu[n, i]; CPU[n] = median(t, nr[n])
    delete t; for (i = 1; i <= ns[n]; i++) t[i] = su[n, i]; SU[n] = median(t, ns[n])
  }
  printf "\n| c%s, medians | req/s | p50 ms | p99 ms | srv CPU µs/req | RSS MiB | start-up ms |\n", conns
  printf "|---|---:|---:|---:|---:|---:|---:|\n"
  printf "| A vietstack-api nova-like | %.0f | %.3f | %.3f | %.2f | %.1f | %.1f |\n", R["A"], P50["A"], P99["A"], CPU["A"], RSS["A"], SU["A"]
  printf "| B bare net/http | %.0f | %.3f | %.3f | %.2f | %.1f | %.1f |\n", R["B"], P50["B"], P99["B"], CPU["B"], RSS["B"], SU["B"]
  printf "| A/B | %.3f× | %.2f× | %.2f× | %+.2f µs | %.2f× | %+.1f ms |\n", R["A"] / R["B"], P50["A"] / P50["B"], P99["A"] / P99["B"], CPU["A"] - CPU["B"], RSS["A"] / RSS["B"], SU["A"] - SU["B"]
  k = (nr["A"] < nr["B"]) ? nr["A"] : nr["B"]
  delete t; for (i = 1; i <= k; i++) t[i] = cpu["A", i] - cpu["B", i]; PD = median(t, k)
  delete t; for (i = 1; i <= k; i++) t[i] = rps["A", i] / rps["B", i]; PR = median(t, k)
  printf "paired by rep (A rep i against B rep i), medians: req/s A/B %.3f×, srv CPU %+.2f µs\n", PR, PD
  ratio = R["A"] / R["B"]; dcpu = CPU["A"] - CPU["B"]
  m1 = (ratio >= 0.85) ? "met" : "NOT met"; m2 = (dcpu <= 2.5) ? "met" : "NOT met"
  m3 = (SU["A"] <= 10) ? "met" : "NOT met"; m4 = (RSS["A"] <= 25) ? "met" : "NOT met"
  printf "\ntargets: req/s A/B >= 0.85 (%s), srv CPU delta <= 2.5 µs (%s), start-up <= 10 ms (%s), RSS <= 25 MiB (%s)\n", m1, m2, m3, m4
}' "$RESULTS"
say "raw results: $RESULTS, wrk output: $RAW"
exit "$fail"
