#!/usr/bin/env python3
"""A retried CompleteMultipartUpload gets the first answer; Abort of an unknown upload is 404."""
from aws_common import client, code

s3 = client()
s3.create_bucket(Bucket="mpretry")
part = b"p" * (5 << 20)
up = s3.create_multipart_upload(Bucket="mpretry", Key="dir/big.bin", ChecksumAlgorithm="SHA256")
uid = up["UploadId"]
p1 = s3.upload_part(Bucket="mpretry", Key="dir/big.bin", UploadId=uid, PartNumber=1, Body=part,
                    ChecksumAlgorithm="SHA256")
p2 = s3.upload_part(Bucket="mpretry", Key="dir/big.bin", UploadId=uid, PartNumber=2, Body=b"tail",
                    ChecksumAlgorithm="SHA256")
parts = {"Parts": [{"PartNumber": 1, "ETag": p1["ETag"], "ChecksumSHA256": p1["ChecksumSHA256"]},
                   {"PartNumber": 2, "ETag": p2["ETag"], "ChecksumSHA256": p2["ChecksumSHA256"]}]}
first = s3.complete_multipart_upload(Bucket="mpretry", Key="dir/big.bin", UploadId=uid, MultipartUpload=parts)
assert first["ETag"].endswith('-2"'), first
# the client lost the first answer and retries: the same answer, no new version
again = s3.complete_multipart_upload(Bucket="mpretry", Key="dir/big.bin", UploadId=uid, MultipartUpload=parts)
for k in ("ETag", "VersionId", "ChecksumSHA256", "Bucket", "Key"):
    assert again.get(k) == first.get(k), (k, first.get(k), again.get(k))
versions = s3.list_object_versions(Bucket="mpretry", Prefix="dir/big.bin").get("Versions", [])
assert len(versions) == 1, versions
head = s3.head_object(Bucket="mpretry", Key="dir/big.bin")
assert head["ETag"] == first["ETag"] and head["ContentLength"] == len(part) + 4, head
# a completed upload is no longer in progress
assert s3.list_multipart_uploads(Bucket="mpretry").get("Uploads", []) == []
assert code(s3.list_parts, Bucket="mpretry", Key="dir/big.bin", UploadId=uid) == ("NoSuchUpload", 404)
assert code(s3.upload_part, Bucket="mpretry", Key="dir/big.bin", UploadId=uid, PartNumber=3,
            Body=b"late") == ("NoSuchUpload", 404)
assert code(s3.abort_multipart_upload, Bucket="mpretry", Key="dir/big.bin", UploadId=uid) == ("NoSuchUpload", 404)
# the retry still answers after those refusals; under another key it is no such upload
assert s3.complete_multipart_upload(Bucket="mpretry", Key="dir/big.bin", UploadId=uid,
                                    MultipartUpload=parts)["ETag"] == first["ETag"]
assert code(s3.complete_multipart_upload, Bucket="mpretry", Key="other.bin", UploadId=uid,
            MultipartUpload=parts) == ("NoSuchUpload", 404)

# Abort: an id that never existed is NoSuchUpload (404); a real one 204, then 404
never = "2f0f1cbf5a7e4d5c9e0b7c1d2e3f4a5b"
assert code(s3.abort_multipart_upload, Bucket="mpretry", Key="x.bin", UploadId=never) == ("NoSuchUpload", 404)
assert code(s3.abort_multipart_upload, Bucket="mpretry", Key="x.bin", UploadId="not an id") == ("NoSuchUpload", 404)
up = s3.create_multipart_upload(Bucket="mpretry", Key="x.bin")
r = s3.abort_multipart_upload(Bucket="mpretry", Key="x.bin", UploadId=up["UploadId"])
assert r["ResponseMetadata"]["HTTPStatusCode"] == 204, r
assert code(s3.abort_multipart_upload, Bucket="mpretry", Key="x.bin", UploadId=up["UploadId"]) == ("NoSuchUpload", 404)
assert code(s3.complete_multipart_upload, Bucket="mpretry", Key="x.bin", UploadId=up["UploadId"],
            MultipartUpload=parts) == ("NoSuchUpload", 404)
print("ok")
