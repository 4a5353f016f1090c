#!/usr/bin/env bash
# bench/ui.sh — the web UI's figures of issue 12, against the release server on loopback,
# in Debian's chromium (playwright-core from tests/ui; scripts/test-deps.sh installs both):
# - a SIZE_MIB upload through the UI (tus, picked in the upload dialog) against `curl -T` of
#   the same file to the same server (WebDAV), alternately, ROUNDS times each: the ratio;
# - a folder of four such files downloaded as a streamed zip: MB/s and the server's peak RSS
#   during the download (sampled every 50 ms);
# - the first page of a 100,000-entry folder: milliseconds from the click to its first entry.
#   bench/ui.sh [SIZE_MIB=1024] [ROUNDS=2]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
NAME=ui
SIZE_MIB=${1:-1024} ROUNDS=${2:-2}
WORK=$(mktemp -d)
RESULTS=$WORK/results.tsv
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
trap cleanup EXIT
release_bin
[[ -d $REPO/tests/ui/node_modules/playwright-core ]] || (cd "$REPO/tests/ui" && npm ci --no-audit --no-fund --cache "$HOME/.cache/silent-nas/npm" >/dev/null)
PW=ui-bench-password-1
DATA=$WORK/data

log "a folder of 100,000 empty files, imported before the server starts"
mkdir -p "$WORK/many/many"
python3 -c "
import os, sys
d = sys.argv[1]
for i in range(100000):
    open(os.path.join(d, f'f{i:06d}'), 'w').close()
" "$WORK/many/many"
"$BIN" user add alice --password-stdin --data "$DATA" <<< "$PW" >/dev/null
"$BIN" import "$WORK/many" --home alice --data "$DATA" >/dev/null
rm -rf "$WORK/many"

SILENT_NAS_ADMIN_PASSWORD=ui-bench-admin-1 "$BIN" serve --data "$DATA" --listen 127.0.0.1:0 \
    > "$WORK/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
ADDR=$(listen_addr "$WORK/server.log" "$SERVER" "silent-nas")
URL=http://$ADDR
ui() { node "$HERE/ui_bench.mjs" "$URL" alice "$PW" "$@"; }

log "first page of the 100,000-entry folder"
FIRST=()
for _ in 1 2 3; do FIRST+=("$(ui firstpage many f000000)"); done
log "first page: ${FIRST[*]} ms"

log "$SIZE_MIB MiB file"
# every upload sends new content (its own seed): an upload of bytes the store already holds
# is deduplicated, which would favour whichever of the two goes second
BYTES=$(( SIZE_MIB << 20 ))
ui_round() {
    random_stream "$SIZE_MIB" $((100 + r)) > "$WORK/ui-$r.bin"
    s=$(ui upload "$WORK/ui-$r.bin")
    UI_MBS+=("$(rate "$BYTES" "$s")")
    rm -f "$WORK/ui-$r.bin"
}
curl_round() {
    random_stream "$SIZE_MIB" $((200 + r)) > "$WORK/curl-$r.bin"
    put_file "$URL/dav/curl-$r.bin" "$WORK/curl-$r.bin" -u "alice:$PW"
    CURL_MBS+=("$(rate "$BYTES" "$SECS")")
    rm -f "$WORK/curl-$r.bin"
}
UI_MBS=() CURL_MBS=()
for r in $(seq "$ROUNDS"); do
    # the order alternates, so a machine slowing down or speeding up favours neither
    if (( r % 2 )); then ui_round; curl_round; else curl_round; ui_round; fi
    log "round $r: UI ${UI_MBS[-1]} MB/s, curl -T ${CURL_MBS[-1]} MB/s"
done

log "zip of a folder of four $SIZE_MIB MiB files"
"${CURL[@]}" -u "alice:$PW" -X POST "$URL/api/v1/mkdir/z" -o /dev/null
for i in 1 2 3 4; do
    "${CURL[@]}" -u "alice:$PW" -X COPY -H "Destination: $URL/dav/z/f$i.bin" "$URL/dav/curl-1.bin" -o /dev/null
done
peak=0
( while kill -0 "$SERVER" 2>/dev/null; do rss_kb "$SERVER"; sleep 0.05; done ) > "$WORK/rss.txt" &
SAMPLER=$!
read -r code secs got < <("${CURL[@]}" -u "alice:$PW" -o /dev/null \
    -w '%{http_code} %{time_total} %{size_download}\n' "$URL/api/v1/zip/z")
kill "$SAMPLER" 2>/dev/null || true
[[ $code == 200 ]] || die "zip: HTTP $code"
(( got > 4 * BYTES )) || die "zip: $got bytes"
peak=$(sort -n "$WORK/rss.txt" | tail -n1)
ZIP_MBS=$(rate "$got" "$secs")

echo
echo "| measure | figure |"
echo "|---|---|"
echo "| first page of a 100,000-entry folder (3 tries) | ${FIRST[*]} ms |"
for r in $(seq "$ROUNDS"); do
    echo "| round $r: UI upload / curl -T ($SIZE_MIB MiB) | ${UI_MBS[r-1]} / ${CURL_MBS[r-1]} MB/s = $(python3 -c "print(f'{${UI_MBS[r-1]}/${CURL_MBS[r-1]}:.2f}')")× |"
done
echo "| zip of 4 × $SIZE_MIB MiB | $ZIP_MBS MB/s, server peak RSS $((peak / 1024)) MiB |"
echo "| load average at the end | $(loadavg) |"
