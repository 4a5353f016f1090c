#!/usr/bin/env bash
# Delta chunks (docs/design/delta.md), measured in one run on this machine:
#
#   bench/delta.sh [--quick]
#
# 1. the tar series: each version of the corpus's text tree packed as ONE uncompressed tar,
#    imported one after another as versions of one file (`silent-nas put`), stored bytes
#    with delta on vs off vs borg (zstd,3) on the same tars; import throughput on/off
#    (alternating runs, the best of each);
# 2. reading the newest and the oldest version of the tar back from the delta store
#    (`silent-nas cat`, page cache warm);
# 3. the 1-byte edit in the middle of the 64 MiB image: store growth, delta on and off;
# 4. the directory series (every version of the corpus imported into one home), delta on
#    vs off: delta must store no more than without.
#
# --quick   3 versions of the corpus, 1 run each way.
#
# Environment:
#   SILENT_NAS_BIN   use this binary instead of building a release binary of this checkout
#   CORPUS           reuse a corpus made by make_corpus.py
#   RUNS             throughput runs each way (default 3; 1 with --quick)
#   KEEP=1           keep bench/out/delta-work
#
# Needs: python3, tar, borg (borgbackup). Output: the table on stdout and in
# bench/out/delta-summary.txt; raw figures in bench/out/delta-results.tsv.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
SHARED=$(dirname "$REPO")/shared
OUT=$HERE/out
WORK=$OUT/delta-work
NAME=delta.sh
RESULTS=$OUT/delta-results.tsv
LIB="python3 $HERE/benchlib.py"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
RUNS=${RUNS:-$([[ $QUICK == 1 ]] && echo 1 || echo 3)}

[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install -y time)"
for tool in python3 tar borg; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y borgbackup)"
done
cleanup() { [[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"; }
trap cleanup EXIT
rm -rf "$WORK"; mkdir -p "$WORK" "$OUT"
: > "$RESULTS"

release_bin
if [[ -z ${CORPUS:-} ]]; then
    if [[ $QUICK == 1 ]]; then CORPUS=$OUT/corpus-quick; CARGS=(--versions 3 --small 1)
    else CORPUS=$OUT/corpus; CARGS=(--small 1); fi
    [[ -f $CORPUS/MANIFEST.tsv ]] || {
        log "building corpus in $CORPUS"
        python3 "$SHARED/datasets/make_corpus.py" "$CORPUS" "${CARGS[@]}" >/dev/null
    }
fi
NV=0
while [[ -d $CORPUS/v$NV ]]; do NV=$(( NV + 1 )); done
(( NV > 1 )) || die "no versions in $CORPUS"
[[ $QUICK == 1 && NV -gt 3 ]] && NV=3
result versions "$NV"

now_ns() { date +%s%N; }
secs_since() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.4f}')" "$1" "$(now_ns)"; }
sn_stat() { "$BIN" stats --data "$1" --json | $LIB field "${@:2}"; }
onoff() { [[ $1 == on ]] && echo true || echo false; }

# ---- the tars -----------------------------------------------------------------------------
TAR_BYTES=0
for (( v = 0; v < NV; v++ )); do
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$WORK/v$v.tar" \
        -C "$CORPUS/v$v" text
    TAR_BYTES=$(( TAR_BYTES + $(stat -c %s "$WORK/v$v.tar") ))
done
result tar_bytes "$TAR_BYTES"
log "$NV tars, $TAR_BYTES bytes in all"
cat "$WORK"/v*.tar > /dev/null

# series MODE DIR: imports every tar as a version of /text.tar into a new store; MODE is
# on|off (delta, LZ4 for whole chunks) or zon|zoff (the same with zstd:3); prints the wall
# seconds and the CPU seconds (user + system) of the imports
series() {
    local comp=lz4 delta=${1#z}
    [[ $1 == z* ]] && comp=zstd
    rm -rf "$2"
    "$BIN" init --data "$2" --compression "$comp" > /dev/null
    : > "$WORK/times"
    for (( v = 0; v < NV; v++ )); do
        SILENT_NAS_STORAGE_DELTA=$(onoff "$delta") /usr/bin/time -f '%e %U %S' -a \
            -o "$WORK/times" "$BIN" put --data "$2" --home bench /text.tar \
            < "$WORK/v$v.tar" > /dev/null
        if [[ $2 == */sn-* ]]; then
            result "tar_$1_stored_v$v" "$(sn_stat "$2" stored_bytes)"
        fi
    done
    awk '{w += $1; c += $2 + $3} END {printf "%.3f %.3f\n", w, c}' "$WORK/times"
}

# ---- 1. the tar series, alternating off / on ----------------------------------------------
series off "$WORK/sn-off" > /dev/null
series on "$WORK/sn-on" > /dev/null
best_off=""; best_on=""; cpu_off=""; cpu_on=""
for (( r = 0; r < RUNS; r++ )); do
    for mode in off on; do
        read -r s c < <(series "$mode" "$WORK/run-$mode")
        rm -rf "$WORK/run-$mode"
        log "  run $r, delta $mode: ${s}s wall, ${c}s CPU (load $(loadavg))"
        if [[ $mode == off ]]; then
            [[ -z $best_off ]] || fgt "$best_off" "$s" && best_off=$s
            [[ -z $cpu_off ]] || fgt "$cpu_off" "$c" && cpu_off=$c
        else
            [[ -z $best_on ]] || fgt "$best_on" "$s" && best_on=$s
            [[ -z $cpu_on ]] || fgt "$cpu_on" "$c" && cpu_on=$c
        fi
    done
done
for mode in zoff zon; do
    series "$mode" "$WORK/sn-$mode" > /dev/null
done
for mode in off on zoff zon; do
    read -r stored pack < <(sn_stat "$WORK/sn-$mode" stored_bytes pack_bytes | paste -sd' ')
    result "tar_${mode}_stored" "$stored"
    result "tar_${mode}_pack" "$pack"
    log "  $mode: stored $stored, packs $pack"
done
"$BIN" stats --data "$WORK/sn-on" --json > "$OUT/delta-stats.json"
result tar_off_mbps "$(rate "$TAR_BYTES" "$best_off")"
result tar_on_mbps "$(rate "$TAR_BYTES" "$best_on")"
result tar_off_cpu_mbps "$(rate "$TAR_BYTES" "$cpu_off")"
result tar_on_cpu_mbps "$(rate "$TAR_BYTES" "$cpu_on")"

export BORG_BASE_DIR=$WORK/borg-base BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
borg init -e none "$WORK/borg"
t0=$(now_ns)
for (( v = 0; v < NV; v++ )); do
    borg create --compression zstd,3 "$WORK/borg::v$v" - < "$WORK/v$v.tar"
done
result borg_secs "$(secs_since "$t0")"
result borg_stored "$(du -sb "$WORK/borg" | cut -f1)"
result borg_csize "$(borg info --json "$WORK/borg" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["cache"]["stats"]["unique_csize"])')"

# ---- 2. reading the newest and the oldest version back (delta store and plain store) -----
for store in on off; do
    for which in newest oldest; do
        args=(); [[ $which == oldest ]] && args=(--version 1)
        "$BIN" cat --data "$WORK/sn-$store" --home bench /text.tar "${args[@]}" > /dev/null
        best=""
        for _ in 1 2 3 4 5; do
            t0=$(now_ns)
            "$BIN" cat --data "$WORK/sn-$store" --home bench /text.tar "${args[@]}" > /dev/null
            s=$(secs_since "$t0")
            [[ -z $best ]] || fgt "$best" "$s" && best=$s
        done
        size=$(stat -c %s "$WORK/v$([[ $which == oldest ]] && echo 0 || echo $(( NV - 1 ))).tar")
        suffix=""; [[ $store == off ]] && suffix=_plain
        result "read_${which}${suffix}_mbps" "$(rate "$size" "$best")"
    done
done

# ---- 3. 1-byte edit in the middle of the image ---------------------------------------------
cp "$CORPUS/v$(( NV - 1 ))/image.bin" "$WORK/image.bin"
for mode in off on; do
    D=$WORK/img-$mode
    SILENT_NAS_STORAGE_DELTA=$(onoff $mode) "$BIN" put --data "$D" --home bench /image.bin \
        < "$WORK/image.bin" > /dev/null
done
$LIB flip "$WORK/image.bin" $(( 32 << 20 )) > /dev/null
for mode in off on; do
    D=$WORK/img-$mode
    read -r s0 p0 < <(sn_stat "$D" stored_bytes pack_bytes | paste -sd' ')
    SILENT_NAS_STORAGE_DELTA=$(onoff $mode) "$BIN" put --data "$D" --home bench /image.bin \
        < "$WORK/image.bin" > /dev/null
    read -r s1 p1 < <(sn_stat "$D" stored_bytes pack_bytes | paste -sd' ')
    result "edit_${mode}_stored_growth" "$(( s1 - s0 ))"
    result "edit_${mode}_pack_growth" "$(( p1 - p0 ))"
done

# ---- 4. the directory series --------------------------------------------------------------
for mode in off on; do
    D=$WORK/dir-$mode
    t0=$(now_ns)
    for (( v = 0; v < NV; v++ )); do
        SILENT_NAS_STORAGE_DELTA=$(onoff $mode) "$BIN" import --data "$D" --home bench -q \
            "$CORPUS/v$v" --dest / > /dev/null
    done
    result "dir_${mode}_secs" "$(secs_since "$t0")"
    result "dir_${mode}_stored" "$(sn_stat "$D" stored_bytes)"
done

python3 "$HERE/delta_summary.py" "$RESULTS" | tee "$OUT/delta-summary.txt"
