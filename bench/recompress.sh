#!/usr/bin/env bash
# Cold recompression (docs/design/delta.md, "Cold recompression"), measured in one run:
#
#   bench/recompress.sh [--quick]
#
# 1. a store of the corpus's text tree, NV versions imported side by side (/v0 … /vN-1)
#    with LZ4 (`silent-nas init --compression lz4`, `silent-nas import`);
# 2. the shrink: on a copy of that store, the worker run to the end (unthrottled, no load),
#    then `silent-nas gc` (which compacts the packs the old frames left dead) and
#    `fsck --verify-data`; stored bytes and pack bytes before and after;
# 3. a foreground read/write load over WebDAV (bench/recompress_load.py: 4 threads, GETs of
#    random corpus files, every 5th op a PUT of a new 256 KiB text) in windows of WINDOW
#    seconds, alternating: without the worker, then with the recompress worker running
#    (`POST /api/v1/admin/workers/recompress/run`, the server's default rate and level
#    unless RATE / LEVEL say otherwise) — the server is restarted for every window, so both
#    kinds start alike; the worker is interrupted by the stop and resumes in its next
#    window (its cursor survives) — until the worker has finished or ROUNDS rounds ran.
#    With oha (OHA=PATH, on PATH, or ~/.cache/silent-nas/tools/bin/oha), each window also
#    runs 2 connections of GETs of one big file (v0's text end to end, in the store too),
#    which load the server rather than the Python client.
#
# Data: the corpus of ../shared/datasets/make_corpus.py (CORPUS=DIR reuses one; else it is
# built in bench/out/corpus); without ../shared, generated text (a made-up vocabulary, see
# `gen_text` below) stands in, and the summary says so.
#
# --quick   2 versions, windows of 5 s, 2 rounds.
#
# Environment:
#   SILENT_NAS_BIN   use this binary instead of building a release binary of this checkout
#   CORPUS           reuse a corpus made by make_corpus.py
#   NV               versions of the text tree to import (default 4)
#   WINDOW ROUNDS    seconds per load window (default 10), rounds at most (default 4)
#   RATE LEVEL       [workers] recompress_rate / recompress_level (default: the server's)
#   KEEP=1           keep bench/out/recompress-work
#
# Output: the table on stdout and in bench/out/recompress-summary.txt; raw figures in
# bench/out/recompress-results.tsv.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
SHARED=$(dirname "$REPO")/shared
OUT=$HERE/out
WORK=$OUT/recompress-work
NAME=recompress.sh
RESULTS=$OUT/recompress-results.tsv
SUMMARY=$OUT/recompress-summary.txt
PW=bench-admin-pw
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
if [[ $QUICK == 1 ]]; then NV=${NV:-2}; WINDOW=${WINDOW:-5}; ROUNDS=${ROUNDS:-2}; fi
NV=${NV:-4}; WINDOW=${WINDOW:-10}; ROUNDS=${ROUNDS:-4}

trap cleanup EXIT
rm -rf "$WORK"; mkdir -p "$WORK" "$OUT"
: > "$RESULTS"
release_bin

# ---- the data -----------------------------------------------------------------------------
gen_text() { # DIR N: N versions of 60 text files of 200 KiB, each version a few edits on
    python3 - "$1" "$2" <<'PY'
import os, random, sys
out, nv = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
syl = ["ka", "lo", "mi", "nu", "re", "sa", "ti", "vo", "wen", "dor", "ish", "bal", "un", "ter"]
vocab = ["".join(rnd.choice(syl) for _ in range(rnd.randint(1, 4))) for _ in range(3000)]
docs = [" ".join(rnd.choice(vocab[: rnd.randint(50, 3000)]) for _ in range(40000))
        for _ in range(60)]
for v in range(nv):
    d = os.path.join(out, f"v{v}", "text")
    os.makedirs(d, exist_ok=True)
    for i, t in enumerate(docs):
        open(os.path.join(d, f"doc{i}.txt"), "w").write(t[: 200 << 10])
    docs = [t[: p] + " " + rnd.choice(vocab) + " " + t[p:]
            for t in docs for p in [rnd.randrange(len(t))]]
PY
}
SOURCE="make_corpus.py text tree"
if [[ -z ${CORPUS:-} ]]; then
    if [[ -f $SHARED/datasets/make_corpus.py ]]; then
        CORPUS=$OUT/corpus
        [[ -f $CORPUS/MANIFEST.tsv ]] || {
            log "building corpus in $CORPUS"
            python3 "$SHARED/datasets/make_corpus.py" "$CORPUS" --small 1 >/dev/null
        }
    else
        CORPUS=$WORK/gen; SOURCE="generated text (no ../shared)"
        log "no $SHARED/datasets: generating text in $CORPUS"
        gen_text "$CORPUS" "$NV"
    fi
fi
for (( v = 0; v < NV; v++ )); do [[ -d $CORPUS/v$v/text ]] || die "no $CORPUS/v$v/text"; done
result source "$SOURCE"
result versions "$NV"

D=$WORK/store
"$BIN" init --data "$D" --compression lz4 > /dev/null
for (( v = 0; v < NV; v++ )); do
    "$BIN" import --data "$D" --home admin -q "$CORPUS/v$v/text" --dest "/v$v" > /dev/null
done
(cd "$CORPUS" && for (( v = 0; v < NV; v++ )); do
    find "v$v/text" -type f | sed "s#^v$v/text#v$v#"
done) > "$WORK/paths"
st() { "$BIN" stats --data "$D" --json | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(" ".join(str(d[k]) for k in sys.argv[1:]))' "$@"; }
read -r STORED0 PACK0 COMP0 < <(st stored_bytes pack_bytes saved_by_compression)
read -r UNIQUE < <(st unique_bytes)
result stored_before "$STORED0"; result pack_before "$PACK0"; result unique_bytes "$UNIQUE"
log "store: $(wc -l < "$WORK/paths") files, unique $UNIQUE B, stored $STORED0 B (LZ4), packs $PACK0 B"

# ---- the server, restarted for every window -----------------------------------------------
config() { # RATE_OVERRIDE
    {
        echo "[workers]"
        echo "recompress_interval = \"1000d\""
        echo "recompress_after = \"0d\""
        echo "gc_interval = \"off\""
        echo "scrub_interval = \"off\""
        if [[ -n ${1:-${RATE:-}} ]]; then echo "recompress_rate = \"${1:-$RATE}\""; fi
        if [[ -n ${LEVEL:-} ]]; then echo "recompress_level = $LEVEL"; fi
    } > "$WORK/cfg.toml"
}
start() {
    local logf=$WORK/serve.log
    : > "$logf"
    SILENT_NAS_ADMIN_PASSWORD=$PW RUST_LOG=warn \
        "$BIN" serve --data "$D" --listen 127.0.0.1:0 --config "$WORK/cfg.toml" > "$logf" 2>&1 &
    SN_PID=$!
    PIDS+=("$SN_PID")
    SN_ADDR=$(listen_addr "$logf" "$SN_PID" "silent-nas")
}
api() { curl -sf -u "admin:$PW" "$@"; }
worker_field() { # FIELD: the recompress worker's FIELD in /api/v1/admin/workers
    api "http://$SN_ADDR/api/v1/admin/workers" | python3 -c \
        'import json,sys; w=[w for w in json.load(sys.stdin)["workers"] if w["name"]=="recompress"][0]; print(json.dumps(w.get(sys.argv[1])))' "$1"
}
OHA=${OHA:-$(command -v oha || echo "$HOME/.cache/silent-nas/tools/bin/oha")}
[[ -x $OHA ]] || OHA=""
load() { # TAG: one window of foreground load; prints "MB/s of the mixed load [MB/s of oha]"
    local big=""
    if [[ -n $OHA ]]; then
        "$OHA" -z "${WINDOW}s" -c 2 --no-tui --output-format json -a "admin:$PW" \
            "http://$SN_ADDR/dav/big.txt" > "$WORK/oha.json" &
        big=$!
    fi
    read -r bytes ops secs < <(python3 "$HERE/recompress_load.py" "http://$SN_ADDR/dav" \
        "admin:$PW" "$WORK/paths" "$WINDOW" 4 "$1")
    echo -n "$(rate "$bytes" "$secs")"
    if [[ -n $big ]]; then
        wait "$big"
        echo -n " $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.2f" % (d["summary"]["sizePerSec"] / 1e6))' "$WORK/oha.json")"
    fi
    echo
}

# ---- 1. the shrink: the worker to the end on a copy of the store, no load; GC; fsck -------
cp -a "$D" "$WORK/store0"
D_LOAD=$D; D=$WORK/store0
config unlimited
start
t0=$(date +%s%N)
api -X POST "http://$SN_ADDR/api/v1/admin/workers/recompress/run" > /dev/null
until [[ $(worker_field running) == false && $(worker_field runs) != 0 ]]; do sleep 0.5; done
FINISH=$(python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.1f}')" "$t0" "$(date +%s%N)")
result finish_secs "$FINISH"
[[ $(worker_field last_error) == null ]] || die "the run failed: $(worker_field last_error)"
SUMMARY_LINE=$(worker_field last_outcome)
stop_pid "$SN_PID"
read -r STORED1 COMP1 DELTAS < <(st stored_bytes saved_by_compression delta_chunks)
"$BIN" gc --data "$D" > /dev/null
read -r PACK1 < <(st pack_bytes)
"$BIN" fsck --data "$D" --verify-data > "$WORK/fsck.txt" || die "fsck: $(cat "$WORK/fsck.txt")"
result stored_after "$STORED1"; result pack_after_gc "$PACK1"; result delta_chunks "$DELTAS"
result saved_by_compression "$COMP0 $COMP1"
log "shrink: stored $STORED0 -> $STORED1 B in ${FINISH}s unthrottled, packs after gc $PACK1 B"
rm -rf "$WORK/store0"
D=$D_LOAD

# ---- 2. foreground load with and without the worker, alternating ----------------------------
# the load's store also holds one big file (v0's text files end to end), read by oha
find "$CORPUS/v0/text" -type f | sort | xargs cat > "$WORK/big.txt"
"$BIN" put --data "$D" --home admin /big.txt < "$WORK/big.txt" > /dev/null
config
OFF=(); ON=(); DONE=0
OFF_BIG=(); ON_BIG=()
for (( r = 0; r < ROUNDS && DONE == 0; r++ )); do
    start
    read -r off off_big < <(load "off$r")
    stop_pid "$SN_PID"
    start
    api -X POST "http://$SN_ADDR/api/v1/admin/workers/recompress/run" > /dev/null
    read -r on on_big < <(load "on$r")
    # finished within the window: a run ended without an error
    if [[ $(worker_field runs) != 0 && $(worker_field last_error) == null ]]; then DONE=1; fi
    stop_pid "$SN_PID"
    OFF+=("$off"); ON+=("$on")
    result "round${r}_off_mbps" "$off"; result "round${r}_on_mbps" "$on"
    if [[ -n $OHA ]]; then
        OFF_BIG+=("$off_big"); ON_BIG+=("$on_big")
        result "round${r}_big_off_mbps" "$off_big"; result "round${r}_big_on_mbps" "$on_big"
    fi
    log "round $r: without the worker $off MB/s (big file ${off_big:-} MB/s), with it $on MB/s (${on_big:-} MB/s) (load $(loadavg))$([[ $DONE == 1 ]] && echo '; the worker finished')"
done
result rounds "${#OFF[@]}"
MEAN_OFF=$(python3 -c 'import sys; v=[float(x) for x in sys.argv[1:]]; print(f"{sum(v)/len(v):.2f}")' "${OFF[@]}")
MEAN_ON=$(python3 -c 'import sys; v=[float(x) for x in sys.argv[1:]]; print(f"{sum(v)/len(v):.2f}")' "${ON[@]}")
result fg_off_mbps "$MEAN_OFF"; result fg_on_mbps "$MEAN_ON"

{
    echo "cold recompression ($SOURCE, $NV versions, $(wc -l < "$WORK/paths") files)"
    echo "  stored before / after (stats)     $STORED0 / $STORED1 B   shrink $(python3 -c "import sys; print(f'{1 - int(sys.argv[2]) / int(sys.argv[1]):.1%}')" "$STORED0" "$STORED1") (goal >= 25%)"
    echo "  packs before / after gc           $PACK0 / $PACK1 B"
    echo "  saved by compression              $COMP0 -> $COMP1 B; delta chunks $DELTAS"
    echo "  foreground MB/s off / on          ${OFF[*]} / ${ON[*]}"
    echo "  mean off / on                     $MEAN_OFF / $MEAN_ON   on/off = $(python3 -c "import sys; print(f'{float(sys.argv[2]) / float(sys.argv[1]):.2f}')" "$MEAN_OFF" "$MEAN_ON") (goal >= 0.8)"
    if [[ -n $OHA ]]; then
        echo "  big-file GETs (oha -c 2) off / on  ${OFF_BIG[*]} / ${ON_BIG[*]}   on/off = $(python3 -c "import sys; n=len(sys.argv)//2; a=[float(x) for x in sys.argv[1:n+1]]; b=[float(x) for x in sys.argv[n+1:]]; print(f'{(sum(b)/len(b)) / (sum(a)/len(a)):.2f}')" "${OFF_BIG[@]}" "${ON_BIG[@]}")"
    fi
    echo "  worker                            rate ${RATE:-server default} under load, level ${LEVEL:-server default}; the shrink run (unthrottled, no load) took ${FINISH} s"
    echo "  last outcome                      $SUMMARY_LINE"
    echo "  fsck --verify-data                clean"
} | tee "$SUMMARY"
