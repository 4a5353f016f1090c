#!/usr/bin/env bash
# Real S3 clients against the door: awscli (cp/sync, multipart above 8 MiB; s3api calls),
# rclone's s3 backend (copy, check, recursive ls, copy down), s3cmd (put/get, multipart),
# WebDAV on the same files, and another user's keys kept out.
#
#   clients.sh ENDPOINT ACCESS_KEY SECRET CORPUS_DIR WEBDAV_URL DAV_USER DAV_PASS OTHER_KEY OTHER_SECRET
#
# Run by crates/cli/tests/s3_clients.rs; exits non-zero at the first failed check.
set -euo pipefail
EP=$1 AK=$2 SK=$3 CORPUS=$4 DAV=$5 DAV_USER=$6 DAV_PASS=$7 BOB_AK=$8 BOB_SK=$9
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
nfiles=$(find "$CORPUS" -type f | wc -l)

# --- awscli
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
aws() { command aws --endpoint-url "$EP" "$@"; }
aws s3 mb s3://awscli >/dev/null
aws s3 cp --recursive --only-show-errors "$CORPUS" s3://awscli/corpus
aws s3 sync --only-show-errors "$CORPUS" s3://awscli/corpus
again=$(aws s3 sync --dryrun "$CORPUS" s3://awscli/corpus | wc -l)
[ "$again" -eq 0 ] || fail "aws s3 sync wants to upload $again files a second time"
aws s3 cp --recursive --only-show-errors s3://awscli/corpus "$WORK/aws-down"
diff -r -q "$CORPUS" "$WORK/aws-down" || fail "aws s3 cp down differs"
etag=$(aws s3api head-object --bucket awscli --key corpus/image.bin --query ETag --output text)
[[ "$etag" == *-* ]] || fail "image.bin (64 MiB) should have gone up in parts: ETag $etag"
count=$(aws s3api list-objects-v2 --bucket awscli --prefix corpus/ --query 'length(Contents)' --output text)
[ "$count" -eq "$nfiles" ] || fail "list-objects-v2 counts $count keys, corpus has $nfiles files"
count=$(aws s3api list-objects --bucket awscli --prefix corpus/ --query 'length(Contents)' --output text)
[ "$count" -eq "$nfiles" ] || fail "list-objects (v1) counts $count keys, corpus has $nfiles files"
printf first >"$WORK/v1" && printf second >"$WORK/v2"
aws s3api put-object --bucket awscli --key versioned.txt --body "$WORK/v1" >/dev/null
aws s3api put-object --bucket awscli --key versioned.txt --body "$WORK/v2" >/dev/null
[ "$(aws s3api list-object-versions --bucket awscli --prefix versioned.txt --query 'length(Versions)' --output text)" -eq 2 ] \
  || fail "two versions of versioned.txt"
echo "awscli ok ($nfiles files)"

# --- WebDAV sees the same files; a versioned overwrite over S3 is a version over WebDAV
curl -sf -u "$DAV_USER:$DAV_PASS" "$DAV/awscli/corpus/media.bin" -o "$WORK/media.dav"
cmp "$WORK/media.dav" "$CORPUS/media.bin" || fail "WebDAV reads the object S3 wrote"
[ "$(curl -sf -u "$DAV_USER:$DAV_PASS" "$DAV/awscli/versioned.txt?version=1")" = first ] \
  || fail "version 1 over WebDAV"
[ "$(curl -sf -u "$DAV_USER:$DAV_PASS" "$DAV/awscli/versioned.txt")" = second ] || fail "head over WebDAV"
printf 'from webdav' | curl -sf -u "$DAV_USER:$DAV_PASS" -T - "$DAV/awscli/dav.txt"
[ "$(aws s3 cp s3://awscli/dav.txt -)" = "from webdav" ] || fail "S3 reads the file WebDAV wrote"
echo "cross-door ok"

# --- another user's keys see their own namespace only, whatever the spelling
bob() { AWS_ACCESS_KEY_ID=$BOB_AK AWS_SECRET_ACCESS_KEY=$BOB_SK command aws --endpoint-url "$EP" "$@"; }
if bob s3 ls s3://awscli/corpus/ >/dev/null 2>&1; then fail "bob lists admin's bucket"; fi
if bob s3api get-object --bucket awscli --key corpus/media.bin "$WORK/x" >/dev/null 2>&1; then fail "bob reads admin's object"; fi
bob s3 mb s3://bobs >/dev/null
for key in "../awscli/corpus/media.bin" "..%2Fawscli/corpus/media.bin" "./../awscli/dav.txt"; do
  if bob s3api get-object --bucket bobs --key "$key" "$WORK/x" >/dev/null 2>&1; then fail "bob reads via key $key"; fi
done
[ "$(bob s3api list-buckets --query 'Buckets[].Name' --output text)" = bobs ] || fail "bob's bucket list"
code=$(curl -s -o /dev/null -w '%{http_code}' "$EP/awscli/dav.txt")
[ "$code" = 403 ] || fail "an anonymous GET answers $code"
echo "isolation ok"

# --- rclone (s3 backend)
unset AWS_CA_BUNDLE
rcl() {
  RCLONE_CONFIG=/dev/null RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other \
  RCLONE_CONFIG_S3_ACCESS_KEY_ID=$AK RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=$SK \
  RCLONE_CONFIG_S3_ENDPOINT=$EP RCLONE_CONFIG_S3_REGION=us-east-1 RCLONE_CONFIG_S3_FORCE_PATH_STYLE=true \
  rclone "$@"
}
rcl mkdir s3:rclone
rcl copy "$CORPUS" s3:rclone/corpus --transfers 8 --s3-upload-cutoff 8M --s3-chunk-size 5M
rcl check "$CORPUS" s3:rclone/corpus 2>"$WORK/check.log" || { cat "$WORK/check.log"; fail "rclone check"; }
listed=$(rcl ls s3:rclone | wc -l)
[ "$listed" -eq "$nfiles" ] || fail "rclone ls lists $listed files, corpus has $nfiles"
rcl copy s3:rclone/corpus "$WORK/rclone-down" --transfers 8
diff -r -q "$CORPUS" "$WORK/rclone-down" || fail "rclone copy down differs"
echo "rclone ok"

# --- s3cmd
host=${EP#http://}
cat >"$WORK/s3cfg" <<EOF
[default]
access_key = $AK
secret_key = $SK
host_base = $host
host_bucket = $host
use_https = False
signature_v2 = False
bucket_location = us-east-1
multipart_chunk_size_mb = 5
EOF
s3c() { s3cmd -c "$WORK/s3cfg" --no-progress "$@"; }
s3c mb s3://s3cmd >/dev/null
s3c put "$CORPUS/notes.gz" s3://s3cmd/notes.gz >/dev/null
s3c put "$CORPUS/media.bin" s3://s3cmd/media.bin >/dev/null   # 16 MiB: multipart with 5 MiB parts
s3c get s3://s3cmd/notes.gz "$WORK/notes.gz" >/dev/null
s3c get s3://s3cmd/media.bin "$WORK/media.s3cmd" >/dev/null
cmp "$WORK/notes.gz" "$CORPUS/notes.gz" || fail "s3cmd get notes.gz"
cmp "$WORK/media.s3cmd" "$CORPUS/media.bin" || fail "s3cmd get media.bin"
listing=$(s3c ls s3://s3cmd)
[[ "$listing" == *s3://s3cmd/media.bin* ]] || fail "s3cmd ls: $listing"
echo "s3cmd ok"
echo "all S3 clients ok"
