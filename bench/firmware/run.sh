#!/usr/bin/env bash
# Firmware delivery benchmark: a 100 MB image fetched by 4 and by 200
# concurrent clients from deskprov and from nginx serving the same file, one
# server at a time, each run bounded by DURATION (default 8s). Prints the
# throughput of both, their ratio, and deskprov's peak RSS (VmHWM).
# Needs nginx on PATH. Usage: [ROUNDS=3] [DB=postgres://…] bench/firmware/run.sh [DURATION]
# With DB set, deskprov keeps the image in that PostgreSQL (--blob-store db,
# the default there) and serves it from its local cache: give it an empty
# schema of its own (…?search_path=bench_fw).
# DEBUG_LISTEN=127.0.0.1:6060 has deskprov serve pprof there while it runs;
# DESKPROV_BIN=/path/deskprov uses a prebuilt binary instead of building.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-8s}
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d)
DPID= NPID=
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null || true
	[ -n "$NPID" ] && kill "$NPID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${DESKPROV_BIN:-}" ]; then cp "$DESKPROV_BIN" "$WORK/deskprov"; else go build -o "$WORK/deskprov" ./cmd/deskprov; fi
go build -o "$WORK/load" ./bench/firmware/load
IMG=T46-28.83.0.120.rom
head -c 104857600 /dev/urandom >"$WORK/$IMG"

DPORT=${DPORT:-18481} NPORT=${NPORT:-18482}
STORE=()
if [ -n "${DB:-}" ]; then
	head -c 32 /dev/urandom >"$WORK/bench.key"
	STORE=(--db "$DB" --secret-key-file "$WORK/bench.key")
fi
DESKPROV_ADMIN_PASSWORD=bench-password "$WORK/deskprov" serve ${DEBUG_LISTEN:+--debug-listen $DEBUG_LISTEN} --listen 127.0.0.1:$DPORT \
	--data-dir "$WORK/data" --log-level warn --firmware-max-downloads 256 --phone-credentials none "${STORE[@]}" >"$WORK/serve.log" 2>&1 &
DPID=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$DPORT/healthz >/dev/null && break; sleep 0.2; done
export DESKPROV_CONFIG="$WORK/cli.json"
"$WORK/deskprov" login --server http://127.0.0.1:$DPORT --username admin --password bench-password >/dev/null
"$WORK/deskprov" firmware import "$WORK/$IMG" >/dev/null 2>&1
# An image is served only to a phone it is offered to: approve it and let
# one T46G on an older version poll, so the image is offered to a phone.
"$WORK/deskprov" firmware approve 1 >/dev/null
curl -sf -A "Yealink SIP-T46G 28.83.0.100 00:15:65:00:00:01" http://127.0.0.1:$DPORT/prov/001565000001.cfg | grep -q "$IMG"

mkdir -p "$WORK/www" "$WORK/nginx"
# nginx serves the very file deskprov serves (a hard link to the stored image,
# so the same inode and the same page-cache pages): a copy made another way
# can sit in the page cache in larger pages and be sent faster.
SHA=$(sha256sum "$WORK/$IMG" | cut -d' ' -f1)
# Where deskprov keeps it: the blob directory (SQLite), its cache of the
# database's copy (PostgreSQL), or the firmware directory (before the blob
# store).
for f in "$WORK/data/blobs/$SHA" "$WORK/data/blobcache/$SHA" "$WORK/data/firmware/$SHA"; do
	[ -f "$f" ] && { ln "$f" "$WORK/www/$IMG"; break; }
done
# nginx workers may run as another user (nobody when started as root).
chmod 755 "$WORK" "$WORK/www" && chmod 644 "$WORK/www/$IMG"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $WORK/nginx;
	proxy_temp_path $WORK/nginx;
	fastcgi_temp_path $WORK/nginx;
	uwsgi_temp_path $WORK/nginx;
	scgi_temp_path $WORK/nginx;
	server { listen 127.0.0.1:$NPORT; root $WORK/www; }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NPID=$!
sleep 0.5

# ROUNDS rounds per client count, alternating which server goes first (the
# second run of a pair was seen to gain or lose up to a fifth on this shared
# machine); each figure is the median of its rounds.
median() { sort -n | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mbps() { sed 's/.*MBps=\([0-9.]*\).*/\1/'; }
for c in ${CLIENTS:-4 200}; do
	: >"$WORK/n$c"; : >"$WORK/d$c"
	for r in $(seq "$ROUNDS"); do
		if [ $((r % 2)) = 1 ]; then order="n d"; else order="d n"; fi
		for who in $order; do
			if [ "$who" = n ]; then out=$("$WORK/load" -url http://127.0.0.1:$NPORT/$IMG -c $c -d "$DUR"); echo "nginx    $out"
			else out=$("$WORK/load" -url http://127.0.0.1:$DPORT/prov/$IMG -c $c -d "$DUR"); echo "deskprov $out"; fi
			mbps <<<"$out" >>"$WORK/$who$c"
		done
	done
	nm=$(median <"$WORK/n$c"); dm=$(median <"$WORK/d$c")
	awk -v d="$dm" -v n="$nm" -v c="$c" 'BEGIN { printf "clients=%d median MB/s deskprov %.0f nginx %.0f ratio deskprov/nginx = %.2f\n", c, d, n, d / n }'
done
echo "deskprov peak RSS: $(grep VmHWM /proc/$DPID/status | awk '{printf "%.1f MiB", $2/1024}')"
