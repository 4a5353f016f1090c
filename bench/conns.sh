#!/usr/bin/env bash
# bench/conns.sh — many connections against the release server (issue 16, points 1 and 2),
# beside `rclone serve webdav` in the same run (bench/conns.py does the clients):
# - N_IDLE (10,000) idle keep-alive connections (each made one authenticated GET): the
#   server's RSS and open fds while they are held, the latency of PROBES normal GETs (each
#   on a new connection) meanwhile, and a second GET on a sample of the idle ones;
# - N_SLOW (500) slowloris connections (a request head sent a byte a second, never
#   finished) while PROBES normal GETs are timed (issue 16: p99 < 100 ms).
# The server runs with max_connections above N_IDLE and a header/idle timeout longer than
# the run ([limits] in docs/configuration.md; the defaults are 4,096 and 30 s). The open-file
# limit must allow N_IDLE + a margin (ulimit -n; the server raises its soft limit itself).
#
#   bench/conns.sh [N_IDLE=10000] [N_SLOW=500]
#
# Output: the table on stdout; key figures in bench/out/conns-results.tsv.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
NAME=conns
N_IDLE=${1:-10000} N_SLOW=${2:-500}
WORK=$(mktemp -d)
RESULTS=$WORK/results.tsv
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
trap cleanup EXIT
release_bin
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) > N_IDLE + 200 )) || die "open-file limit $(ulimit -n) is too low for $N_IDLE connections"
if [[ -z ${RCLONE:-} ]]; then
    RCLONE=$(command -v rclone || echo "$HOME/.cache/silent-nas/venv/bin/rclone")
fi
PW=conns-bench-password-1
DATA=$WORK/data
"$BIN" user add alice --password-stdin --data "$DATA" <<< "$PW" >/dev/null
cat > "$WORK/config.toml" <<EOF
[limits]
max_connections = $(( N_IDLE + 1000 ))
header_timeout = "10m"
EOF
SILENT_NAS_ADMIN_PASSWORD=conns-bench-admin-1 RUST_LOG=warn "$BIN" serve --data "$DATA" \
    --config "$WORK/config.toml" --listen 127.0.0.1:0 > "$WORK/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
URL=http://$(listen_addr "$WORK/server.log" "$SERVER" "silent-nas")
printf 'hello, small file\n' | curl -sf -u "alice:$PW" -T - "$URL/dav/small.txt" -o /dev/null

mkdir -p "$WORK/rclone-root"
printf 'hello, small file\n' > "$WORK/rclone-root/small.txt"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$RCLONE" serve webdav "$WORK/rclone-root" --addr "127.0.0.1:$PORT" --user alice --pass "$PW" \
    > "$WORK/rclone.log" 2>&1 &
RC=$!
PIDS+=("$RC")
for _ in $(seq 100); do curl -sf -u "alice:$PW" "http://127.0.0.1:$PORT/small.txt" -o /dev/null && break; sleep 0.1; done

py() { python3 "$HERE/conns.py" "$@"; }
log "$N_IDLE idle keep-alive connections: silent-nas"
SN_IDLE=$(PROBE_PATH=/dav/small.txt py idle "$URL" alice "$PW" "$SERVER" "$N_IDLE")
log "$SN_IDLE"
log "$N_IDLE idle keep-alive connections: rclone serve webdav"
RC_IDLE=$(PROBE_PATH=/small.txt py idle "http://127.0.0.1:$PORT" alice "$PW" "$RC" "$N_IDLE")
log "$RC_IDLE"
sleep 2
log "$N_SLOW slowloris connections: silent-nas"
SN_SLOW=$(PROBE_PATH=/dav/small.txt py slowloris "$URL" alice "$PW" "$SERVER" "$N_SLOW")
log "$SN_SLOW"
log "$N_SLOW slowloris connections: rclone serve webdav"
RC_SLOW=$(PROBE_PATH=/small.txt py slowloris "http://127.0.0.1:$PORT" alice "$PW" "$RC" "$N_SLOW")
log "$RC_SLOW"

mkdir -p "$HERE/out"
python3 - "$SN_IDLE" "$RC_IDLE" "$SN_SLOW" "$RC_SLOW" "$(loadavg)" "$HERE/out/conns-results.tsv" <<'EOF'
import json, sys
si, ri, ss, rs = (json.loads(a) for a in sys.argv[1:5])
with open(sys.argv[6], "w") as f:
    for who, i, s in (("ours", si, ss), ("rclone", ri, rs)):
        f.write(f"idle_connections\t{i['connections']}\n" if who == "ours" else "")
        f.write(f"idle_rss_held_mib_{who}\t{i['rss_held_mib']}\n")
        f.write(f"idle_probe_p99_ms_{who}\t{i['probe']['p99_ms']}\n")
        f.write(f"idle_probe_errors_{who}\t{i['probe']['errors']}\n")
        f.write(f"slowloris_probe_p99_ms_{who}\t{s['probe']['p99_ms']}\n")
        f.write(f"slowloris_probe_errors_{who}\t{s['probe']['errors']}\n")
print()
print("| measure | silent-nas | rclone serve webdav | issue 16 |")
print("|---|---|---|---|")
n = si["connections"]
print(f"| {n} idle keep-alive connections: first GETs ok | {si['first_requests_ok']} | {ri['first_requests_ok']} | all |")
print(f"| server RSS before → while held (MiB) | {si['rss_before_mib']} → {si['rss_held_mib']} | {ri['rss_before_mib']} → {ri['rss_held_mib']} | ≤ 200 MiB |")
print(f"| open fds while held | {si['fds_held']} | {ri['fds_held']} | |")
for k, lab in (("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max")):
    print(f"| new-connection GET {lab} while held (ms) | {si['probe'][k]} | {ri['probe'][k]} | prompt |")
print(f"| probe errors | {si['probe']['errors']} / {si['probe']['requests']} | {ri['probe']['errors']} / {ri['probe']['requests']} | 0 |")
print(f"| second GET on 200 idle connections ok | {si['sample_second_request_ok']} | {ri['sample_second_request_ok']} | all |")
m = ss["connections"]
print(f"| {m} slowloris connections ({ss['secs']} s, 1 byte/{ss['secs_per_byte']} s): GET p50 / p99 / max (ms) | {ss['probe']['p50_ms']} / {ss['probe']['p99_ms']} / {ss['probe']['max_ms']} | {rs['probe']['p50_ms']} / {rs['probe']['p99_ms']} / {rs['probe']['max_ms']} | p99 < 100 ms |")
print(f"| slowloris: probe errors | {ss['probe']['errors']} / {ss['probe']['requests']} | {rs['probe']['errors']} / {rs['probe']['requests']} | 0 |")
print(f"| load average at the end | {sys.argv[5]} | | |")
EOF
