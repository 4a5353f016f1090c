# Shell helpers shared by bench/webdav.sh and bench/s3.sh (sourced, not run): logging and
# result rows, arithmetic, /proc readings, pseudo-random data, the processes a bench started
# (only those are ever stopped), and the curl measurements.
#
# The sourcing script sets NAME (for messages), WORK (scratch directory), RESULTS (the TSV
# file), and may define `cleanup_extra` (run by `cleanup` before WORK is removed).

T0=$(date +%s)
# release_bin: sets BIN to $SILENT_NAS_BIN, or to a release build of this checkout ($REPO)
release_bin() {
    if [[ -n ${SILENT_NAS_BIN:-} ]]; then
        BIN=$SILENT_NAS_BIN
    else
        log "building release binary"
        (cd "$REPO" && cargo build --release -q -p silent-nas)
        BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/silent-nas
        [[ $BIN == /* ]] || BIN=$REPO/$BIN
    fi
    [[ -x $BIN ]] || die "no binary at $BIN"
}
# listen_addr LOGF PID WHAT: waits (up to 30 s) for `listening on http://ADDR/` in LOGF,
# written by the server PID, and prints ADDR; dies (naming WHAT) if it exits or never listens
listen_addr() {
    local addr=""
    for _ in $(seq 300); do
        addr=$(sed -n 's#^listening on http://\([^/]*\)/.*#\1#p' "$1" | head -n1)
        [[ -n $addr ]] && { echo "$addr"; return 0; }
        kill -0 "$2" 2>/dev/null || { cat "$1" >&2; die "$3 exited"; }
        sleep 0.1
    done
    die "$3 did not start listening"
}
log() { printf '[%5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { echo "$NAME: $*" >&2; exit 1; }
result() { printf '%s\t%s\n' "$1" "$2" >> "$RESULTS"; }
# rate BYTES SECS: MB/s (1e6)
rate() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]) / 1e6:.2f}')" "$@"; }
fmin() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }
fmax() { python3 -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "$@"; }
fsub() { python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.2f}')" "$@"; }
fgt() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$@"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# cpu_secs PID: user + system CPU seconds the process has used so far
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$1/stat"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# random_stream MIB KEY: MIB MiB of pseudo-random bytes on stdout (AES-CTR, KEY picks the
# stream, so nothing dedups across keys)
random_stream() {
    head -c "$(( $1 << 20 ))" /dev/zero \
        | openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$2")" \
              -iv 00000000000000000000000000000000
}

# ---- processes: only the ones this script started are ever stopped ------------------------

PIDS=()
stop_pid() {
    local pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    fi
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
cleanup() {
    local rc=$?
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
    if [[ ${KEEP:-0} != 1 && -d $WORK ]]; then
        rm -rf "$WORK"
    fi
    exit $rc
}

# ---- curl measurements (extra curl arguments, e.g. -u USER:PW, come last) ------------------

CURL=(curl -sS --max-time 1800)

# put_file URL FILE [curl args…]: one PUT with curl -T; sets SECS; dies unless 200/201/204
# and every byte was sent
put_file() {
    local url=$1 file=$2 code secs sent
    shift 2
    read -r code secs sent < <("${CURL[@]}" "$@" -T "$file" -o /dev/null \
        -w '%{http_code} %{time_total} %{size_upload}\n' "$url")
    [[ $code == 200 || $code == 201 || $code == 204 ]] || die "PUT ${url%%\?*}: HTTP $code"
    [[ $sent == "$(stat -c %s "$file")" ]] || die "PUT ${url%%\?*}: sent $sent bytes"
    SECS=$secs
}

# get_best URL SIZE N [curl args…]: best of N GETs to /dev/null; sets SECS
get_best() {
    local url=$1 size=$2 n=$3 code secs got best=""
    shift 3
    for _ in $(seq "$n"); do
        read -r code secs got < <("${CURL[@]}" "$@" -o /dev/null \
            -w '%{http_code} %{time_total} %{size_download}\n' "$url")
        [[ $code == 200 ]] || die "GET ${url%%\?*}: HTTP $code"
        [[ $got == "$size" ]] || die "GET ${url%%\?*}: $got bytes, expected $size"
        best=${best:+$(fmin "$best" "$secs")}; best=${best:-$secs}
    done
    SECS=$best
}

# propfind_best URL N TAG [curl args…]: best of N PROPFIND Depth 1 (the body of the last is
# kept as WORK/propfind-TAG.xml); sets SECS, ENTRIES and BODY_BYTES
propfind_best() {
    local url=$1 n=$2 body=$WORK/propfind-$3.xml code secs best=""
    shift 3
    for _ in $(seq "$n"); do
        read -r code secs < <("${CURL[@]}" "$@" -X PROPFIND -H 'Depth: 1' -o "$body" \
            -w '%{http_code} %{time_total}\n' "$url")
        [[ $code == 207 ]] || die "PROPFIND $url: HTTP $code"
        best=${best:+$(fmin "$best" "$secs")}; best=${best:-$secs}
    done
    ENTRIES=$(python3 "$(dirname "${BASH_SOURCE[0]}")/webdav_lib.py" count "$body")
    BODY_BYTES=$(stat -c %s "$body")
    SECS=$best
}
