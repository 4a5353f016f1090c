#!/usr/bin/env bash
# SQLite vs PostgreSQL metadata, same binary, same machine, same run (issue 17's figures):
# starts a throwaway PostgreSQL (initdb into a temp dir, a unix socket only, fsync ON —
# the durability a real deployment has — as the `postgres` user when root) and two
# servers, one per metadata backend, then runs bench/pg_bench.py against both, the order
# swapped every round.
#
#   bench/pg.sh [BIN] [ROUNDS]     (defaults: target/release/silent-nas, 2 rounds;
#                                    LARGE_MIB=256 sets the large file's size;
#                                    CACHE_AB=1: four servers, each backend with and
#                                    without the read cache, and no statement count)
#
# Prints the table of bench/pg_bench.py (p50/p99 latencies in ms, throughput in MB/s, and
# PostgreSQL / SQLite ratios).
set -euo pipefail
BIN=${1:-target/release/silent-nas} ROUNDS=${2:-2}
BIN=$(realpath "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
PW=bench-password-1
work=$(mktemp -d /tmp/nas-pgbench.XXXXXX)
chmod 755 "$work" # the postgres user goes through it
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    local p
    for p in $(cat "$work/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m fast stop > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work/pg"
(cd /tmp && as_pg "$pgbin/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --locale=C > /dev/null)
(cd /tmp && as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-k $work/pg -c listen_addresses= -c max_connections=100" start > /dev/null)
"$pgbin/createdb" -h "$work/pg" -U postgres nasbench
sock=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$work/pg")
url="postgres://postgres@$sock:5432/nasbench"
start() { # NAME [serve args…] -> prints the address
    local name=$1; shift
    mkdir -p "$work/$name"
    SILENT_NAS_ADMIN_PASSWORD=$PW RUST_LOG=warn \
        "$BIN" serve --data "$work/$name/data" --listen 127.0.0.1:0 "$@" > "$work/$name/out" 2> "$work/$name/err" &
    echo $! >> "$work/pids"
    for _ in $(seq 100); do grep -q "listening on" "$work/$name/out" 2>/dev/null && break; sleep 0.1; done
    sed -n 's|^listening on http://\([^/]*\)/.*|\1|p' "$work/$name/out"
}
sqlite=$(start sqlite)
pg=$(start postgres --meta "$url")
echo "binary $BIN; PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') (fsync on, unix socket); rounds $ROUNDS" >&2
if [ "${CACHE_AB:-}" = 1 ]; then
    # the read cache (docs/design/caches.md, on by default) against its absence, on both
    # backends; one more database for the second PostgreSQL server
    "$pgbin/createdb" -h "$work/pg" -U postgres nasbench2
    sqlite_nc=$(SILENT_NAS_STORAGE_READ_CACHE=off start sqlite-nocache)
    pg_nc=$(SILENT_NAS_STORAGE_READ_CACHE=off start postgres-nocache --meta "${url}2")
    python3 "$HERE/pg_bench.py" "sqlite-nocache=$sqlite_nc" "sqlite=$sqlite" \
        "postgres-nocache=$pg_nc" "postgres=$pg" --password "$PW" --rounds "$ROUNDS"
    exit 0
fi
python3 "$HERE/pg_bench.py" "sqlite=$sqlite" "postgres=$pg" --password "$PW" --rounds "$ROUNDS"

# What one request costs the database: statements the PostgreSQL server logs
# (log_statement = all, switched on only now) per small PUT of a new file, per GET and per
# stat, N of each. BEGIN goes out with the transaction's first statement (one round trip
# for both), so round trips = statements - BEGINs.
N=100
psql_() { "$pgbin/psql" -h "$work/pg" -U postgres -d nasbench -qtAc "$1"; }
python3 "$HERE/pg_bench.py" --ops prepare 0 "$pg" "$PW"
psql_ "ALTER SYSTEM SET log_statement = 'all'" && psql_ "SELECT pg_reload_conf()" > /dev/null
sleep 0.5
echo
echo "| per request ($N each, PostgreSQL) | statements | BEGIN | round trips |"
echo "|---|---|---|---|"
for phase in put get stat; do
    python3 "$HERE/pg_bench.py" --ops "$phase" 1 "$pg" "$PW" # warm: statements prepared
    sleep 0.3
    from=$(wc -l < "$work/pg/log")
    python3 "$HERE/pg_bench.py" --ops "$phase" "$N" "$pg" "$PW"
    sleep 0.5
    lines=$(tail -n +"$((from + 1))" "$work/pg/log")
    st=$(grep -cE 'LOG:  (statement|execute)' <<< "$lines" || true)
    begins=$(grep -cE 'LOG:  (statement|execute [^:]*): BEGIN' <<< "$lines" || true)
    awk -v p="$phase" -v s="$st" -v b="$begins" -v n="$N" \
        'BEGIN { printf "| %s | %.1f | %.1f | %.1f |\n", p, s / n, b / n, (s - b) / n }'
    # which statements, per request (first 90 characters of each)
    grep -E 'LOG:  (statement|execute)' <<< "$lines" | sed -E 's/.*LOG:  (statement|execute [^:]*): //' \
        | cut -c1-90 | sort | uniq -c | sort -rn \
        | awk -v n="$N" -v p="$phase" '{ c = $1; $1 = ""; printf "%s\t%.2f\t%s\n", p, c / n, $0 }' >> "$work/statements"
done
echo
echo "statements per request, by text:"
cat "$work/statements"
psql_ "ALTER SYSTEM RESET log_statement" && psql_ "SELECT pg_reload_conf()" > /dev/null
