#!/usr/bin/env python3
"""Multipart uploads, checksums and versions through boto3 (current defaults).

    test_boto3_multipart.py ENDPOINT ACCESS_KEY SECRET WEBDAV_BASE_URL WEBDAV_USER WEBDAV_PASS

Exits non-zero on the first failed check. Run by crates/cli/tests/s3.rs.
"""
import base64
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, ak, sk, dav, dav_user, dav_pass = sys.argv[1:7]
cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=cfg)
MiB = 1 << 20


def error_code(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{fn.__name__} should have failed")


def dav_get(path):
    req = urllib.request.Request(dav + path)
    tok = base64.b64encode(f"{dav_user}:{dav_pass}".encode()).decode()
    req.add_header("Authorization", f"Basic {tok}")
    with urllib.request.urlopen(req) as r:
        return r.read()


def b64(d):
    return base64.b64encode(d).decode()


def crc32_b64(data):
    return b64(zlib.crc32(data).to_bytes(4, "big"))


s3.create_bucket(Bucket="mpu")
parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(MiB + 17)]

# --- the happy path, with a re-uploaded part (idempotent per part number)
up = s3.create_multipart_upload(Bucket="mpu", Key="big/obj.bin", ContentType="application/x-big",
                                Metadata={"who": "mp-test"})
uid = up["UploadId"]
etags = []
for i, d in enumerate(parts_data, 1):
    etags.append(s3.upload_part(Bucket="mpu", Key="big/obj.bin", UploadId=uid, PartNumber=i, Body=d)["ETag"])
    assert etags[-1].strip('"') == hashlib.md5(d).hexdigest(), "a part's ETag is its MD5"
again = s3.upload_part(Bucket="mpu", Key="big/obj.bin", UploadId=uid, PartNumber=2, Body=parts_data[1])
assert again["ETag"] == etags[1]
listed = s3.list_parts(Bucket="mpu", Key="big/obj.bin", UploadId=uid)
assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
assert [p["Size"] for p in listed["Parts"]] == [len(d) for d in parts_data]
assert [p["ETag"] for p in listed["Parts"]] == etags
page = s3.list_parts(Bucket="mpu", Key="big/obj.bin", UploadId=uid, MaxParts=2)
assert page["IsTruncated"] and [p["PartNumber"] for p in page["Parts"]] == [1, 2]
page = s3.list_parts(Bucket="mpu", Key="big/obj.bin", UploadId=uid, PartNumberMarker=page["NextPartNumberMarker"])
assert [p["PartNumber"] for p in page["Parts"]] == [3] and not page["IsTruncated"]
ups = s3.list_multipart_uploads(Bucket="mpu")["Uploads"]
assert [(u["Key"], u["UploadId"]) for u in ups] == [("big/obj.bin", uid)]
assert error_code(s3.head_object, Bucket="mpu", Key="big/obj.bin") in ("404", "NoSuchKey"), \
    "an incomplete upload is not visible"

# --- completion checks the part list
def complete(parts, **kw):
    return s3.complete_multipart_upload(Bucket="mpu", Key="big/obj.bin", UploadId=uid,
                                        MultipartUpload={"Parts": parts}, **kw)


good = [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]
assert error_code(complete, [good[1], good[0], good[2]]) == "InvalidPartOrder"
assert error_code(complete, [good[0], {"PartNumber": 2, "ETag": '"' + "0" * 32 + '"'}, good[2]]) == "InvalidPart"
assert error_code(complete, good + [{"PartNumber": 4, "ETag": etags[0]}]) == "InvalidPart"
assert error_code(complete, [good[2], {"PartNumber": 4, "ETag": etags[0]}]) == "InvalidPart"
r = complete(good)
md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
assert r["ETag"].strip('"') == hashlib.md5(md5s).hexdigest() + "-3", r["ETag"]
whole = b"".join(parts_data)
o = s3.get_object(Bucket="mpu", Key="big/obj.bin")
assert o["Body"].read() == whole, "the object is the parts back to back"
assert o["ContentType"] == "application/x-big" and o["Metadata"] == {"who": "mp-test"}
assert o["ETag"] == r["ETag"]
assert dav_get("/mpu/big/obj.bin") == whole, "WebDAV reads the completed object"
p2 = s3.get_object(Bucket="mpu", Key="big/obj.bin", PartNumber=2)
assert p2["PartsCount"] == 3 and p2["Body"].read() == parts_data[1]
assert s3.head_object(Bucket="mpu", Key="big/obj.bin", PartNumber=3)["ContentLength"] == len(parts_data[2])
assert error_code(s3.get_object, Bucket="mpu", Key="big/obj.bin", PartNumber=4) in ("416", "InvalidPartNumber")
assert s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []) == []
assert complete(good)["ETag"] == r["ETag"], "a retried Complete answers the same ETag (as AWS)"
assert s3.get_object(Bucket="mpu", Key="big/obj.bin")["Body"].read() == whole

# --- a part smaller than 5 MiB may only be the last
up = s3.create_multipart_upload(Bucket="mpu", Key="small.bin")
e1 = s3.upload_part(Bucket="mpu", Key="small.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 1000)["ETag"]
e2 = s3.upload_part(Bucket="mpu", Key="small.bin", UploadId=up["UploadId"], PartNumber=2, Body=b"y" * 1000)["ETag"]
assert error_code(s3.complete_multipart_upload, Bucket="mpu", Key="small.bin", UploadId=up["UploadId"],
                  MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}) \
    == "EntityTooSmall"
s3.complete_multipart_upload(Bucket="mpu", Key="small.bin", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}]})
assert s3.get_object(Bucket="mpu", Key="small.bin")["Body"].read() == b"y" * 1000

# --- abort: a second abort is NoSuchUpload (as on AWS), and nothing can be added afterwards
up = s3.create_multipart_upload(Bucket="mpu", Key="aborted.bin")
s3.upload_part(Bucket="mpu", Key="aborted.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"z" * 100)
s3.abort_multipart_upload(Bucket="mpu", Key="aborted.bin", UploadId=up["UploadId"])
assert error_code(s3.abort_multipart_upload, Bucket="mpu", Key="aborted.bin",
                  UploadId=up["UploadId"]) == "NoSuchUpload"
assert error_code(s3.upload_part, Bucket="mpu", Key="aborted.bin", UploadId=up["UploadId"], PartNumber=2,
                  Body=b"late") == "NoSuchUpload"
assert error_code(s3.list_parts, Bucket="mpu", Key="aborted.bin", UploadId=up["UploadId"]) == "NoSuchUpload"
assert error_code(s3.upload_part, Bucket="mpu", Key="x", UploadId="../../etc", PartNumber=1, Body=b"x") \
    == "NoSuchUpload"
assert error_code(s3.upload_part, Bucket="mpu", Key="x", UploadId=uid, PartNumber=10001, Body=b"x") \
    in ("InvalidArgument", "NoSuchUpload")
assert error_code(s3.head_object, Bucket="mpu", Key="aborted.bin") in ("404", "NoSuchKey")

# --- UploadPartCopy: whole objects and ranges
up = s3.create_multipart_upload(Bucket="mpu", Key="copied.bin")
c1 = s3.upload_part_copy(Bucket="mpu", Key="copied.bin", UploadId=up["UploadId"], PartNumber=1,
                         CopySource={"Bucket": "mpu", "Key": "big/obj.bin"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
c2 = s3.upload_part_copy(Bucket="mpu", Key="copied.bin", UploadId=up["UploadId"], PartNumber=2,
                         CopySource={"Bucket": "mpu", "Key": "small.bin"})
assert error_code(s3.upload_part_copy, Bucket="mpu", Key="copied.bin", UploadId=up["UploadId"], PartNumber=3,
                  CopySource={"Bucket": "mpu", "Key": "small.bin"}, CopySourceRange="bytes=0-999999") == "InvalidRange"
s3.complete_multipart_upload(Bucket="mpu", Key="copied.bin", UploadId=up["UploadId"], MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": c2["CopyPartResult"]["ETag"]}]})
assert s3.get_object(Bucket="mpu", Key="copied.bin")["Body"].read() == whole[:5 * MiB] + b"y" * 1000

# --- list uploads: prefix, delimiter, paging
ids = {}
for k in ["u/a", "u/b", "u/b", "u/c/d", "v/e"]:
    ids.setdefault(k, []).append(s3.create_multipart_upload(Bucket="mpu", Key=k)["UploadId"])
r = s3.list_multipart_uploads(Bucket="mpu", Prefix="u/", Delimiter="/")
assert sorted(u["Key"] for u in r["Uploads"]) == ["u/a", "u/b", "u/b"]
assert [c["Prefix"] for c in r["CommonPrefixes"]] == ["u/c/"]
seen, kw = [], {}
while True:
    r = s3.list_multipart_uploads(Bucket="mpu", MaxUploads=2, **kw)
    seen += [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]
    if not r["IsTruncated"]:
        break
    kw = {"KeyMarker": r["NextKeyMarker"], "UploadIdMarker": r["NextUploadIdMarker"]}
assert sorted(seen) == sorted((k, i) for k, v in ids.items() for i in v), seen
for k, v in ids.items():
    for i in v:
        s3.abort_multipart_upload(Bucket="mpu", Key=k, UploadId=i)

# --- s3transfer (multipart above the threshold, parts in parallel, CRC32 by default)
with tempfile.TemporaryDirectory() as tmp:
    src, back = os.path.join(tmp, "src"), os.path.join(tmp, "back")
    data = os.urandom(21 * MiB + 5)
    with open(src, "wb") as f:
        f.write(data)
    tc = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    s3.upload_file(src, "mpu", "transfer.bin", Config=tc)
    h = s3.head_object(Bucket="mpu", Key="transfer.bin", ChecksumMode="ENABLED")
    assert h["ETag"].strip('"').endswith("-5"), h["ETag"]
    s3.download_file("mpu", "transfer.bin", back, Config=tc)
    with open(back, "rb") as f:
        assert f.read() == data

# --- checksums: computed, verified, returned on request
body = os.urandom(300_000)
s3.put_object(Bucket="mpu", Key="sum.bin", Body=body, ChecksumAlgorithm="SHA256")
h = s3.head_object(Bucket="mpu", Key="sum.bin", ChecksumMode="ENABLED")
assert h["ChecksumSHA256"] == b64(hashlib.sha256(body).digest()), h
assert "ChecksumSHA256" not in s3.head_object(Bucket="mpu", Key="sum.bin"), "only with checksum mode"
s3.put_object(Bucket="mpu", Key="crc.bin", Body=body, ChecksumCRC32=crc32_b64(body))
assert s3.get_object(Bucket="mpu", Key="crc.bin", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc32_b64(body)
assert error_code(s3.put_object, Bucket="mpu", Key="crc.bin", Body=body + b"!", ChecksumCRC32=crc32_b64(body)) \
    in ("BadDigest", "InvalidRequest")
assert error_code(s3.put_object, Bucket="mpu", Key="crc.bin", Body=b"other",
                  ContentMD5=b64(hashlib.md5(b"not it").digest())) in ("BadDigest", "InvalidDigest")
assert s3.get_object(Bucket="mpu", Key="crc.bin")["Body"].read() == body, "a refused upload stores nothing"
# a multipart upload with a checksum algorithm: parts are verified, the composite is returned
up = s3.create_multipart_upload(Bucket="mpu", Key="sums.bin", ChecksumAlgorithm="CRC32")
pr = [s3.upload_part(Bucket="mpu", Key="sums.bin", UploadId=up["UploadId"], PartNumber=i, Body=d,
                     ChecksumAlgorithm="CRC32") for i, d in enumerate(parts_data[1:], 1)]
assert pr[0]["ChecksumCRC32"] == crc32_b64(parts_data[1])
bad = [{"PartNumber": 1, "ETag": pr[0]["ETag"], "ChecksumCRC32": crc32_b64(b"nope")},
       {"PartNumber": 2, "ETag": pr[1]["ETag"], "ChecksumCRC32": pr[1]["ChecksumCRC32"]}]
assert error_code(s3.complete_multipart_upload, Bucket="mpu", Key="sums.bin", UploadId=up["UploadId"],
                  MultipartUpload={"Parts": bad}) == "InvalidPart"
done = s3.complete_multipart_upload(Bucket="mpu", Key="sums.bin", UploadId=up["UploadId"], MultipartUpload={
    "Parts": [{"PartNumber": i, "ETag": p["ETag"], "ChecksumCRC32": p["ChecksumCRC32"]} for i, p in enumerate(pr, 1)]})
composite = b64(zlib.crc32(b"".join(zlib.crc32(d).to_bytes(4, "big") for d in parts_data[1:])).to_bytes(4, "big"))
assert done["ChecksumCRC32"] == composite + "-2", (done["ChecksumCRC32"], composite)

# --- standard headers round-trip (PutObject, multipart, CopyObject with COPY)
std = dict(ContentType="text/csv", ContentDisposition='attachment; filename="r.csv"',
           ContentEncoding="gzip", CacheControl="max-age=60", ContentLanguage="fr")
s3.put_object(Bucket="mpu", Key="std.csv", Body=b"a,b\n", **std)
up = s3.create_multipart_upload(Bucket="mpu", Key="std-mp.csv", **std)
e = s3.upload_part(Bucket="mpu", Key="std-mp.csv", UploadId=up["UploadId"], PartNumber=1, Body=b"c,d\n")["ETag"]
s3.complete_multipart_upload(Bucket="mpu", Key="std-mp.csv", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
s3.copy_object(Bucket="mpu", Key="std-copy.csv", CopySource={"Bucket": "mpu", "Key": "std.csv"})
for key in ("std.csv", "std-mp.csv", "std-copy.csv"):
    h = s3.head_object(Bucket="mpu", Key=key)
    got = {k: h.get(k) for k in std}
    assert got == std, (key, got)

# --- versions: every overwrite keeps the old version, reachable by its id
v1 = s3.put_object(Bucket="mpu", Key="ver.txt", Body=b"first")["VersionId"]
v2 = s3.put_object(Bucket="mpu", Key="ver.txt", Body=b"second")["VersionId"]
assert v1 != v2
assert s3.get_object(Bucket="mpu", Key="ver.txt", VersionId=v1)["Body"].read() == b"first"
assert s3.get_object(Bucket="mpu", Key="ver.txt")["Body"].read() == b"second"
assert s3.head_object(Bucket="mpu", Key="ver.txt", VersionId=v1)["ContentLength"] == 5
assert error_code(s3.get_object, Bucket="mpu", Key="ver.txt", VersionId="999") in ("NoSuchVersion", "404")

# --- versioning is on unless suspended (aws_versioning_suspended.py); ListObjectVersions
# pages over every version once
assert s3.get_bucket_versioning(Bucket="mpu")["Status"] == "Enabled"
s3.put_bucket_versioning(Bucket="mpu", VersioningConfiguration={"Status": "Enabled"})
v3 = s3.put_object(Bucket="mpu", Key="ver.txt", Body=b"third")["VersionId"]
vs = s3.list_object_versions(Bucket="mpu", Prefix="ver.txt")["Versions"]
assert [v["VersionId"] for v in vs] == [v3, v2, v1], vs
assert [v["IsLatest"] for v in vs] == [True, False, False]
assert vs[2]["Size"] == 5 and vs[2]["ETag"].strip('"') == hashlib.md5(b"first").hexdigest()
everything = sorted((v["Key"], v["VersionId"]) for v in s3.list_object_versions(Bucket="mpu")["Versions"])
assert len(everything) >= 9, everything
for size in (1, 2, 7):
    seen, kw = [], {}
    while True:
        r = s3.list_object_versions(Bucket="mpu", MaxKeys=size, **kw)
        seen += [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
        assert len(r.get("Versions", [])) <= size
        if not r["IsTruncated"]:
            break
        kw = {"KeyMarker": r["NextKeyMarker"]}
        if r.get("NextVersionIdMarker"):
            kw["VersionIdMarker"] = r["NextVersionIdMarker"]
    assert sorted(seen) == everything, (size, seen)

# --- ListObjects v1 with markers: the same keys as v2
v2keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="mpu") for o in p.get("Contents", [])]
v1keys, marker = [], ""
while True:
    r = s3.list_objects(Bucket="mpu", MaxKeys=3, Marker=marker)
    v1keys += [o["Key"] for o in r.get("Contents", [])]
    if not r["IsTruncated"]:
        break
    marker = r.get("NextMarker") or r["Contents"][-1]["Key"]
assert v1keys == v2keys and len(v1keys) > 5, (v1keys, v2keys)
r = s3.list_objects(Bucket="mpu", Delimiter="/")
assert "big/" in [c["Prefix"] for c in r["CommonPrefixes"]]
print("boto3 multipart/checksum/version checks passed")
