#!/bin/sh
# Compare deskprov's per-device config GETs (10,000 registered phones of mixed
# families) with nginx serving one static file of the same size, in the same
# run on the same machine, loopback only. Bounded: each wrk run lasts DURATION.
#
#   bench/run.sh            # from the repository root
#   PHONES=10000 DURATION=10s THREADS=2 CONNS=64 ROUNDS=3 bench/run.sh
set -eu
PHONES=${PHONES:-10000}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
DP_PORT=${DP_PORT:-18581}
NG_PORT=${NG_PORT:-18582}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/deskprov-bench.XXXXXX)
chmod 755 "$work"  # nginx workers may run as another user
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT INT TERM

cd "$here/.."
# DESKPROV_BIN / PHONESIM_BIN use prebuilt binaries instead of building.
if [ -n "${DESKPROV_BIN:-}" ]; then cp "$DESKPROV_BIN" "$work/deskprov"; else go build -o "$work/deskprov" ./cmd/deskprov; fi
if [ -n "${PHONESIM_BIN:-}" ]; then cp "$PHONESIM_BIN" "$work/phonesim"; else go build -o "$work/phonesim" ./cmd/phonesim; fi

DESKPROV_ADMIN_PASSWORD=bench-password-1 "$work/deskprov" serve ${DEBUG_LISTEN:+--debug-listen $DEBUG_LISTEN} --listen 127.0.0.1:$DP_PORT \
  --data-dir "$work/data" --public-url http://127.0.0.1:$DP_PORT --log-level warn >"$work/deskprov.log" 2>&1 &
dp_pid=$!
pids="$pids $!"
for i in $(seq 50); do curl -sf http://127.0.0.1:$DP_PORT/readyz >/dev/null && break; sleep 0.2; done

echo "== registering $PHONES phones (first poll of each, ETags kept)"
"$work/phonesim" -server http://127.0.0.1:$DP_PORT -phones "$PHONES" -polls 1 -boot=false -concurrency 32 -etags "$work/targets.txt"

# The static file: the mean size of the bodies deskprov serves to these phones.
size=$(awk -F'\t' 'NR<=3{print $1 "\t" $3 "\t" $4}' "$work/targets.txt" | while IFS="$(printf '\t')" read -r p ua auth; do
    curl -s -A "$ua" -H "Authorization: $auth" "http://127.0.0.1:$DP_PORT$p" | wc -c
  done | awk '{s+=$1} END{printf "%d", s/NR}')
mkdir -p "$work/www"
head -c "$size" /dev/urandom | base64 -w 76 | head -c "$size" >"$work/www/static.cfg"
cat >"$work/nginx.conf" <<NGX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NG_PORT;
    root $work/www;
    default_type text/plain;
  }
}
NGX
mkdir -p "$work/nginx-tmp"
nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' &
pids="$pids $!"
sleep 0.5
ng_etag=$(curl -sI http://127.0.0.1:$NG_PORT/static.cfg | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
awk -F'\t' -v e="$ng_etag" '{print "/static.cfg\t" e "\t" $3}' "$work/targets.txt" >"$work/nginx-targets.txt"
echo "== static file $size bytes; nginx ETag $ng_etag"

# deskprov's CPU time (user+system, seconds) so far. Divided by the requests of a
# run it gives CPU per request, which moves far less than req/s when other work
# on the machine takes the cores: two builds can be compared on a busy host.
dp_cpu() { awk -v t="$(getconf CLK_TCK)" '{print ($14+$15)/t}' "/proc/$dp_pid/stat"; }
# rps TARGETS MODE URL [CPUFILE]: prints req/s; with CPUFILE, appends deskprov's
# CPU microseconds per request of this run to it.
rps() { c0=$(dp_cpu)
  BENCH_TARGETS=$1 BENCH_MODE=$2 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$here/targets.lua" "$3" | tee "$work/last.txt" >&2
  grep -q 'Non-2xx' "$work/last.txt" && { echo "errors in the run above" >&2; exit 1; }
  if [ -n "${4:-}" ]; then
    awk -v c0="$c0" -v c1="$(dp_cpu)" '/ requests in /{printf "%.1f\n", (c1-c0)*1e6/$1}' "$work/last.txt" >>"$4"
  fi
  awk '/^Requests\/sec/{print $2}' "$work/last.txt"; }

# ROUNDS alternating runs of each (deskprov, nginx, deskprov, …): this machine's
# throughput swings by a fifth from one run to the next, so each figure is the
# median of its rounds and the ratio is the ratio of medians.
median() { sort -n | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
: >"$work/d200"; : >"$work/n200"; : >"$work/d304"; : >"$work/n304"; : >"$work/c200"; : >"$work/c304"
for r in $(seq "$ROUNDS"); do
  echo "== round $r/$ROUNDS: deskprov 200"; rps "$work/targets.txt" 200 http://127.0.0.1:$DP_PORT "$work/c200" >>"$work/d200"
  echo "== round $r/$ROUNDS: nginx 200";    rps "$work/nginx-targets.txt" 200 http://127.0.0.1:$NG_PORT >>"$work/n200"
  echo "== round $r/$ROUNDS: deskprov 304"; rps "$work/targets.txt" 304 http://127.0.0.1:$DP_PORT "$work/c304" >>"$work/d304"
  echo "== round $r/$ROUNDS: nginx 304";    rps "$work/nginx-targets.txt" 304 http://127.0.0.1:$NG_PORT >>"$work/n304"
done
d200=$(median <"$work/d200"); n200=$(median <"$work/n200")
d304=$(median <"$work/d304"); n304=$(median <"$work/n304")
peak=$(awk '/VmHWM/{print $2}' /proc/$dp_pid/status 2>/dev/null || echo "?")

echo
echo "each round (req/s): deskprov 200: $(tr '\n' ' ' <"$work/d200")| nginx 200: $(tr '\n' ' ' <"$work/n200")"
echo "                    deskprov 304: $(tr '\n' ' ' <"$work/d304")| nginx 304: $(tr '\n' ' ' <"$work/n304")"
printf 'path  deskprov req/s (median)  nginx req/s (median)  ratio\n'
printf '200   %s  %s  %.2f\n' "$d200" "$n200" "$(echo "$d200 $n200" | awk '{print $1/$2}')"
printf '304   %s  %s  %.2f\n' "$d304" "$n304" "$(echo "$d304 $n304" | awk '{print $1/$2}')"
echo "deskprov CPU per request (µs, median): 200 $(median <"$work/c200"), 304 $(median <"$work/c304")" \
  "(each round: $(tr '\n' ' ' <"$work/c200")| $(tr '\n' ' ' <"$work/c304"))"
echo "deskprov peak RSS: ${peak} kB"
