#!/bin/sh
# What one deskprov costs as the fleet grows (issue 16 item 7): registers
# SMALL phones, measures deskprov's RSS and its config-poll throughput, then
# registers up to PHONES phones on the same server and measures again. The
# goal at 1,000,000 phones: RSS under 1 GB, polls within 1.5x of the SMALL
# figure. Loopback only; NOT run in CI (it takes an hour at a million).
#
#   bench/million.sh                                  # 10,000 then 1,000,000 phones
#   PHONES=200000 bench/million.sh                    # a smaller second step
#   CACHE_SIZE=512MiB DURATION=10s bench/million.sh   # deskprov --cache-size, wrk run length
#   DB='postgres://user@host:5432/emptydb?sslmode=disable' bench/million.sh
#   DESKPROV_BIN=… PHONESIM_BIN=… bench/million.sh    # prebuilt binaries
#   SAVE=/var/tmp/m1 bench/million.sh                 # keep the registered fleet (SQLite only)
#   FROM=/var/tmp/m1 bench/million.sh                 # start from it: no registration
#   DEBUG_LISTEN=127.0.0.1:6060 bench/million.sh      # deskprov --debug-listen (pprof)
#
# SAVE keeps, after the last step, the stopped server's data directory and the
# phones' credentials and targets. FROM starts a server on a copy of them:
# the SMALL step is skipped, and the PHONES step polls every saved phone once
# with its credentials (phones that reboot into a restarted server; the
# server learns each one again from the store) before wrk measures. A FROM
# run measures a restarted server; the figures of a fleet registered in the
# same process are the ones without it.
#
# Bounded: each phonesim step stops after STEP_TIMEOUT (default 90m), each
# wrk run lasts DURATION. Phones register as phonesim -boot=false does: the
# file that issues each its credentials, then two polls of its main file (the
# first poll after enrolment writes the enrolment and firmware rows, so the
# second is the one a settled phone makes: what wrk measures is the steady
# state, not each phone's one-time first poll). The
# second step reuses the first step's phones and their credentials
# (-credentials) and adds the rest. wrk then polls random phones among all
# registered (their main file, Basic with the phone's credentials, 200).
set -eu
SMALL=${SMALL:-10000}
PHONES=${PHONES:-1000000}
CONC=${CONC:-64}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
CACHE_SIZE=${CACHE_SIZE:-}
STEP_TIMEOUT=${STEP_TIMEOUT:-90m}
DP_PORT=${DP_PORT:-18592}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/deskprov-million.XXXXXX)
dp_pid=""
cleanup() { [ -n "$dp_pid" ] && kill "$dp_pid" 2>/dev/null; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT INT TERM

cd "$here/.."
if [ -n "${DESKPROV_BIN:-}" ]; then cp "$DESKPROV_BIN" "$work/deskprov"; else go build -o "$work/deskprov" ./cmd/deskprov; fi
if [ -n "${PHONESIM_BIN:-}" ]; then cp "$PHONESIM_BIN" "$work/phonesim"; else go build -o "$work/phonesim" ./cmd/phonesim; fi

set --
if [ -n "${DB:-}" ]; then
  (umask 077; head -c 32 /dev/urandom >"$work/secret.key")
  set -- --db "$DB" --secret-key-file "$work/secret.key"
fi
[ -n "$CACHE_SIZE" ] && set -- "$@" --cache-size "$CACHE_SIZE"
[ -n "${DEBUG_LISTEN:-}" ] && set -- "$@" --debug-listen "$DEBUG_LISTEN"
if [ -n "${FROM:-}" ]; then
  [ -z "${DB:-}" ] || { echo "FROM works with SQLite only"; exit 2; }
  cp -r "$FROM/data" "$work/data" && cp "$FROM/creds.txt" "$FROM/targets.txt" "$work/"
fi
DESKPROV_ADMIN_PASSWORD=bench-password-1 "$work/deskprov" serve --listen 127.0.0.1:$DP_PORT \
  --data-dir "$work/data" --public-url http://127.0.0.1:$DP_PORT --log-level warn "$@" >"$work/deskprov.log" 2>&1 &
dp_pid=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:$DP_PORT/readyz >/dev/null && break; sleep 0.2; done

rss() { awk '/VmRSS/{r=$2} /VmHWM/{h=$2} END{printf "RSS %d MiB (peak %d MiB)", r/1024, h/1024}' /proc/$dp_pid/status; }
cpu() { pcpu "$dp_pid"; }
pcpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/t}' /proc/$1/stat 2>/dev/null; }

step() { # step N: register phones up to N, then poll
  n=$1
  echo "== $n phones: registering (load $(cut -d' ' -f1-3 /proc/loadavg))"
  t0=$(date +%s.%N)
  timeout "$STEP_TIMEOUT" "$work/phonesim" -server http://127.0.0.1:$DP_PORT -boot=false -phones "$n" -polls "${polls:-2}" \
    -concurrency "$CONC" -credentials "$work/creds.txt" -etags "$work/targets.txt" >"$work/phonesim.txt" 2>&1 ||
    { echo "phonesim failed or timed out:"; tail -20 "$work/phonesim.txt"; exit 1; }
  t1=$(date +%s.%N)
  tail -3 "$work/phonesim.txt"
  awk -v a="$t0" -v b="$t1" -v n="$n" -v p="${prev:-0}" 'BEGIN{printf "registered %d new phones in %.1f s: %.0f phones/s\n", n-p, b-a, (n-p)/(b-a)}'
  prev=$n
  echo "deskprov after registering: $(rss), CPU $(cpu) s"
  # wrk formats each target's request once as it loads (BENCH_PREFORMAT) and
  # starts polling once every thread has loaded (BENCH_READY); deskprov's and
  # wrk's CPU are read from then to the end of the run.
  rm -f "$work/ready"
  BENCH_TARGETS="$work/targets.txt" BENCH_MODE=200 BENCH_PREFORMAT=1 BENCH_READY="$work/ready" BENCH_THREADS="$THREADS" \
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$here/targets.lua" http://127.0.0.1:$DP_PORT >"$work/wrk.txt" 2>&1 &
  wrk_pid=$!
  until [ -f "$work/ready" ] && [ "$(wc -l <"$work/ready")" -ge "$THREADS" ] || ! kill -0 "$wrk_pid" 2>/dev/null; do sleep 0.05; done
  c0=$(cpu) w0=$(pcpu "$wrk_pid")
  w1=$w0
  while kill -0 "$wrk_pid" 2>/dev/null; do w=$(pcpu "$wrk_pid") && [ -n "$w" ] && w1=$w; sleep 0.2; done
  wait "$wrk_pid" || { echo "wrk failed:"; cat "$work/wrk.txt"; exit 1; }
  c1=$(cpu)
  if grep -q "Non-2xx" "$work/wrk.txt"; then echo "wrk saw errors:"; cat "$work/wrk.txt"; exit 1; fi
  reqs=$(awk '/requests in/{print $1}' "$work/wrk.txt")
  awk -v n="$n" -v r="$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt")" -v q="$reqs" -v a="$c0" -v b="$c1" -v x="$w0" -v y="$w1" \
    'BEGIN{printf "polls over %d phones: %.0f req/s, %.1f µs CPU per poll (wrk: %.1f µs)\n", n, r, (b-a)*1e6/q, (y-x)*1e6/q}'
  echo "deskprov after polling: $(rss) (load $(cut -d' ' -f1-3 /proc/loadavg))"
  kib=$(awk '/VmRSS/{print $2}' /proc/$dp_pid/status)
  if [ -n "${prev_kib:-}" ] && [ "$n" -gt "$prev_n" ]; then
    # What each phone past the first step added to the process: flat once
    # the caches are full (--cache-size bounds them), whatever the fleet.
    awk -v a="$prev_kib" -v b="$kib" -v p="$prev_n" -v n="$n" 'BEGIN{printf "RSS grew %.0f bytes per phone from %d to %d phones\n", (b-a)*1024/(n-p), p, n}'
  fi
  prev_kib=$kib prev_n=$n
}

prev=0
if [ -n "${FROM:-}" ]; then
  prev=$(wc -l <"$work/creds.txt")
  echo "== from $FROM: a saved fleet; each phone polls once first"; polls=1
  prev=0
else
  step "$SMALL"
fi
step "$PHONES"
if [ -n "${SAVE:-}" ]; then
  [ -z "${DB:-}" ] || { echo "SAVE works with SQLite only"; exit 2; }
  kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true; dp_pid=""
  rm -rf "$SAVE" && mkdir -p "$SAVE" && cp -r "$work/data" "$SAVE/data" && cp "$work/creds.txt" "$work/targets.txt" "$SAVE/"
  echo "== saved the registered fleet in $SAVE"
fi
if grep -q -E 'level=(WARN|ERROR)' "$work/deskprov.log"; then
  echo "== deskprov warnings:"; grep -E 'level=(WARN|ERROR)' "$work/deskprov.log" | sort | uniq -c | head -20
fi
