#!/bin/sh
# Boot storm: PHONES phones of every family phonesim plays (Polycom VVX,
# Yealink T4x, AudioCodes 4xx HD, and every fourth a Lync Phone Edition
# device), each with its own provisioning credentials, walk their whole boot
# sequence against a fresh deskprov, CONC at once, then poll once
# (cmd/phonesim). Prints phonesim's summary (duration, answers by status,
# any answer a phone would not accept), deskprov's own count of /prov
# answers by status (401 challenges included), its peak RSS and CPU time,
# the database's size, and the load average before and after.
# Loopback only; bounded by TIMEOUT (default 3600 s).
#
#   bench/bootstorm.sh                             # SQLite in a temporary data dir
#   PHONES=100000 CONC=256 bench/bootstorm.sh
#   PG='postgres://postgres@127.0.0.1:55500/postgres?sslmode=disable' bench/bootstorm.sh
#       # a server you may create databases on: the run creates a fresh
#       # database there (deskprov_storm_<pid>) and drops it afterwards
#   DB='postgres://user@host:5432/emptydb?sslmode=disable' bench/bootstorm.sh
#       # an empty database of your own: deskprov creates its tables there,
#       # and leaves them (drop the database afterwards)
#   DESKPROV_BIN=/path/deskprov PHONESIM_BIN=/path/phonesim bench/bootstorm.sh
#   DEBUG_LISTEN=127.0.0.1:6060 bench/bootstorm.sh  # deskprov serves pprof there while it runs
set -eu
PHONES=${PHONES:-10000}
CONC=${CONC:-256}
TIMEOUT=${TIMEOUT:-3600}
DP_PORT=${DP_PORT:-18591}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/deskprov-storm.XXXXXX)
dp_pid=""
pgdb=""
cleanup() {
  [ -n "$dp_pid" ] && kill "$dp_pid" 2>/dev/null; sleep 0.5
  # deskprov is gone (its connections with it) before its database is dropped.
  [ -n "$pgdb" ] && psql -q "$PG" -c "DROP DATABASE IF EXISTS $pgdb" >/dev/null
  rm -rf "$work"; }
trap cleanup EXIT INT TERM

cd "$here/.."
if [ -n "${DESKPROV_BIN:-}" ]; then cp "$DESKPROV_BIN" "$work/deskprov"; else go build -o "$work/deskprov" ./cmd/deskprov; fi
if [ -n "${PHONESIM_BIN:-}" ]; then cp "$PHONESIM_BIN" "$work/phonesim"; else go build -o "$work/phonesim" ./cmd/phonesim; fi

if [ -n "${PG:-}" ]; then
  pgdb=deskprov_storm_$$
  psql -q "$PG" -c "CREATE DATABASE $pgdb" >/dev/null
  # The same server and options, the new database.
  DB=$(printf '%s' "$PG" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$pgdb#")
fi
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
echo "== boot storm: $PHONES phones, $CONC at once; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
t0=$(date +%s.%N)
timeout "$TIMEOUT" "$work/phonesim" -server http://127.0.0.1:$DP_PORT -phones "$PHONES" -polls 1 -concurrency "$CONC" || rc=$?
t1=$(date +%s.%N)
[ "$rc" = 124 ] && echo "== stopped after TIMEOUT=$TIMEOUT s"
echo "== phonesim exit status $rc (0: every answer was what a phone expects; 1: some were not, listed above)"
echo "== storm took $(echo "$t0 $t1" | awk '{printf "%.1f", $2-$1}') s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== deskprov's answers under /prov/ by status:"
curl -s http://127.0.0.1:$DP_PORT/metrics | awk '/^deskprov_http_requests_total/ && /route="\/prov/ {print "  " $0}'
echo "deskprov peak RSS: $(awk '/VmHWM/{print $2}' /proc/$dp_pid/status 2>/dev/null || echo '?') kB," \
  "CPU time: $(awk -v t="$(getconf CLK_TCK)" '{printf "%.1f", ($14+$15)/t}' /proc/$dp_pid/stat 2>/dev/null || echo '?') s"
# The sightings of the last seconds are written within --inventory-flush
# (5 s): wait for them before measuring the database.
sleep 6
if [ -n "${DB:-}" ]; then
  echo "database size: $(psql -tA "$DB" -c 'SELECT pg_database_size(current_database())') bytes (pg_database_size)"
else
  echo "database size: $(cat "$work/data"/deskprov.db* | wc -c) bytes (deskprov.db with its -wal and -shm;" \
    "deskprov.db alone $(wc -c <"$work/data/deskprov.db"))"
fi
if grep -q -E 'level=(WARN|ERROR)' "$work/deskprov.log"; then
  echo "== deskprov warnings:"; grep -E 'level=(WARN|ERROR)' "$work/deskprov.log" | head -20
fi
exit $rc
