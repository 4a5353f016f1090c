#!/usr/bin/env python3
"""boto3 (current defaults: CRC32 checksums on every upload) against the S3 door.

    test_boto3.py ENDPOINT ACCESS_KEY SECRET WEBDAV_BASE_URL WEBDAV_USER WEBDAV_PASS [--behind-proxy]

Exits non-zero on the first failed check. Run by crates/cli/tests/s3.rs, and through a
load balancer by crates/cli/tests/cluster_lb.rs with `--behind-proxy`: nginx answers
`Expect: 100-continue` itself and keeps its own connection to the client, so the two
checks of the server's early answer to a refused upload are the server's alone (they run
against it directly) and are skipped there.
"""
import base64
import json
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, ak, sk, dav, dav_user, dav_pass = sys.argv[1:7]
behind_proxy = "--behind-proxy" in sys.argv[7:]
cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})


def client(key=ak, secret=sk):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=cfg)


def error_code(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{fn.__name__} should have failed")


def signed_in(req):
    """`req` with the WebDAV user's Basic credentials (they sign in at REST as well)."""
    tok = base64.b64encode(f"{dav_user}:{dav_pass}".encode()).decode()
    req.add_header("Authorization", f"Basic {tok}")
    return req


def dav_req(method, path, body=None):
    req = signed_in(urllib.request.Request(dav + path, data=body, method=method))
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


s3 = client()

# buckets
s3.create_bucket(Bucket="bkt")
assert s3.create_bucket(Bucket="bkt")["ResponseMetadata"]["HTTPStatusCode"] == 200, "us-east-1: an owned bucket is 200"
s3.head_bucket(Bucket="bkt")
assert "bkt" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
assert error_code(s3.head_bucket, Bucket="nope") in ("404", "NoSuchBucket")
assert s3.get_bucket_location(Bucket="bkt").get("LocationConstraint") in (None, "")

# objects, metadata, ranges
body = bytes(range(256)) * 4000
s3.put_object(Bucket="bkt", Key="dir/data.bin", Body=body, ContentType="application/x-test", Metadata={"k": "v"})
o = s3.get_object(Bucket="bkt", Key="dir/data.bin")
assert o["Body"].read() == body, "object body is the payload, never framing"
assert o["ContentType"] == "application/x-test" and o["Metadata"] == {"k": "v"}
import hashlib
assert o["ETag"].strip('"') == hashlib.md5(body).hexdigest(), "single-part ETag is the MD5"
h = s3.head_object(Bucket="bkt", Key="dir/data.bin")
assert h["ContentLength"] == len(body)
r = s3.get_object(Bucket="bkt", Key="dir/data.bin", Range="bytes=100-199")
assert r["Body"].read() == body[100:200] and r["ContentRange"] == f"bytes 100-199/{len(body)}"
r = s3.get_object(Bucket="bkt", Key="dir/data.bin", Range="bytes=-10")
assert r["Body"].read() == body[-10:]
assert error_code(s3.get_object, Bucket="bkt", Key="dir/data.bin", Range="bytes=99999999-") == "InvalidRange"
assert error_code(s3.get_object, Bucket="bkt", Key="missing") == "NoSuchKey"
assert error_code(s3.get_object, Bucket="nope", Key="x") == "NoSuchBucket"
# a PUT into a missing bucket is refused, small body or streamed, and creates no bucket
assert error_code(s3.put_object, Bucket="nope", Key="x", Body=b"x") == "NoSuchBucket"
assert error_code(s3.put_object, Bucket="nope", Key="d/x", Body=b"x" * (1 << 20)) == "NoSuchBucket"
assert error_code(s3.head_bucket, Bucket="nope") in ("404", "NoSuchBucket"), "no bucket was created"
assert error_code(s3.put_object, Bucket="bkt", Key="a//b", Body=b"x") == "InvalidArgument"

# conditional requests
etag = h["ETag"]
assert error_code(s3.get_object, Bucket="bkt", Key="dir/data.bin", IfNoneMatch=etag) in ("304", "NotModified")
assert s3.get_object(Bucket="bkt", Key="dir/data.bin", IfMatch=etag)["ContentLength"] == len(body)
assert error_code(s3.get_object, Bucket="bkt", Key="dir/data.bin", IfMatch='"0000"') in ("412", "PreconditionFailed")
assert error_code(s3.head_object, Bucket="bkt", Key="dir/data.bin", IfMatch='"0000"') in ("412", "PreconditionFailed")
assert error_code(s3.put_object, Bucket="bkt", Key="dir/data.bin", Body=b"x", IfNoneMatch="*") in ("412", "PreconditionFailed")
s3.put_object(Bucket="bkt", Key="fresh.txt", Body=b"new", IfNoneMatch="*")
assert s3.get_object(Bucket="bkt", Key="dir/data.bin")["Body"].read() == body, "a refused conditional PUT stores nothing"

# batch delete
s3.put_object(Bucket="bkt", Key="del/1", Body=b"1")
s3.put_object(Bucket="bkt", Key="del/2", Body=b"2")
r = s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "del/1"}, {"Key": "del/2"}, {"Key": "del/none"}]})
assert sorted(d["Key"] for d in r["Deleted"]) == ["del/1", "del/2", "del/none"] and not r.get("Errors")
assert error_code(s3.head_object, Bucket="bkt", Key="del/1") in ("404", "NoSuchKey")
s3.delete_object(Bucket="bkt", Key="fresh.txt")

# copy shares chunks; COPY keeps metadata, REPLACE replaces it
s3.copy_object(Bucket="bkt", Key="copy.bin", CopySource={"Bucket": "bkt", "Key": "dir/data.bin"})
c = s3.get_object(Bucket="bkt", Key="copy.bin")
assert c["Body"].read() == body and c["Metadata"] == {"k": "v"}
s3.copy_object(Bucket="bkt", Key="copy.bin", CopySource={"Bucket": "bkt", "Key": "copy.bin"},
               MetadataDirective="REPLACE", Metadata={"new": "1"}, ContentType="text/plain")
c = s3.head_object(Bucket="bkt", Key="copy.bin")
assert c["Metadata"] == {"new": "1"} and c["ContentType"] == "text/plain"

# delete; a missing key deletes fine; a non-empty bucket cannot be deleted
s3.delete_object(Bucket="bkt", Key="copy.bin")
s3.delete_object(Bucket="bkt", Key="never-existed")
assert error_code(s3.head_object, Bucket="bkt", Key="copy.bin") in ("404", "NoSuchKey")
assert error_code(s3.delete_bucket, Bucket="bkt") == "BucketNotEmpty"

# one namespace with WebDAV
status, got = dav_req("GET", "/bkt/dir/data.bin")
assert status == 200 and got == body
assert dav_req("PUT", "/bkt/from-webdav.txt", b"hello from webdav")[0] == 201
# the content hash (BLAKE3, computed beside the MD5 for an S3 upload) is the one the engine
# computes for the same bytes written over WebDAV
assert dav_req("PUT", "/bkt/dav-copy.bin", body)[0] == 201


def rest_hash(path):
    req = signed_in(urllib.request.Request(dav.replace("/dav", "/api/v1/stat") + path))
    with urllib.request.urlopen(req) as r:
        return json.load(r)["hash"]


assert len(body) > 256 * 1024, "more than one block: hashed on the digest thread"
assert rest_hash("/bkt/dir/data.bin") == rest_hash("/bkt/dav-copy.bin")
dav_req("DELETE", "/bkt/dav-copy.bin")
assert s3.get_object(Bucket="bkt", Key="from-webdav.txt")["Body"].read() == b"hello from webdav"

# listing: every key exactly once across pages, any page size; odd characters
names = [f"p/{i:03d}.txt" for i in range(120)] + ["p/a b.txt", "p/a+b.txt", "p/100%.txt", "p/\u00e9t\u00e9.txt", "p/sub/x.txt", "p/sub-y.txt"]
for n in names:
    s3.put_object(Bucket="bkt", Key=n, Body=n.encode())
for page in (1, 7, 1000):
    seen, token = [], None
    while True:
        kw = {"Bucket": "bkt", "Prefix": "p/", "MaxKeys": page}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)
        assert resp["KeyCount"] == len(resp.get("Contents", [])) + len(resp.get("CommonPrefixes", []))
        assert resp["KeyCount"] <= page
        seen += [o["Key"] for o in resp.get("Contents", [])]
        if not resp["IsTruncated"]:
            break
        token = resp["NextContinuationToken"]
    assert sorted(seen) == sorted(names), f"page size {page}: {len(seen)} keys"
    assert len(seen) == len(set(seen)), f"page size {page}: duplicates"
resp = s3.list_objects_v2(Bucket="bkt", Prefix="p/", Delimiter="/")
assert [c["Prefix"] for c in resp["CommonPrefixes"]] == ["p/sub/"]
assert "p/sub/x.txt" not in [o["Key"] for o in resp["Contents"]]
resp = s3.list_objects_v2(Bucket="bkt", Prefix="p/a", EncodingType="url")
# asked for explicitly, boto3 hands the encoded keys over as they came: '+' must be %2B
assert sorted(o["Key"] for o in resp["Contents"]) == ["p/a%20b.txt", "p/a%2Bb.txt"], resp["Contents"]
from urllib.parse import unquote_plus
assert sorted(unquote_plus(o["Key"]) for o in resp["Contents"]) == ["p/a b.txt", "p/a+b.txt"]
paginator = s3.get_paginator("list_objects_v2")
assert sum(len(p.get("Contents", [])) for p in paginator.paginate(Bucket="bkt", Prefix="p/", PaginationConfig={"PageSize": 50})) == len(names)

# 2,500 keys in nested folders, paged with max-keys 1, 7 and 1000; every key exactly once,
# also while other keys are added and removed during the walk
from concurrent.futures import ThreadPoolExecutor
many = [f"many/{i % 7}/{i:05d}" for i in range(2500)]
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda k: s3.put_object(Bucket="bkt", Key=k, Body=b"x"), many))
for page in (1, 7, 1000):
    seen, token, churn = [], None, 0
    while True:
        kw = {"Bucket": "bkt", "Prefix": "many/", "MaxKeys": page}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)
        assert resp["KeyCount"] == len(resp.get("Contents", [])) <= page
        seen += [o["Key"] for o in resp.get("Contents", [])]
        if not resp["IsTruncated"]:
            break
        token = resp["NextContinuationToken"]
        if page == 7 and churn < 50:  # add and remove keys on both sides of the cursor
            churn += 1
            s3.put_object(Bucket="bkt", Key=f"many/{churn % 7}/churn-{churn}", Body=b"c")
            s3.delete_object(Bucket="bkt", Key=f"many/{churn % 7}/churn-{churn - 1}")
    stable = [k for k in seen if "churn" not in k]
    assert sorted(stable) == sorted(many), f"page size {page}: {len(stable)} of {len(many)}"
    assert len(seen) == len(set(seen)), f"page size {page}: a key came twice"
s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": k} for k in many[:1000]], "Quiet": True})

# presigned GET
url = s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "p/a+b.txt"}, ExpiresIn=60)
with urllib.request.urlopen(url) as r:
    assert r.read() == b"p/a+b.txt"

# presigned PUT (SigV4 query signing, as current SDKs do), and an expired URL is refused
v4 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
url = v4.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "presigned.txt",
                                                      "ContentType": "text/plain"}, ExpiresIn=60)
assert "X-Amz-Signature" in url
req = urllib.request.Request(url, data=b"put by url", method="PUT", headers={"Content-Type": "text/plain"})
try:
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
except urllib.error.HTTPError as e:
    raise AssertionError(f"presigned PUT: {e.code} {e.read()}")
assert s3.get_object(Bucket="bkt", Key="presigned.txt")["Body"].read() == b"put by url"
# a large PUT into a missing bucket is refused before its body is sent: curl waits on
# "Expect: 100-continue" and uploads nothing; the answer closes the connection (the client
# might still send the body after its wait, which must not be read as the next request)
import subprocess, tempfile
url = v4.generate_presigned_url("put_object", Params={"Bucket": "nope", "Key": "big.bin"}, ExpiresIn=60)
with tempfile.NamedTemporaryFile() as f:
    f.write(b"z" * (8 << 20)); f.flush()
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_upload} %header{connection}",
                          "-H", "Expect: 100-continue", "--expect100-timeout", "30", "-T", f.name, url],
                         capture_output=True, text=True, check=True).stdout.split()
assert out[:1] == ["404"], f"NoSuchBucket: {out}"
if not behind_proxy:
    assert int(out[1]) < (1 << 20), f"NoSuchBucket before the body: {out}"
    assert out[2:] == ["close"], f"the connection is closed after an early answer: {out}"
# a client that sends a refused body anyway (no 100-continue) keeps a usable connection:
# two conditional PUTs refused, then a good one, on one keep-alive connection
conn = __import__("http.client").client.HTTPConnection(endpoint.split("//")[1])
for key, expect in (("dir/data.bin", 412), ("dir/data.bin", 412), ("after.txt", 200)):
    u = urllib.parse.urlsplit(v4.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": key}, ExpiresIn=60))
    conn.request("PUT", u.path + "?" + u.query, body=b"y" * 1000, headers={"If-None-Match": "*"})
    r = conn.getresponse(); r.read()
    assert r.status == expect, (key, r.status)
assert s3.get_object(Bucket="bkt", Key="after.txt")["Body"].read() == b"y" * 1000
# (5 s of validity: a loaded machine can take more than a second to the first use)
import time
made = time.time()
url = v4.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "presigned.txt"}, ExpiresIn=5)
with urllib.request.urlopen(url) as r:
    assert r.read() == b"put by url"
time.sleep(max(0.0, made + 6 - time.time()))
try:
    urllib.request.urlopen(url)
    raise AssertionError("an expired presigned URL was honoured")
except urllib.error.HTTPError as e:
    assert e.code == 403 and b"AccessDenied" in e.read(), e.code

# wrong secret, unknown key
assert error_code(client(secret="x" * 40).list_buckets) == "SignatureDoesNotMatch"
assert error_code(client(key="SNNOSUCHKEY000000000").list_buckets) == "InvalidAccessKeyId"
print("boto3 S3 checks passed")
