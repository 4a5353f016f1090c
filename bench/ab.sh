#!/usr/bin/env bash
# A/B of two silent-nas binaries on the large-file paths, measured alternately in the same
# run (this machine is noisy: only the ratio means much): a large WebDAV PUT (`curl -T`) and
# GET (`curl -o /dev/null`), and an S3 PutObject of the same file (`curl -T` of a presigned
# URL, needs python3 with boto3), ROUNDS rounds, the order of A and B swapped every round.
#
#   bench/ab.sh BIN_A BIN_B [SIZE_MIB] [ROUNDS]      (defaults: 1024 MiB, 3 rounds)
#
# Prints per-round MB/s and the median of each, and B/A ratios.
set -euo pipefail
A=$1 B=$2 SIZE=${3:-1024} ROUNDS=${4:-3}
a=$A b=$B
work=$(mktemp -d)
# (start runs in a command substitution, a subshell: the servers' pids go through a file)
cleanup() {
    local p
    for p in $(cat "$work/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
head -c $((SIZE << 20)) /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:ab -pbkdf2 > "$work/data.bin" 2>/dev/null
start() { # BIN NAME -> prints the address
    mkdir -p "$work/$2"
    SILENT_NAS_ADMIN_PASSWORD=ab-bench-password RUST_LOG=warn \
        "$1" serve --data "$work/$2/data" --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 > "$work/$2/out" 2> "$work/$2/err" &
    echo $! >> "$work/pids"
    for _ in $(seq 100); do
        grep -q "S3 API on" "$work/$2/out" 2>/dev/null && grep -q "listening on" "$work/$2/out" && break
        sleep 0.1
    done
    sed -n 's|^listening on http://\([^/]*\)/.*|\1|p' "$work/$2/out"
}
s3addr() { sed -n 's|^S3 API on http://\([^/]*\)/.*|\1|p' "$work/$1/out"; }
HERE=$(cd "$(dirname "$0")" && pwd)
# presign NAME KEY: a presigned PutObject URL of bucket `abbench` on server NAME (made once)
presign() {
    local ak sk
    if [ ! -f "$work/$1/key" ]; then
        "${!1}" key create admin --data "$work/$1/data" > "$work/$1/key"
        read -r ak sk < "$work/$1/key"
        S3_ENDPOINT=http://$(s3addr "$1") AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk \
            AWS_DEFAULT_REGION=us-east-1 python3 "$HERE/s3_lib.py" mkbucket abbench > /dev/null
    fi
    read -r ak sk < "$work/$1/key"
    S3_ENDPOINT=http://$(s3addr "$1") AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk \
        AWS_DEFAULT_REGION=us-east-1 python3 "$HERE/s3_lib.py" presign put abbench "$2"
}
addr_a=$(start "$A" a)
addr_b=$(start "$B" b)
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / t / 1e6 }'; }
put() { curl -s -o /dev/null -u admin:ab-bench-password -T "$work/data.bin" -w '%{time_total}' "http://$1/dav/r$2.bin"; }
get() { curl -s -o /dev/null -u admin:ab-bench-password -w '%{time_total}' "http://$1/dav/r$2.bin"; }
bytes=$((SIZE << 20))
declare -A res
for r in $(seq "$ROUNDS"); do
    order="a b"; [ $((r % 2)) = 0 ] && order="b a"
    for who in $order; do
        addr=addr_$who
        p=$(put "${!addr}" "$r"); g=$(get "${!addr}" "$r")
        url=$(presign "$who" "r$r.bin")
        s=$(curl -s -o /dev/null -T "$work/data.bin" -w '%{time_total}' "$url")
        res[$who-put]+="$(mbps $bytes "$p") "; res[$who-get]+="$(mbps $bytes "$g") "
        res[$who-s3put]+="$(mbps $bytes "$s") "
        echo "round $r $who: PUT $(mbps $bytes "$p") MB/s, GET $(mbps $bytes "$g") MB/s, S3 PUT $(mbps $bytes "$s") MB/s"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for op in put get s3put; do
    ma=$(echo "${res[a-$op]}" | median); mb=$(echo "${res[b-$op]}" | median)
    echo "$op: A median $ma MB/s, B median $mb MB/s, B/A $(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", b / a }')"
done
