#!/usr/bin/env python3
"""The small answers of issue 14 item 7, each as AWS gives it."""
import datetime
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from aws_common import ak, client, code, endpoint, sk

s3 = client()
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def raw_get(path):
    """A signed GET of `path` exactly as given (boto3 adds encoding-type=url to listings)."""
    req = AWSRequest(method="GET", url=endpoint + path)
    S3SigV4Auth(Credentials(ak, sk), "s3", "us-east-1").add_auth(req)
    r = urllib.request.Request(endpoint + path, headers=dict(req.headers.items()))
    with urllib.request.urlopen(r) as resp:
        return ET.fromstring(resp.read())


s3.create_bucket(Bucket="small")
# CreateBucket of a bucket one owns: us-east-1 answers 200 and keeps the contents
s3.put_object(Bucket="small", Key="k", Body=b"kept")
r = s3.create_bucket(Bucket="small")
assert r["ResponseMetadata"]["HTTPStatusCode"] == 200, r
assert s3.get_object(Bucket="small", Key="k")["Body"].read() == b"kept"

# MaxKeys=0: no keys, not truncated (v2 and v1)
r = s3.list_objects_v2(Bucket="small", MaxKeys=0)
assert r["KeyCount"] == 0 and not r["IsTruncated"] and "Contents" not in r, r
r = s3.list_objects(Bucket="small", MaxKeys=0)
assert not r["IsTruncated"] and "Contents" not in r, r

# the Prefix element is echoed as sent without encoding-type (url-encoded only with it)
s3.put_object(Bucket="small", Key="a b+c/x", Body=b"1")
x = raw_get("/small?list-type=2&prefix=a%20b%2Bc%2F")
assert x.find(NS + "Prefix").text == "a b+c/", ET.tostring(x)
assert [k.text for k in x.iter(NS + "Key")] == ["a b+c/x"]
x = raw_get("/small?list-type=2&prefix=a%20b%2Bc%2F&encoding-type=url")
assert x.find(NS + "Prefix").text == "a%20b%2Bc/", ET.tostring(x)
x = raw_get("/small?list-type=2&prefix=%0A")
assert x.find(NS + "Prefix").text == "\n", ET.tostring(x)
x = raw_get("/small?prefix=a%20b%2Bc%2F")
assert x.find(NS + "Prefix").text == "a b+c/", ET.tostring(x)

# Owner: with fetch-owner in v2 (not without), always in v1
r = s3.list_objects_v2(Bucket="small", FetchOwner=True)
assert all(o["Owner"]["ID"] == "admin" for o in r["Contents"]), r["Contents"]
r = s3.list_objects_v2(Bucket="small")
assert all("Owner" not in o for o in r["Contents"]), r["Contents"]
r = s3.list_objects(Bucket="small")
assert all(o["Owner"]["DisplayName"] == "admin" for o in r["Contents"]), r["Contents"]

# a 304 carries the ETag and Last-Modified
etag = s3.head_object(Bucket="small", Key="k")["ETag"]
for call in (s3.head_object, s3.get_object):
    try:
        call(Bucket="small", Key="k", IfNoneMatch=etag)
        raise AssertionError("not 304")
    except s3.exceptions.ClientError as e:
        meta = e.response["ResponseMetadata"]
        assert meta["HTTPStatusCode"] == 304, meta
        assert meta["HTTPHeaders"].get("etag") == etag, meta["HTTPHeaders"]
        assert "last-modified" in meta["HTTPHeaders"], meta["HTTPHeaders"]

# Expires is stored and returned (PUT and multipart)
when = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
s3.put_object(Bucket="small", Key="exp", Body=b"e", Expires=when)
h = s3.head_object(Bucket="small", Key="exp")
assert h["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT", h
assert s3.get_object(Bucket="small", Key="exp")["ResponseMetadata"]["HTTPHeaders"]["expires"] == \
    "Wed, 02 Jan 2030 03:04:05 GMT"
up = s3.create_multipart_upload(Bucket="small", Key="mexp", Expires=when)
e = s3.upload_part(Bucket="small", Key="mexp", UploadId=up["UploadId"], PartNumber=1, Body=b"m")["ETag"]
s3.complete_multipart_upload(Bucket="small", Key="mexp", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
h = s3.head_object(Bucket="small", Key="mexp")
assert h["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT", h

# CopyObject onto itself: refused unless the metadata changes (or a version is copied)
src = {"Bucket": "small", "Key": "k"}
assert code(s3.copy_object, Bucket="small", Key="k", CopySource=src) == ("InvalidRequest", 400)
s3.copy_object(Bucket="small", Key="k", CopySource=src, MetadataDirective="REPLACE",
               Metadata={"new": "1"})
assert s3.head_object(Bucket="small", Key="k")["Metadata"] == {"new": "1"}
v1 = s3.list_object_versions(Bucket="small", Prefix="k")["Versions"][-1]["VersionId"]
s3.copy_object(Bucket="small", Key="k", CopySource={**src, "VersionId": v1})

# x-amz-copy-source-if-*: 412 when a condition fails, the copy when all hold
etag = s3.head_object(Bucket="small", Key="k")["ETag"]
past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
future = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)
for kw in ({"CopySourceIfMatch": '"0123"'}, {"CopySourceIfNoneMatch": etag},
           {"CopySourceIfModifiedSince": future}, {"CopySourceIfUnmodifiedSince": past}):
    assert code(s3.copy_object, Bucket="small", Key="c", CopySource=src, **kw) == ("PreconditionFailed", 412), kw
    assert code(s3.head_object, Bucket="small", Key="c")[1] == 404, "nothing copied"
for kw in ({"CopySourceIfMatch": etag}, {"CopySourceIfNoneMatch": '"0123"'},
           {"CopySourceIfModifiedSince": past}, {"CopySourceIfUnmodifiedSince": future},
           {"CopySourceIfMatch": etag, "CopySourceIfUnmodifiedSince": past}):
    s3.copy_object(Bucket="small", Key="c", CopySource=src, **kw)
    assert s3.get_object(Bucket="small", Key="c")["Body"].read() == b"kept"

# a chunked PUT without Content-Length (UNSIGNED-PAYLOAD, not aws-chunked) is accepted and streamed


class Unsigned(S3SigV4Auth):
    """SigV4 over headers, the payload left unsigned (what streaming clients send)."""

    def payload(self, request):
        return "UNSIGNED-PAYLOAD"


def chunked_put(path, data):
    req = AWSRequest(method="PUT", url=endpoint + path)
    Unsigned(Credentials(ak, sk), "s3", "us-east-1").add_auth(req)
    assert req.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    u = urllib.parse.urlsplit(endpoint)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.putrequest("PUT", path, skip_accept_encoding=True)
    for k, v in req.headers.items():
        c.putheader(k, v)
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    for i in range(0, len(data), 65536):
        piece = data[i:i + 65536]
        c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


data = os.urandom(3 << 20)
status, body = chunked_put("/small/chunked.bin", data)
assert status == 200, (status, body)
got = s3.get_object(Bucket="small", Key="chunked.bin")
assert got["ContentLength"] == len(data) and got["Body"].read() == data
status, body = chunked_put("/small/empty-chunked", b"")
assert status == 200, (status, body)
assert s3.head_object(Bucket="small", Key="empty-chunked")["ContentLength"] == 0
up = s3.create_multipart_upload(Bucket="small", Key="chunked-mp")
status, body = chunked_put(f"/small/chunked-mp?partNumber=1&uploadId={up['UploadId']}", data)
assert status == 200, (status, body)
parts = s3.list_parts(Bucket="small", Key="chunked-mp", UploadId=up["UploadId"])["Parts"]
assert parts[0]["Size"] == len(data), parts
s3.abort_multipart_upload(Bucket="small", Key="chunked-mp", UploadId=up["UploadId"])

# ListBuckets: Prefix, MaxBuckets and ContinuationToken page the buckets
for b in ["pgs-a", "pgs-b", "pgs-c", "pgs", "pgt-x"]:
    s3.create_bucket(Bucket=b)
r = s3.list_buckets(Prefix="pgs")
assert [b["Name"] for b in r["Buckets"]] == ["pgs", "pgs-a", "pgs-b", "pgs-c"], r
assert r["Owner"]["ID"] == "admin" and "ContinuationToken" not in r, r
seen, kw = [], {}
while True:
    r = s3.list_buckets(MaxBuckets=2, Prefix="pgs", **kw)
    assert len(r["Buckets"]) <= 2
    seen += [b["Name"] for b in r["Buckets"]]
    if "ContinuationToken" not in r:
        break
    kw = {"ContinuationToken": r["ContinuationToken"]}
assert seen == ["pgs", "pgs-a", "pgs-b", "pgs-c"], seen
seen, kw = [], {}
while True:
    r = s3.list_buckets(MaxBuckets=1, **kw)
    seen += [b["Name"] for b in r["Buckets"]]
    if "ContinuationToken" not in r:
        break
    kw = {"ContinuationToken": r["ContinuationToken"]}
assert seen == sorted(["small", "pgs-a", "pgs-b", "pgs-c", "pgs", "pgt-x"]), seen
try:  # botocore refuses 0 itself: a raw request
    raw_get("/?max-buckets=0")
    raise AssertionError("max-buckets=0 accepted")
except urllib.error.HTTPError as e:
    assert e.code == 400 and b"InvalidArgument" in e.read()
print("ok")
