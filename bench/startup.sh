#!/usr/bin/env bash
# bench/startup.sh: start-up to first 200 of vietstack-api against the bare
# net/http server, the start-up target of issue 7 (<= 10 ms).
#
# Builds bench/startup (the measuring program: exec, a raw TCP poll every
# 200 µs, one GET per connection, see its doc comment) and runs, N times
# each, in rounds so that a burst of foreign load hits every row alike:
#   vietstack-api etc/bench/nova-like.ini   first 200 (X-Auth-Token sent)
#   vietstack-api, built-in api-paste.ini   first 200 of the hello app
#   bench/bare                              first 200
#   vietstack-api --version                 exec to exit (runtime + package init)
# and prints, per row, the median clock, min, p90, and the medians of the
# server's minor page faults and CPU time at its first answer. On a
# virtual machine where a page fault costs tens of µs the faults explain
# most of the clock; they also vary much less with the machine's load.
#
# Env: VS_BIN (bin/vietstack-api), BARE_BIN (bin/bench-bare), N (21),
# ROUNDS (3: N is split over them), PORT (18180), WORK (/tmp/vs-bench-startup).
set -euo pipefail

VS_BIN="${VS_BIN:-bin/vietstack-api}"
BARE_BIN="${BARE_BIN:-bin/bench-bare}"
N="${N:-21}"
ROUNDS="${ROUNDS:-3}"
PORT="${PORT:-18180}"
WORK="${WORK:-/tmp/vs-bench-startup}"

say() { echo "bench-startup: $*" >&2; }
[ -x "$VS_BIN" ] || { say "$VS_BIN missing: make build"; exit 1; }
[ -x "$BARE_BIN" ] || { say "$BARE_BIN missing: go build -o $BARE_BIN ./bench/bare"; exit 1; }
mkdir -p "$WORK"
go build -o "$WORK/startup" ./bench/startup
SU="$WORK/startup"
URL="http://127.0.0.1:$PORT/"
per=$(((N + ROUNDS - 1) / ROUNDS))
: >"$WORK/runs.txt"

row() { # NAME ARGS... : one round of one row, run lines appended to runs.txt
  local name="$1"; shift
  "$SU" -n "$per" "$@" | sed -n "s/^run [0-9]*: /$name\t/p" >>"$WORK/runs.txt"
}
for ((r = 1; r <= ROUNDS; r++)); do
  row nova-like -url "$URL" -H 'X-Auth-Token: bench:bench' -- "$VS_BIN" --config-file etc/bench/nova-like.ini --bind-host 127.0.0.1 --bind-port "$PORT" --log-level warn
  row default -url "$URL" -- "$VS_BIN" --bind-host 127.0.0.1 --bind-port "$PORT" --log-level warn
  row bare -url "$URL" -- "$BARE_BIN" -addr "127.0.0.1:$PORT"
  row version -url "" -- "$VS_BIN" --version
done

# runs.txt: NAME \t "12.34 ms  567 faults  cpu 8.90 ms"
awk -F'\t' '
function median(a, k,   i, j, t, b) {
  for (i = 1; i <= k; i++) b[i] = a[i]
  for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
  return k % 2 ? b[(k + 1) / 2] : (b[k / 2] + b[k / 2 + 1]) / 2
}
function pct(a, k, p,   i, j, t, b) {
  for (i = 1; i <= k; i++) b[i] = a[i]
  for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
  i = int((k * p + 99) / 100); return b[i < 1 ? 1 : i]
}
{ split($2, f, " "); k = ++n[$1]; ms[$1, k] = f[1]; fl[$1, k] = f[3]; cpu[$1, k] = f[6]
  if (!($1 in seen)) { seen[$1] = 1; order[++rows] = $1 } }
END {
  print "| start-up | runs | median ms | min ms | p90 ms | faults | CPU ms |"
  print "|---|---:|---:|---:|---:|---:|---:|"
  for (r = 1; r <= rows; r++) {
    x = order[r]; k = n[x]
    delete a; for (i = 1; i <= k; i++) a[i] = ms[x, i]
    med = median(a, k); lo = pct(a, k, 0); p90 = pct(a, k, 90)
    delete a; for (i = 1; i <= k; i++) a[i] = fl[x, i]; F = median(a, k)
    delete a; for (i = 1; i <= k; i++) a[i] = cpu[x, i]; C = median(a, k)
    label = (x == "version") ? "vietstack-api --version (exec to exit)" : (x == "bare") ? "bench/bare (first 200)" : "vietstack-api " x " (first 200)"
    printf "| %s | %d | %.2f | %.2f | %.2f | %.0f | %.2f |\n", label, k, med, lo, p90, F, C
    M[x] = med
  }
  verdict = "NOT met"
  if (M["nova-like"] <= 10) verdict = "met"
  print ""
  printf "target: nova-like first 200 <= 10 ms: %s (%.2f ms; bare net/http %.2f ms here)\n", verdict, M["nova-like"], M["bare"]
}' "$WORK/runs.txt"
say "runs: $WORK/runs.txt"
