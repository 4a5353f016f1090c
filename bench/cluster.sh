#!/usr/bin/env bash
# What cluster mode costs per request, against one SQLite server, same binary, same machine,
# same run (issue 17's figures): a plain single-node server (SQLite, local packs) and the
# cluster of deploy/cluster/local.sh (PostgreSQL, NATS, `rclone serve s3`, three nodes
# with `ack = "remote"`, nginx), asked directly at one node and through the load balancer.
# bench/pg_bench.py runs the same small/stat/list/large workload against each, the order
# swapped every round. Then the object-store requests per operation, from the nodes'
# metrics.
#
#   bench/cluster.sh [BIN] [ROUNDS]   (defaults: target/release/silent-nas, 2 rounds;
#                                      LARGE_MIB=256 sets the large file's size)
set -euo pipefail
BIN=${1:-target/release/silent-nas} ROUNDS=${2:-2}
BIN=$(realpath "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
PW=bench-password-1
export PATH="$PATH:$HOME/.cache/silent-nas/venv/bin:/usr/sbin"
work=$(mktemp -d /tmp/nas-clbench.XXXXXX)
chmod 755 "$work" # the postgres user goes through it
cleanup() {
    [ -f "$work/single.pid" ] && kill "$(cat "$work/single.pid")" 2>/dev/null || true
    "$HERE/../deploy/cluster/local.sh" down "$work/cl" > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

SILENT_NAS_ADMIN_PASSWORD=$PW RUST_LOG=warn \
    "$BIN" serve --data "$work/single" --listen 127.0.0.1:0 > "$work/single.out" 2> "$work/single.err" &
echo $! > "$work/single.pid"
for _ in $(seq 100); do grep -q "listening on" "$work/single.out" 2>/dev/null && break; sleep 0.1; done
single=$(sed -n 's|^listening on http://\([^/]*\)/.*|\1|p' "$work/single.out")

CLUSTER_PORT=${CLUSTER_PORT:-18600} SILENT_NAS_ADMIN_PASSWORD=$PW RUST_LOG=warn \
    "$HERE/../deploy/cluster/local.sh" up "$work/cl" "$BIN" >&2
# shellcheck disable=SC1091
. "$work/cl/cluster.env"
node=${CLUSTER_NODE1#http://} lb=${CLUSTER_URL#http://}
echo "binary $BIN; rounds $ROUNDS; cluster: 3 nodes, PostgreSQL (fsync on), rclone serve s3, ack = remote" >&2
python3 "$HERE/pg_bench.py" "sqlite=$single" "node=$node" "balanced=$lb" --password "$PW" --rounds "$ROUNDS"

# object-store requests per operation: each uploaded pack is a PUT and a HEAD (its
# verification); count uploads per small PUT, and fetched bytes per GET of a file another
# node wrote (not in this node's cache)
metric() { # URL NAME -> the sum of the series NAME over the node's metrics
    curl -s -u "admin:$PW" "$1/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }'
}
N=50
node2=${CLUSTER_NODE2#http://}
sum_uploads() {
    local t=0 u
    for u in "$CLUSTER_NODE1" "$CLUSTER_NODE2" "$CLUSTER_NODE3"; do
        t=$((t + $(metric "$u" silent_nas_remote_uploaded_packs_total)))
    done
    echo "$t"
}
python3 "$HERE/pg_bench.py" --ops prepare 0 "$node" "$PW"
up0=$(sum_uploads)
python3 "$HERE/pg_bench.py" --ops put "$N" "$node" "$PW"
up1=$(sum_uploads)
f0=$(metric "$CLUSTER_NODE2" silent_nas_remote_fetched_bytes_total)
g0=$(metric "$CLUSTER_NODE2" silent_nas_remote_cache_misses_total)
python3 "$HERE/pg_bench.py" --ops get "$N" "$node2" "$PW"
f1=$(metric "$CLUSTER_NODE2" silent_nas_remote_fetched_bytes_total)
g1=$(metric "$CLUSTER_NODE2" silent_nas_remote_cache_misses_total)
echo
echo "| object-store requests ($N requests of each kind) | per request |"
echo "|---|---|"
awk -v a="$up0" -v b="$up1" -v n="$N" 'BEGIN { printf "| small PUT: packs uploaded (each a PUT and a HEAD) | %.2f |\n", (b - a) / n }'
awk -v a="$g0" -v b="$g1" -v fa="$f0" -v fb="$f1" -v n="$N" \
    'BEGIN { printf "| GET of a 4 KiB file written on another node, %d times: ranged GETs (cache misses); bytes fetched | %.2f; %.0f |\n", n, (b - a) / n, (fb - fa) / n }'
