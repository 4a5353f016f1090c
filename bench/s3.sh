#!/usr/bin/env bash
# Silent-NAS's S3 door vs its own WebDAV door and vs the disk (dd conv=fsync): one server
# (`silent-nas serve --listen … --s3-listen …`, both on 127.0.0.1), one data directory, one run.
#
#   bench/s3.sh [--quick]
#
# --quick   256 MiB instead of 1 GiB, 500 small objects, 2,000 keys, 1 GiB multipart upload.
#
# Environment:
#   SILENT_NAS_BIN   use this binary instead of building it (cargo build --release -p silent-nas)
#   CARGO_TARGET_DIR honoured when building
#   KEEP=1           keep bench/out/s3-work (data directory, logs) after the run
# Needs python3 with boto3, curl, openssl, dd.
#
# Steps (S3 requests are SigV4-signed with a key from `silent-nas key create admin`; WebDAV
# uses Basic auth; every big file is unique pseudo-random data (openssl AES-CTR, one key per
# file, so no upload dedups against an earlier one), made in /dev/shm (tmpfs: "page cache"),
# one at a time):
#   0. before the server starts: N files of 4 KiB imported with `silent-nas import` into the
#      top-level folder /list (= bucket "list"); the rest goes into bucket "bench";
#   1. big PUT, `sync` before each: WebDAV `curl -T` and S3 PutObject as one stream, in two
#      alternating rounds (best of 2 per door, both runs printed);
#      S3 is `curl -T` of a presigned PUT URL: same client as WebDAV, client cost minimal — this is
#      the figure the goal compares; boto3 upload_file with TransferConfig(8 MiB threshold,
#      8 MiB parts, 10 threads) = awscli/boto3 defaults (info); and the disk itself: `dd
#      bs=4M conv=fsync` of the S3 file from tmpfs into the data directory's filesystem;
#   2. big GET of the object PUT by curl: presigned URL with `curl -o /dev/null` (best of 2),
#      WebDAV `curl -o /dev/null` of the same file (best of 2), boto3 download_fileobj into a
#      counting sink (one run, 8 MiB ranges, 10 threads); the S3 download is compared with the
#      upload by sha256 (untimed);
#   3. small objects of 4 KiB (unique data), 16 threads, clock around the requests only:
#      WebDAV (webdav_lib.py put-many, one keep-alive connection per thread), boto3 put_object
#      (one client per thread), and presigned PUT URLs sent by http.client (info: the server's
#      rate when the client costs next to nothing);
#   4. listing of the imported folder: ListObjectsV2 with boto3's paginator (1000 keys a page),
#      best of 3; the same pages presigned and fetched by http.client without botocore's XML
#      parser (info); WebDAV PROPFIND Depth 1 of the same folder via curl, best of 3; every
#      listing is checked to hold all N keys;
#   5. 4 GiB (1 GiB with --quick) generated on the fly by openssl and piped into boto3
#      upload_fileobj (multipart, 8 MiB parts, 10 threads — what `aws s3 cp - s3://…` does);
#      the server is restarted first, on the same data directory, so the figure is the
#      upload's own footprint and not what the allocator kept from steps 1-4 (the first
#      process's peaks are reported too); while it is down the three big files are deleted and
#      collected (rm, trash purge, gc) to save disk space; its VmHWM is reset just before
#      (echo 5 > /proc/PID/clear_refs) and read after; the length is checked with HeadObject.
#   Server CPU seconds (utime + stime) are read around the two curl -T uploads (info).
# Output: the table on stdout and in bench/out/s3-summary.txt (with `uptime` load averages at
# start and end); raw figures in bench/out/s3-results.tsv; server log in bench/out/s3-work
# (removed unless KEEP=1). Goals: S3 single-stream PUT >= 0.80 x WebDAV curl -T; S3 GET
# >= 1 GB/s (1e9 bytes/s); server peak RSS during the multipart upload <= 100 MiB.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
OUT=$HERE/out
WORK=$OUT/s3-work
LIB="python3 $HERE/s3_lib.py"
DAVLIB="python3 $HERE/webdav_lib.py"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,48p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

if [[ $QUICK == 1 ]]; then
    BIG_MIB=256; SMALL_N=500; LIST_N=2000; FOUR_MIB=1024
else
    BIG_MIB=1024; SMALL_N=2000; LIST_N=10000; FOUR_MIB=4096
fi
SMALL_SIZE=4096
THREADS=16
export LC_ALL=C

NAME=s3.sh
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
cleanup_extra() { [[ -n ${TMPBIG:-} && -d $TMPBIG ]] && rm -rf "$TMPBIG"; return 0; }

# start_server DATA: silent-nas serve with WebDAV and S3 on free ports; sets SN_PID, DAV, S3
start_server() {
    local data=$1 logf=$WORK/server.log
    : > "$logf"
    SILENT_NAS_ADMIN_PASSWORD=$PW RUST_LOG=warn \
        "$BIN" serve --data "$data" --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 > "$logf" 2>&1 &
    SN_PID=$!
    PIDS+=("$SN_PID")
    local addr="" s3addr=""
    for _ in $(seq 300); do
        addr=$(sed -n 's#^listening on http://\([^/]*\)/.*#\1#p' "$logf" | head -n1 || true)
        s3addr=$(sed -n 's#^S3 API on http://\([^/]*\)/.*#\1#p' "$logf" | head -n1 || true)
        [[ -n $addr && -n $s3addr ]] && break
        kill -0 "$SN_PID" 2>/dev/null || { cat "$logf" >&2; die "silent-nas exited"; }
        sleep 0.1
    done
    [[ -n $addr && -n $s3addr ]] || die "silent-nas did not start listening (WebDAV and S3)"
    DAV=http://$addr/dav
    S3=http://$s3addr
    log "silent-nas pid $SN_PID: WebDAV $DAV/, S3 $S3/"
}

# ---- curl measurements (helpers in lib.sh) -------------------------------------------------

DAVAUTH=()   # set once the password is known

# make_big KEY: a BIG_MIB MiB file of unique data in tmpfs; sets BIG and BIG_SHA
make_big() {
    rm -f "$TMPBIG"/*.bin
    BIG=$TMPBIG/big-$1.bin
    random_stream "$BIG_MIB" "$1" > "$BIG"
    BIG_SHA=$(sha256sum "$BIG" | cut -d' ' -f1)
}

# ---- setup ----------------------------------------------------------------------------------

for tool in python3 curl openssl awk dd sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
python3 -c 'import boto3' 2>/dev/null || die "python3 cannot import boto3 (pip install boto3)"
BOTO_VERSION=$(python3 -c 'import boto3; print(boto3.__version__)')

mkdir -p "$OUT"
rm -rf "$WORK"
mkdir -p "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ -d /dev/shm && $(df --output=avail -k /dev/shm | tail -n1) -gt $(( (BIG_MIB + 64) << 10 )) ]]; then
    TMPBIG=$(mktemp -d /dev/shm/silent-nas-s3bench.XXXXXX)
else
    TMPBIG=$WORK/big   # no tmpfs: each file is used right after it is written (page cache)
    mkdir -p "$TMPBIG"
fi
# the data directory holds at most 5 big files (or 4 and dd's copy), then — the big files are
# deleted and collected while the server is down before step 5 — the multipart object;
# leave 1 GiB to spare
need_mib=$(( (5 * BIG_MIB > FOUR_MIB ? 5 * BIG_MIB : FOUR_MIB) + 1024 ))
free_mib=$(( $(df --output=avail -k "$WORK" | tail -n1) >> 10 ))
(( free_mib >= need_mib )) || die "$free_mib MiB free under $WORK, the run needs about $need_mib MiB"
RESULTS=$OUT/s3-results.tsv
SUMMARY=$OUT/s3-summary.txt
: > "$RESULTS"
PW=bench-$(openssl rand -hex 12)
DAVAUTH=(-u "admin:$PW")
LOAD_START=$(loadavg)
# boto3/awscli must not pick up a user's config, profile or credentials
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 2>/dev/null || true

release_bin
# a private copy: a build elsewhere that replaces the binary mid-run must not change the one
# the restart in step 5 starts
cp -p "$BIN" "$WORK/silent-nas"
BIN_SRC=$BIN
BIN=$WORK/silent-nas

result big_mib "$BIG_MIB"
result small_n "$SMALL_N"
result small_threads "$THREADS"
result list_n "$LIST_N"
result four_mib "$FOUR_MIB"

DATA=$WORK/data
log "silent-nas import of ${LIST_N} files of 4 KiB into /list (bucket \"list\")"
$DAVLIB mkfiles "$WORK/list-src" "$LIST_N" 4096
"$BIN" import --data "$DATA" --home admin --quiet "$WORK/list-src" --dest /list > /dev/null
rm -rf "$WORK/list-src"

start_server "$DATA"
read -r AK SK < <("$BIN" key create admin --data "$DATA")
[[ -n ${SK:-} ]] || die "silent-nas key create printed no key"
export S3_ENDPOINT=$S3 AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1
$LIB mkbucket bench

# ---- 1. one big file up ----------------------------------------------------------------------

log "PUT ${BIG_MIB} MiB (files made in $TMPBIG)"
# two rounds, WebDAV then S3 in each, every file new data; the best of each door counts
# (the same treatment for both: a slow moment of a shared machine hits one run, not the figure)
UP_DAV=0; UP_S3=0; DAV_RUNS=(); S3_RUNS=()
for round in 1 2; do
    suffix=$([[ $round == 1 ]] || echo "-$round")
    make_big $((2 * round - 1))
    sync
    c0=$(cpu_secs "$SN_PID")
    put_file "$DAV/bench/big-dav$suffix.bin" "$BIG" "${DAVAUTH[@]}"; r=$(rate "$(stat -c %s "$BIG")" "$SECS")
    cpu=$(fsub "$(cpu_secs "$SN_PID")" "$c0")
    log "PUT ${BIG_MIB} MiB WebDAV curl -T (round $round):  ${SECS}s = $r MB/s, server CPU ${cpu}s"
    DAV_RUNS+=("$r")
    if fgt "$r" "$UP_DAV"; then UP_DAV=$r; result up_dav_cpu "$cpu"; fi

    make_big $((2 * round))
    BIG_BYTES=$(stat -c %s "$BIG")
    [[ $round == 1 ]] && S3_SHA=$BIG_SHA # the object the GETs below read
    URL=$($LIB presign put bench "big-s3$suffix.bin")
    sync
    c0=$(cpu_secs "$SN_PID")
    put_file "$URL" "$BIG"; r=$(rate "$BIG_BYTES" "$SECS")
    cpu=$(fsub "$(cpu_secs "$SN_PID")" "$c0")
    log "PUT ${BIG_MIB} MiB S3 curl -T presigned (round $round): ${SECS}s = $r MB/s, server CPU ${cpu}s"
    S3_RUNS+=("$r")
    if fgt "$r" "$UP_S3"; then UP_S3=$r; result up_s3_curl_cpu "$cpu"; fi
    read -r len etag < <($LIB head bench "big-s3$suffix.bin")
    [[ $len == "$BIG_BYTES" ]] || die "HeadObject big-s3$suffix.bin: $len bytes"
done
result up_dav "$UP_DAV"
result up_s3_curl "$UP_S3"
result up_dav_runs "${DAV_RUNS[*]}"
result up_s3_curl_runs "${S3_RUNS[*]}"

# the disk's own rate, same file, same filesystem as the data directory
sync
dd_line=$(dd if="$BIG" of="$WORK/dd.out" bs=4M conv=fsync 2>&1 | tail -n1)
rm -f "$WORK/dd.out"
DD_SECS=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) print $(i-1)}' <<< "$dd_line" | head -n1)
[[ -n $DD_SECS ]] || die "cannot read dd's time from: $dd_line"
DD=$(rate "$BIG_BYTES" "$DD_SECS")
log "dd bs=4M conv=fsync:                         ${DD_SECS}s = $DD MB/s"
result dd_fsync "$DD"

make_big 5
sync
read -r secs parts < <($LIB upload-file bench big-boto.bin "$BIG")
[[ -n ${parts:-} ]] || die "boto3 upload_file failed"
UP_BOTO=$(rate "$BIG_BYTES" "$secs")
log "PUT ${BIG_MIB} MiB boto3 upload_file ($parts parts): ${secs}s = $UP_BOTO MB/s"
result up_s3_boto "$UP_BOTO"
result up_s3_boto_parts "$parts"
rm -f "$TMPBIG"/*.bin
result rss_step1 "$(hwm_kb "$SN_PID")"
sync

# ---- 2. the same object down -------------------------------------------------------------------

URL=$($LIB presign get bench big-s3.bin)
get_best "$URL" "$BIG_BYTES" 2; DOWN_S3=$(rate "$BIG_BYTES" "$SECS")
log "GET ${BIG_MIB} MiB S3 curl presigned:         ${SECS}s = $DOWN_S3 MB/s"
result down_s3_curl "$DOWN_S3"
get_best "$DAV/bench/big-s3.bin" "$BIG_BYTES" 2 "${DAVAUTH[@]}"; DOWN_DAV=$(rate "$BIG_BYTES" "$SECS")
log "GET ${BIG_MIB} MiB WebDAV curl (same file):   ${SECS}s = $DOWN_DAV MB/s"
result down_dav "$DOWN_DAV"
secs=$($LIB download bench big-s3.bin "$BIG_BYTES")
DOWN_BOTO=$(rate "$BIG_BYTES" "$secs")
log "GET ${BIG_MIB} MiB boto3 download_fileobj:    ${secs}s = $DOWN_BOTO MB/s"
result down_s3_boto "$DOWN_BOTO"
got_sha=$("${CURL[@]}" "$URL" | sha256sum | cut -d' ' -f1)
if [[ $got_sha == "$S3_SHA" ]]; then
    result s3_download_exact yes
else
    result s3_download_exact NO
    log "WARNING: the S3 download differs from the uploaded file (sha256)"
fi
result rss_step2 "$(hwm_kb "$SN_PID")"

# ---- 3. small objects, 16 in parallel ------------------------------------------------------------

sync
read -r n secs errs codes < <($DAVLIB put-many "$DAV/bench/small-dav" admin "$PW" "$SMALL_N" "$SMALL_SIZE" "$THREADS")
[[ -n ${secs:-} ]] || die "WebDAV small-file PUTs failed"
(( errs == 0 )) || die "WebDAV small-file PUTs: $errs errors ($codes)"
SMALL_DAV=$(python3 -c "print(f'{$n / $secs:.1f}')")
log "PUT ${SMALL_N} x 4 KiB WebDAV:          ${secs}s = $SMALL_DAV files/s ($codes)"
result small_dav "$SMALL_DAV"
sync
read -r n secs errs codes < <($LIB put-many bench small-s3 "$SMALL_N" "$SMALL_SIZE" "$THREADS")
[[ -n ${secs:-} ]] || die "S3 small-object PUTs failed"
(( errs == 0 )) || die "S3 small-object PUTs: $errs errors ($codes)"
SMALL_S3=$(python3 -c "print(f'{$n / $secs:.1f}')")
log "PUT ${SMALL_N} x 4 KiB S3 boto3:        ${secs}s = $SMALL_S3 files/s ($codes)"
result small_s3 "$SMALL_S3"
result rss_step3_boto "$(hwm_kb "$SN_PID")"
sync
read -r n secs errs codes < <($LIB put-many-presigned bench small-pre "$SMALL_N" "$SMALL_SIZE" "$THREADS")
[[ -n ${secs:-} ]] || die "S3 presigned small-object PUTs failed"
(( errs == 0 )) || die "S3 presigned small-object PUTs: $errs errors ($codes)"
SMALL_PRE=$(python3 -c "print(f'{$n / $secs:.1f}')")
log "PUT ${SMALL_N} x 4 KiB S3 presigned:    ${secs}s = $SMALL_PRE files/s ($codes)"
result small_s3_pre "$SMALL_PRE"
result rss_step3 "$(hwm_kb "$SN_PID")"
sync

# ---- 4. listing ----------------------------------------------------------------------------------

read -r secs keys pages < <($LIB list list "" "$LIST_N" 3)
[[ -n ${pages:-} ]] || die "ListObjectsV2 (boto3) failed"
log "ListObjectsV2 ${LIST_N} keys boto3:       ${secs}s ($keys keys, $pages pages)"
result list_s3 "$secs"
read -r secs keys pages bytes < <($LIB list-raw list "" "$LIST_N" 3)
[[ -n ${bytes:-} ]] || die "ListObjectsV2 (raw) failed"
log "ListObjectsV2 ${LIST_N} keys http.client: ${secs}s ($keys keys, $pages pages, $bytes bytes)"
result list_s3_raw_bytes "$bytes"
result list_s3_raw "$secs"
propfind_best "$DAV/list/" 3 list "${DAVAUTH[@]}"
log "PROPFIND Depth 1 ${LIST_N} entries:       ${SECS}s ($ENTRIES responses, $(stat -c %s "$WORK/propfind.xml") bytes)"
result propfind_bytes "$(stat -c %s "$WORK/propfind.xml")"
(( ENTRIES == LIST_N + 1 )) || die "PROPFIND: $ENTRIES responses, expected $(( LIST_N + 1 ))"
result propfind_dav "$SECS"

# ---- 5. peak RSS during a multipart upload from a pipe -----------------------------------------

# the long-running process keeps what its allocator took during steps 1-4 (10 concurrent part
# uploads, 16 concurrent small PUTs); that is reported, and the upload is measured on a fresh
# process on the same data directory, so the figure is the upload's own footprint
result rss_all "$(hwm_kb "$SN_PID")"
result rss_before_restart "$(rss_kb "$SN_PID")"
stop_pid "$SN_PID"
mv "$WORK/server.log" "$WORK/server-1.log"
# disk space: the three big files go (rm, trash purge, gc) before the multipart object comes
for f in big-dav.bin big-s3.bin big-dav-2.bin big-s3-2.bin big-boto.bin; do
    "$BIN" rm --data "$DATA" --home admin "/bench/$f" > /dev/null
done
"$BIN" trash --data "$DATA" --home admin purge > /dev/null
"$BIN" gc --data "$DATA" > "$WORK/gc.log"
log "big files deleted and collected: $(du -sh "$DATA" | cut -f1) left in the data directory"
start_server "$DATA"
export S3_ENDPOINT=$S3
$LIB list list "" "$LIST_N" 1 > /dev/null   # the key still works, the data is there
sync
result rss_fresh "$(rss_kb "$SN_PID")"
echo 5 > "/proc/$SN_PID/clear_refs" || die "cannot reset VmHWM of pid $SN_PID"
secs=$(random_stream "$FOUR_MIB" 4 | $LIB put-stream bench four.bin "$FOUR_MIB")
[[ -n $secs ]] || die "multipart upload from a pipe failed"
rss=$(hwm_kb "$SN_PID")
result rss4g_s3 "$rss"
result up4g_s3 "$(rate $(( FOUR_MIB << 20 )) "$secs")"
read -r len etag < <($LIB head bench four.bin)
log "PUT ${FOUR_MIB} MiB multipart from a pipe: ${secs}s, peak RSS $rss KiB, ETag $etag"
[[ $len == $(( FOUR_MIB << 20 )) ]] || die "HeadObject four.bin: $len bytes"
result four_etag "$etag"

# ---- summary ----------------------------------------------------------------------------------

stop_pid "$SN_PID"
if grep -q -E 'ERROR|panicked' "$WORK"/server*.log; then
    log "silent-nas logged errors:"; cat "$WORK"/server*.log | grep -E 'ERROR|panicked' | head -n 5 >&2
fi
result server_log_warnings "$(cat "$WORK"/server*.log | grep -c -E 'WARN' || true)"
result server_log_errors "$(cat "$WORK"/server*.log | grep -c -E 'ERROR|panicked' || true)"
LOAD_END=$(loadavg)
REV=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
# (no optional locks: this must never write the index of a repository someone is working in)
[[ -n $(cd "$REPO" && GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null) ]] && REV="$REV+dirty"
{
    [[ -n ${SILENT_NAS_BIN:-} ]] && echo "binary: $BIN_SRC ($(date -u -r "$BIN" +%Y-%m-%dT%H:%MZ)); repository at $REV"
    echo "silent-nas $REV, S3 door vs WebDAV door of the same server; boto3 $BOTO_VERSION; $(nproc) cores; load $LOAD_START at start, $LOAD_END at end; $(date -u +%Y-%m-%dT%H:%MZ)$([[ $QUICK == 1 ]] && echo ' (--quick)')"
    $LIB summary "$RESULTS"
} | tee "$SUMMARY"
