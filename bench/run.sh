#!/bin/sh
# Compare deskprov's per-device config GETs (10,000 registered phones of mixed
# families) with nginx serving one static file of the same size, in the same
# run on the same machine, loopback only. Bounded: each load run lasts DURATION.
#
#   bench/run.sh            # from the repository root
#   PHONES=10000 DURATION=10s THREADS=2 CONNS=64 ROUNDS=3 bench/run.sh
#   TLS=1 bench/run.sh      # HTTPS, one ECDSA P-256 certificate for both:
#                           # kept-alive (wrk), and a new connection per poll,
#                           # full handshakes and resumed ones (bench/pollload)
#   AUTH=basic bench/run.sh # nginx checks Basic too (auth_basic, the same users)
#   AUTH=digest bench/run.sh  # deskprov answered with Digest, nginx with Basic
#   FLOOR=0 bench/run.sh    # leave out the third server (bench/floor: Go's net/http
#                           # serving the same file and doing nothing else, the
#                           # floor of any net/http server; on by default, no auth)
set -eu
PHONES=${PHONES:-10000}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
TLS=${TLS:-0}
AUTH=${AUTH:-}
NEWCONNS=${NEWCONNS:-32}  # concurrent clients of the new-connection runs
TLSVER=${TLSVER:-1.2}     # what bench/pollload offers: 1.2 (the phones') or 1.3
CURVES=${CURVES:-p256}    # key exchange groups pollload offers: p256 (the phones') or x25519
DP_PORT=${DP_PORT:-18581}
NG_PORT=${NG_PORT:-18582}
FL_PORT=${FL_PORT:-18583}
FLOOR=${FLOOR:-1}
case "$AUTH" in ""|basic|digest) ;; *) echo "AUTH=$AUTH: give basic or digest" >&2; exit 2;; esac
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
go build -o "$work/pollload" ./bench/pollload
[ "$FLOOR" = 1 ] && go build -o "$work/floor" ./bench/floor

scheme=http; tlsflags=""; curlk=""; simflags=""; ngssl=""; ngtls=""
if [ "$TLS" = 1 ]; then
  # One ECDSA P-256 certificate, made here, for both servers.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
  chmod 644 "$work/key.pem"
  scheme=https; tlsflags="--tls-cert $work/cert.pem --tls-key $work/key.pem"; curlk=-k; simflags=-insecure; ngssl=" ssl"
  ngtls="ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem; ssl_protocols TLSv1.2 TLSv1.3;"
fi
# With AUTH every family is given credentials, so every poll carries them.
creds=""
[ -n "$AUTH" ] && creds=polycom,yealink,audiocodes
DP_URL=$scheme://127.0.0.1:$DP_PORT; NG_URL=$scheme://127.0.0.1:$NG_PORT; FL_URL=$scheme://127.0.0.1:$FL_PORT

DESKPROV_ADMIN_PASSWORD=bench-password-1 "$work/deskprov" serve ${DEBUG_LISTEN:+--debug-listen $DEBUG_LISTEN} --listen 127.0.0.1:$DP_PORT \
  --data-dir "$work/data" --public-url "$DP_URL" --log-level warn $tlsflags ${creds:+--phone-credentials $creds} >"$work/deskprov.log" 2>&1 &
dp_pid=$!
pids="$pids $!"
for i in $(seq 50); do curl $curlk -sf "$DP_URL/readyz" >/dev/null && break; sleep 0.2; done

echo "== registering $PHONES phones (first poll of each, ETags kept)"
"$work/phonesim" -server "$DP_URL" $simflags ${creds:+-phone-credentials $creds} -phones "$PHONES" -polls 1 -boot=false -concurrency 32 -etags "$work/targets.txt"

# The static file: the mean size of the bodies deskprov serves to these phones.
size=$(awk -F'\t' 'NR<=3{print $1 "\t" $3 "\t" $4}' "$work/targets.txt" | while IFS="$(printf '\t')" read -r p ua auth; do
    curl $curlk -s -A "$ua" -H "Authorization: $auth" "$DP_URL$p" | wc -c
  done | awk '{s+=$1} END{printf "%d", s/NR}')
mkdir -p "$work/www"
head -c "$size" /dev/urandom | base64 -w 76 | head -c "$size" >"$work/www/static.cfg"
ngauth=""
if [ -n "$AUTH" ]; then
  # nginx only does Basic: the same users and passwords, one salted hash each.
  "$work/pollload" -htpasswd -targets "$work/targets.txt" >"$work/htpasswd"
  chmod 644 "$work/htpasswd"
  ngauth="auth_basic \"deskprov\"; auth_basic_user_file $work/htpasswd;"
fi
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
    listen 127.0.0.1:$NG_PORT$ngssl;
    $ngtls
    $ngauth
    root $work/www;
    default_type text/plain;
  }
}
NGX
mkdir -p "$work/nginx-tmp"
nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' &
ng_pid=$!
pids="$pids $!"
sleep 0.5
auth1=$(awk -F'\t' 'NR==1{print $4}' "$work/targets.txt")
ng_etag=$(curl $curlk -sI -H "Authorization: $auth1" "$NG_URL/static.cfg" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
[ -n "$ng_etag" ] || { echo "nginx gave no ETag: see $work/nginx-error.log" >&2; cat "$work/nginx-error.log" >&2; exit 1; }
if [ -n "$AUTH" ]; then
  awk -F'\t' -v e="$ng_etag" '{print "/static.cfg\t" e "\t" $3 "\t" $4}' "$work/targets.txt" >"$work/nginx-targets.txt"
else
  awk -F'\t' -v e="$ng_etag" '{print "/static.cfg\t" e "\t" $3}' "$work/targets.txt" >"$work/nginx-targets.txt"
fi
if [ "$FLOOR" = 1 ]; then
  "$work/floor" -listen 127.0.0.1:$FL_PORT -file "$work/www/static.cfg" \
    ${tlsflags:+-tls-cert $work/cert.pem -tls-key $work/key.pem} 2>"$work/floor.log" &
  fl_pid=$!
  pids="$pids $!"
  for i in $(seq 50); do curl $curlk -sf -o /dev/null "$FL_URL/static.cfg" && break; sleep 0.1; done
  fl_etag=$(curl $curlk -sI "$FL_URL/static.cfg" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
  [ -n "$fl_etag" ] || { echo "bench/floor gave no ETag: see $work/floor.log" >&2; exit 1; }
  # The floor checks no credentials: its targets carry none.
  awk -F'\t' -v e="$fl_etag" '{print "/static.cfg\t" e "\t" $3}' "$work/targets.txt" >"$work/floor-targets.txt"
fi
echo "== static file $size bytes; nginx ETag $ng_etag; TLS=$TLS AUTH=${AUTH:-none (deskprov checks Basic, nginx nothing)}"

# CPU time (user+system, seconds) so far of deskprov, or of nginx's workers.
# Divided by the requests of a run it gives CPU per request, which moves far
# less than req/s when other work on the machine takes the cores.
cpu_of() {
  case $1 in dp) list=$dp_pid;; fl) list=$fl_pid;; *) list=$(pgrep -P "$ng_pid" | tr '\n' ' ');; esac
  for p in $list; do cat "/proc/$p/stat"; done | awk -v t="$(getconf CLK_TCK)" '{s+=$14+$15} END{print s/t}'; }
# measure CASE WHO CMD…: runs one load run, appends its req/s to CASE.WHO and
# the CPU µs per request of WHO (dp or ng) to CASE.WHO.cpu.
measure() { case_=$1; who=$2; shift 2
  c0=$(cpu_of "$who")
  "$@" | tee "$work/last.txt" >&2
  if grep -q -e 'Non-2xx' -e 'Not resumed' "$work/last.txt"; then echo "errors in the run above" >&2; exit 1; fi
  awk -v c0="$c0" -v c1="$(cpu_of "$who")" '/ requests in /{printf "%.1f\n", (c1-c0)*1e6/$1}' "$work/last.txt" >>"$work/$case_.$who.cpu"
  awk '/^Requests\/sec/{print $2}' "$work/last.txt" >>"$work/$case_.$who"; }
wrk_run() { BENCH_TARGETS=$1 BENCH_MODE=$2 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$here/targets.lua" "$3"; }
ll() { t=$1; a=$2; shift 2; "$work/pollload" -targets "$t" -addr "$a" -d "$DURATION" -curves "$CURVES" -tls "$([ "$TLS" = 1 ] && echo "$TLSVER" || echo none)" "$@"; }

# The cases of this mode: name, then how each server is loaded.
cases=""
if [ "$AUTH" = digest ]; then
  # Digest answers cannot be replayed from a wrk script: bench/pollload
  # answers each challenge, kept-alive, against nginx with Basic.
  cases="digest-200 digest-304"
else
  cases="keepalive-200 keepalive-304"
fi
[ "$TLS" = 1 ] && cases="$cases newconn-full newconn-resumed"
one() { # one CASE WHO
  case $2 in
    dp) t="$work/targets.txt"; a=127.0.0.1:$DP_PORT; u=$DP_URL; da=digest;;
    ng) t="$work/nginx-targets.txt"; a=127.0.0.1:$NG_PORT; u=$NG_URL; da=basic;;
    fl) t="$work/floor-targets.txt"; a=127.0.0.1:$FL_PORT; u=$FL_URL; da=none;;
  esac
  # Polls on new connections send the phone's If-None-Match: an hourly poll
  # mostly finds its file unchanged.
  case $1 in
    keepalive-200) measure "$1" "$2" wrk_run "$t" 200 "$u";;
    keepalive-304) measure "$1" "$2" wrk_run "$t" 304 "$u";;
    digest-200)    measure "$1" "$2" ll "$t" "$a" -c "$CONNS" -new=false -mode 200 -auth $da;;
    digest-304)    measure "$1" "$2" ll "$t" "$a" -c "$CONNS" -new=false -mode 304 -auth $da;;
    newconn-full)    measure "$1" "$2" ll "$t" "$a" -c "$NEWCONNS" -mode 304 -auth "$([ "$AUTH" = digest ] && echo $da || echo basic)";;
    newconn-resumed) measure "$1" "$2" ll "$t" "$a" -c "$NEWCONNS" -mode 304 -resume -auth "$([ "$AUTH" = digest ] && echo $da || echo basic)";;
  esac; }

# ROUNDS alternating runs of each (deskprov, nginx, deskprov, …): this machine's
# throughput swings by a fifth from one run to the next, so each figure is the
# median of its rounds and the ratio is the ratio of medians.
median() { sort -n | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$ROUNDS"); do
  for c in $cases; do
    echo "== round $r/$ROUNDS: deskprov $c (load $(cut -d' ' -f1 /proc/loadavg))"; one "$c" dp
    echo "== round $r/$ROUNDS: nginx $c";    one "$c" ng
    if [ "$FLOOR" = 1 ]; then echo "== round $r/$ROUNDS: floor $c"; one "$c" fl; fi
  done
done
peak=$(awk '/VmHWM/{print $2}' /proc/$dp_pid/status 2>/dev/null || echo "?")

echo
echo "TLS=$TLS (pollload: TLS $TLSVER, $CURVES) AUTH=${AUTH:-none} PHONES=$PHONES DURATION=$DURATION ROUNDS=$ROUNDS CONNS=$CONNS NEWCONNS=$NEWCONNS"
echo "load average (1, 5, 15 min): $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(nproc) CPUs"
printf '%-16s %12s %12s %6s %14s %14s' case deskprov/s nginx/s ratio "dp µs/req" "ng µs/req"
[ "$FLOOR" = 1 ] && printf ' %12s %8s %14s' floor/s "fl ratio" "fl µs/req"
echo
for c in $cases; do
  d=$(median <"$work/$c.dp"); n=$(median <"$work/$c.ng")
  printf '%-16s %12s %12s %6.2f %14s %14s' "$c" "$d" "$n" "$(echo "$d $n" | awk '{print $1/$2}')" \
    "$(median <"$work/$c.dp.cpu")" "$(median <"$work/$c.ng.cpu")"
  if [ "$FLOOR" = 1 ]; then
    f=$(median <"$work/$c.fl")
    # fl ratio: the floor's req/s over nginx's, the best a net/http server could reach here.
    printf ' %12s %8.2f %14s' "$f" "$(echo "$f $n" | awk '{print $1/$2}')" "$(median <"$work/$c.fl.cpu")"
  fi
  echo
  echo "    rounds req/s: deskprov $(tr '\n' ' ' <"$work/$c.dp")| nginx $(tr '\n' ' ' <"$work/$c.ng")${fl_pid:+| floor $(tr '\n' ' ' <"$work/$c.fl")}"
  echo "    rounds µs/req: deskprov $(tr '\n' ' ' <"$work/$c.dp.cpu")| nginx $(tr '\n' ' ' <"$work/$c.ng.cpu")${fl_pid:+| floor $(tr '\n' ' ' <"$work/$c.fl.cpu")}"
done
echo "deskprov peak RSS: ${peak} kB"
