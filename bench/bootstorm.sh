#!/bin/sh
# Boot storm: PHONES phones (a third each Polycom VVX 500, Yealink T46G,
# AudioCodes 440HD) walk their whole boot sequence against a fresh deskprov,
# CONC at once, then poll once (cmd/phonesim). Prints phonesim's summary
# (duration, answers by status, any answer a phone would not accept) and
# deskprov's own count of /prov answers by status, 401 challenges included.
# Loopback only; bounded by the phones' work (about a minute for 10,000).
#
#   bench/bootstorm.sh                             # SQLite in a temporary data dir
#   PHONES=10000 CONC=256 bench/bootstorm.sh
#   DB='postgres://user@host:5432/emptydb?sslmode=disable' bench/bootstorm.sh
#       # an empty database of your own: deskprov creates its tables there,
#       # and leaves them (drop the database afterwards)
#   DESKPROV_BIN=/path/deskprov PHONESIM_BIN=/path/phonesim bench/bootstorm.sh
#   DEBUG_LISTEN=127.0.0.1:6060 bench/bootstorm.sh  # deskprov serves pprof there while it runs
set -eu
PHONES=${PHONES:-10000}
CONC=${CONC:-256}
DP_PORT=${DP_PORT:-18591}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/deskprov-storm.XXXXXX)
dp_pid=""
cleanup() { [ -n "$dp_pid" ] && kill "$dp_pid" 2>/dev/null; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT INT TERM

cd "$here/.."
if [ -n "${DESKPROV_BIN:-}" ]; then cp "$DESKPROV_BIN" "$work/deskprov"; else go build -o "$work/deskprov" ./cmd/deskprov; fi
if [ -n "${PHONESIM_BIN:-}" ]; then cp "$PHONESIM_BIN" "$work/phonesim"; else go build -o "$work/phonesim" ./cmd/phonesim; fi

set --
if [ -n "${DB:-}" ]; then
  # PostgreSQL needs a key file; a throwaway one fits a throwaway database.
  (umask 077; head -c 32 /dev/urandom >"$work/secret.key")
  set -- --db "$DB" --secret-key-file "$work/secret.key"
fi
DESKPROV_ADMIN_PASSWORD=bench-password-1 "$work/deskprov" serve ${DEBUG_LISTEN:+--debug-listen $DEBUG_LISTEN} --listen 127.0.0.1:$DP_PORT \
  --data-dir "$work/data" --public-url http://127.0.0.1:$DP_PORT --log-level warn "$@" >"$work/deskprov.log" 2>&1 &
dp_pid=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:$DP_PORT/readyz >/dev/null && break; sleep 0.2; done
echo "== $(curl -s http://127.0.0.1:$DP_PORT/readyz)"
echo "== boot storm: $PHONES phones, $CONC at once"
rc=0
"$work/phonesim" -server http://127.0.0.1:$DP_PORT -phones "$PHONES" -polls 1 -concurrency "$CONC" || rc=$?
echo "== deskprov's answers under /prov/ by status:"
curl -s http://127.0.0.1:$DP_PORT/metrics | awk '/^deskprov_http_requests_total/ && /route="\/prov/ {print "  " $0}'
echo "deskprov peak RSS: $(awk '/VmHWM/{print $2}' /proc/$dp_pid/status 2>/dev/null || echo '?') kB," \
  "CPU time: $(awk -v t="$(getconf CLK_TCK)" '{printf "%.1f", ($14+$15)/t}' /proc/$dp_pid/stat 2>/dev/null || echo '?') s"
if grep -q -E 'level=(WARN|ERROR)' "$work/deskprov.log"; then
  echo "== deskprov warnings:"; grep -E 'level=(WARN|ERROR)' "$work/deskprov.log" | head -20
fi
exit $rc
