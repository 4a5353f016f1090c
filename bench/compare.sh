#!/usr/bin/env bash
# Silent-NAS vs restic / borg, all measured in the same run on this machine.
#
#   bench/compare.sh [--quick]
#
# --quick   small corpus (3 versions, 500 small files), smaller big files, no 4 GiB test.
#
# Environment:
#   SILENT_NAS_BIN   use this binary instead of building target/release/silent-nas
#   CARGO_TARGET_DIR honoured when building
#   CORPUS           reuse an existing corpus (made by make_corpus.py), e.g. CORPUS=/tmp/corpus
#   REBUILD_CORPUS=1 rebuild the default corpus even if one is already in bench/out
#   KEEP=1           keep bench/out/work (stores, repos, temp files) after the run
#
# Needs: python3, restic, borg (borgbackup), /usr/bin/time (Debian "time"), dd, openssl
# (optional; random data for the 1 GiB / 4 GiB files, otherwise copies of a dd file).
# Output: the summary table on stdout and in bench/out/summary.txt; raw figures in
# bench/out/results.tsv; per-step wall time and peak RSS in bench/out/steps.tsv.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
SHARED=$(dirname "$REPO")/shared
OUT=$HERE/out
WORK=$OUT/work
LIB="python3 $HERE/benchlib.py"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

if [[ $QUICK == 1 ]]; then
    BIG_MB=128; GIG_MB=256; FOUR_MB=0
else
    BIG_MB=512; GIG_MB=1024; FOUR_MB=4096
fi

# ---- helpers ------------------------------------------------------------------------------

T0=$(date +%s)
log() { printf '[%5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { echo "compare.sh: $*" >&2; exit 1; }

now_ns() { date +%s%N; }
secs_since() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.4f}')" "$1" "$(now_ns)"; }
fadd() { python3 -c "import sys; print(f'{sum(float(x) for x in sys.argv[1:]):.4f}')" "$@"; }
# rate BYTES SECS UNIT: BYTES/SECS/UNIT (UNIT 1e6 for MB/s, 1e9 for GB/s)
rate() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]) / float(sys.argv[3]):.4f}')" "$@"; }
imax() { local m=$1; shift; for x in "$@"; do (( x > m )) && m=$x; done; echo "$m"; }

result() { printf '%s\t%s\n' "$1" "$2" >> "$RESULTS"; }

# run_timed TAG CMD...: runs CMD under /usr/bin/time; sets LAST_SECS (wall, ns clock) and
# LAST_RSS_KB (peak RSS); appends a line to steps.tsv. Redirect the call's stdout as needed.
LAST_SECS=0; LAST_RSS_KB=0
run_timed() {
    local tag=$1; shift
    local t0; t0=$(now_ns)
    /usr/bin/time -f '%M' -o "$WORK/time.out" "$@"
    LAST_SECS=$(secs_since "$t0")
    LAST_RSS_KB=$(tail -n1 "$WORK/time.out")
    printf '%s\t%s\t%s\n' "$tag" "$LAST_SECS" "$LAST_RSS_KB" >> "$STEPS"
    log "  $tag: ${LAST_SECS}s, peak RSS ${LAST_RSS_KB} KiB"
}

dusb() { du -sb "$1" | cut -f1; }
sn_stat() { "$BIN" stats --data "$1" --json | $LIB field "${@:2}"; }

# random_file PATH MIB SEED: MIB MiB of pseudo-random bytes (openssl AES-CTR; fast)
random_file() {
    if command -v openssl >/dev/null; then
        local key; key=$(printf '%032x' "$3")
        head -c "$(( $2 << 20 ))" /dev/zero \
            | openssl enc -aes-128-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000 > "$1"
    else
        # fallback: copies of the 512 MiB dd file, each with its own header (dedups mostly)
        : > "$1"
        local i
        for (( i = 0; i < $2 / BIG_MB; i++ )); do
            printf 'copy %08d seed %d\n' "$i" "$3" >> "$1"
            cat "$BIGSRC/big.bin" >> "$1"
        done
        truncate -s "$(( $2 << 20 ))" "$1"
    fi
}

cleanup() {
    local rc=$?
    if [[ ${KEEP:-0} != 1 && -d $WORK ]]; then
        rm -rf "$WORK"
    fi
    exit $rc
}

# ---- setup --------------------------------------------------------------------------------

for tool in python3 restic borg dd du; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y restic borgbackup)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install -y time)"

mkdir -p "$OUT"
rm -rf "$WORK"
mkdir -p "$WORK"
trap cleanup EXIT
RESULTS=$OUT/results.tsv
STEPS=$OUT/steps.tsv
: > "$RESULTS"
printf 'step\tseconds\tpeak_rss_kib\n' > "$STEPS"

if [[ -n ${SILENT_NAS_BIN:-} ]]; then
    BIN=$SILENT_NAS_BIN
else
    log "building release binary"
    (cd "$REPO" && cargo build --release -q -p silent-nas)
    BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/silent-nas
fi
[[ -x $BIN ]] || die "no binary at $BIN"

if [[ -z ${CORPUS:-} ]]; then
    if [[ $QUICK == 1 ]]; then CORPUS=$OUT/corpus-quick; CARGS=(--versions 3 --small 500)
    else CORPUS=$OUT/corpus; CARGS=(); fi
    if [[ ${REBUILD_CORPUS:-0} == 1 || ! -f $CORPUS/MANIFEST.tsv ]]; then
        log "building corpus in $CORPUS"
        python3 "$SHARED/datasets/make_corpus.py" "$CORPUS" "${CARGS[@]}" >/dev/null
    else
        log "reusing corpus $CORPUS (REBUILD_CORPUS=1 to rebuild)"
    fi
fi
CORPUS=$(cd "$CORPUS" && pwd)
NV=0
while [[ -d $CORPUS/v$NV ]]; do NV=$(( NV + 1 )); done
(( NV > 0 )) || die "no $CORPUS/v0"
[[ -d $CORPUS/small ]] || die "no $CORPUS/small"

CORPUS_BYTES=0
for (( v = 0; v < NV; v++ )); do
    read -r _f b < <($LIB tree "$CORPUS/v$v")
    CORPUS_BYTES=$(( CORPUS_BYTES + b ))
done
read -r SMALL_FILES SMALL_BYTES < <($LIB tree "$CORPUS/small")
result corpus_versions "$NV"
result corpus_bytes "$CORPUS_BYTES"
result small_files "$SMALL_FILES"
result small_bytes "$SMALL_BYTES"
log "corpus $CORPUS: $NV versions, $CORPUS_BYTES bytes; small/: $SMALL_FILES files, $SMALL_BYTES bytes"
log "warming the page cache with the corpus"
find "$CORPUS" -type f -exec cat {} + > /dev/null

export RESTIC_PASSWORD=bench-throwaway-password
export RESTIC_CACHE_DIR=$WORK/restic-cache
export BORG_BASE_DIR=$WORK/borg-base
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_CHECK_I_KNOW_WHAT_I_AM_DOING=YES

# ---- 3. Silent-NAS: every version into one home, LZ4 and zstd -----------------------------

for mode in lz4 zstd; do
    D=$WORK/sn-$mode
    comp=()
    [[ $mode == zstd ]] && comp=(--compression zstd)
    log "silent-nas import, $mode, $NV versions"
    total=0; rss=()
    for (( v = 0; v < NV; v++ )); do
        run_timed "sn_${mode}_v$v" "$BIN" import --data "$D" --home bench -q --json \
            "$CORPUS/v$v" --dest / "${comp[@]}" > "$WORK/import.json"
        total=$(fadd "$total" "$LAST_SECS"); rss+=("$LAST_RSS_KB")
    done
    read -r stored pack meta < <(sn_stat "$D" stored_bytes pack_bytes meta_bytes | paste -sd' ')
    result "sn_${mode}_secs" "$total"
    result "sn_${mode}_rss_kb" "$(imax "${rss[@]}")"
    result "sn_${mode}_stored" "$stored"
    result "sn_${mode}_ondisk" "$(( pack + meta ))"
    result "sn_${mode}_du" "$(dusb "$D")"
    log "  $mode: ${total}s; stored $stored, pack $pack + meta $meta, du $(dusb "$D")"
done

# ---- 7. 1-byte edit of image.bin (LZ4 store) ----------------------------------------------

D=$WORK/sn-lz4
log "1-byte edit of image.bin"
cp "$CORPUS/v$(( NV - 1 ))/image.bin" "$WORK/image.bin"
off=$($LIB flip "$WORK/image.bin" $(( 32 << 20 )))
read -r s0 p0 m0 < <(sn_stat "$D" stored_bytes pack_bytes meta_bytes | paste -sd' ')
du0=$(dusb "$D")
run_timed sn_put_edited_image "$BIN" put --data "$D" --home bench /image.bin < "$WORK/image.bin" >/dev/null
read -r s1 p1 m1 < <(sn_stat "$D" stored_bytes pack_bytes meta_bytes | paste -sd' ')
du1=$(dusb "$D")
result edit_offset "$off"
result edit_stored_growth "$(( s1 - s0 ))"
result edit_ondisk_growth "$(( p1 + m1 - p0 - m0 ))"
result edit_du_growth "$(( du1 - du0 ))"
log "  growth: stored $(( s1 - s0 )), pack $(( p1 - p0 )), meta $(( m1 - m0 )), du $(( du1 - du0 ))"
rm -f "$WORK/image.bin"

# ---- 4. restic ----------------------------------------------------------------------------

R=$WORK/restic-repo
log "restic init + backup, $NV versions"
restic init --repo "$R" --repository-version 2 -q >/dev/null
total=0; rss=()
for (( v = 0; v < NV; v++ )); do
    pushd "$CORPUS/v$v" >/dev/null
    run_timed "restic_v$v" restic backup --repo "$R" -q . >/dev/null
    popd >/dev/null
    total=$(fadd "$total" "$LAST_SECS"); rss+=("$LAST_RSS_KB")
done
result restic_secs "$total"
result restic_rss_kb "$(imax "${rss[@]}")"
result restic_du "$(dusb "$R")"
log "  restic: ${total}s, repo du $(dusb "$R")"
rm -rf "$R" "$RESTIC_CACHE_DIR"

# ---- 5. borg ------------------------------------------------------------------------------

B=$WORK/borg-repo
log "borg init + create (zstd,3), $NV versions"
borg init --encryption=none "$B"
total=0; rss=()
for (( v = 0; v < NV; v++ )); do
    pushd "$CORPUS/v$v" >/dev/null
    run_timed "borg_v$v" borg create --compression zstd,3 "$B::v$v" . >/dev/null
    popd >/dev/null
    total=$(fadd "$total" "$LAST_SECS"); rss+=("$LAST_RSS_KB")
done
result borg_secs "$total"
result borg_rss_kb "$(imax "${rss[@]}")"
result borg_du "$(dusb "$B")"
log "  borg: ${total}s, repo du $(dusb "$B")"
rm -rf "$B" "$BORG_BASE_DIR"
rm -rf "$WORK/sn-zstd"

# ---- 6. small files -----------------------------------------------------------------------

log "small files: silent-nas import vs restic backup ($SMALL_FILES files)"
run_timed sn_small "$BIN" import --data "$WORK/sn-small" --home bench -q --json \
    "$CORPUS/small" --dest /small > /dev/null
result sn_small_secs "$LAST_SECS"
result sn_small_rss_kb "$LAST_RSS_KB"
R=$WORK/restic-small
restic init --repo "$R" --repository-version 2 -q >/dev/null
pushd "$CORPUS/small" >/dev/null
run_timed restic_small restic backup --repo "$R" -q . >/dev/null
popd >/dev/null
result restic_small_secs "$LAST_SECS"
result restic_small_rss_kb "$LAST_RSS_KB"
rm -rf "$WORK/sn-small" "$R" "$RESTIC_CACHE_DIR"

# ---- 8. disk rate: dd vs import of one random file ----------------------------------------

BIGSRC=$WORK/bigsrc
mkdir -p "$BIGSRC"
log "disk rate: ${BIG_MB} MiB random file, dd conv=fsync vs import"
dd if=/dev/urandom of="$BIGSRC/big.bin" bs=1M count="$BIG_MB" status=none
BIG_BYTES=$(stat -c %s "$BIGSRC/big.bin")
result big_bytes "$BIG_BYTES"
sync
run_timed dd_fsync dd if="$BIGSRC/big.bin" of="$WORK/dd.out" bs=1M conv=fsync status=none
result dd_mbps "$(rate "$BIG_BYTES" "$LAST_SECS" 1e6)"
rm -f "$WORK/dd.out"
sync
D=$WORK/sn-big
run_timed sn_import_big "$BIN" import --data "$D" --home bench -q --json "$BIGSRC" --dest / > /dev/null
result sn_big_mbps "$(rate "$BIG_BYTES" "$LAST_SECS" 1e6)"
result sn_big_rss_kb "$LAST_RSS_KB"

# ---- 9. read speed of an old version ------------------------------------------------------

log "read speed: cat --version 1 of /big.bin"
$LIB flip "$BIGSRC/big.bin" $(( BIG_BYTES / 2 )) >/dev/null
run_timed sn_put_big_v2 "$BIN" put --data "$D" --home bench /big.bin < "$BIGSRC/big.bin" >/dev/null
run_timed sn_cat_v1_run1 "$BIN" cat --data "$D" --home bench /big.bin --version 1 > /dev/null
run_timed sn_cat_v1_run2 "$BIN" cat --data "$D" --home bench /big.bin --version 1 > /dev/null
result cat_gbps "$(rate "$BIG_BYTES" "$LAST_SECS" 1e9)"
result cat_rss_kb "$LAST_RSS_KB"
run_timed pagecache_cat cat "$BIGSRC/big.bin" > /dev/null
result pagecache_gbps "$(rate "$BIG_BYTES" "$LAST_SECS" 1e9)"

# ---- 11. restore an old version of a 1 GiB file -------------------------------------------

log "restore: ${GIG_MB} MiB file, 2 versions, restore --version 1"
random_file "$WORK/gig.bin" "$GIG_MB" 11
result gig_bytes "$(stat -c %s "$WORK/gig.bin")"
run_timed sn_put_gig_v1 "$BIN" put --data "$D" --home bench /gig.bin < "$WORK/gig.bin" >/dev/null
$LIB flip "$WORK/gig.bin" $(( GIG_MB << 19 )) >/dev/null
run_timed sn_put_gig_v2 "$BIN" put --data "$D" --home bench /gig.bin < "$WORK/gig.bin" >/dev/null
rm -f "$WORK/gig.bin"
run_timed sn_restore_gig_v1 "$BIN" restore --data "$D" --home bench /gig.bin --version 1 >/dev/null
result restore_secs "$LAST_SECS"
rm -rf "$D" "$BIGSRC"

# ---- 10. peak RSS importing a 4 GiB file --------------------------------------------------

if (( FOUR_MB > 0 )); then
    log "peak RSS: importing a ${FOUR_MB} MiB file"
    mkdir -p "$WORK/four"
    if command -v openssl >/dev/null; then
        result four_kind "openssl-aes-ctr-random"
    else
        BIGSRC=$WORK/bigsrc-four; mkdir -p "$BIGSRC"
        dd if=/dev/urandom of="$BIGSRC/big.bin" bs=1M count="$BIG_MB" status=none
        result four_kind "dd-copies-with-headers"
    fi
    random_file "$WORK/four/four.bin" "$FOUR_MB" 44
    rm -rf "$WORK/bigsrc-four"
    FOUR_BYTES=$(stat -c %s "$WORK/four/four.bin")
    result four_bytes "$FOUR_BYTES"
    run_timed sn_import_4g "$BIN" import --data "$WORK/sn-four" --home bench -q --json \
        "$WORK/four" --dest / > /dev/null
    result four_rss_kb "$LAST_RSS_KB"
    result four_mbps "$(rate "$FOUR_BYTES" "$LAST_SECS" 1e6)"
    rm -rf "$WORK/four" "$WORK/sn-four"
fi

# ---- 12. summary --------------------------------------------------------------------------

{
    echo "Silent-NAS vs restic $(restic version | awk '{print $2}') / borg $(borg --version | awk '{print $2}')" \
        "— $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || echo '+uncommitted')" \
        "$( [[ $QUICK == 1 ]] && echo '(QUICK)')"
    echo "corpus $CORPUS: $NV versions, $CORPUS_BYTES bytes; small: $SMALL_FILES files"
    echo "restic: repo v2, compression auto; borg: --encryption=none --compression zstd,3"
    echo
    $LIB summary "$RESULTS"
} | tee "$OUT/summary.txt"
log "done; summary in $OUT/summary.txt, raw figures in $RESULTS, steps in $STEPS"
