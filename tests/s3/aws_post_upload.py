#!/usr/bin/env python3
"""Browser POST uploads (PostObject) made by boto3's generate_presigned_post and sent with
`requests` as a multipart form: the SigV4 policy signature is verified, every policy condition
is checked (a failure names it), the file is streamed into the store (20 MiB here), the quota
holds, and success_action_status / success_action_redirect answer as AWS does.
Extra arguments: a quota-limited user's ACCESS_KEY SECRET, then a read-only key's."""
import base64
import hashlib
import json
import sys
import xml.etree.ElementTree as ET

import requests

from aws_common import client, endpoint

s3 = client()
# what browser SDKs send: Signature Version 4 policies (boto3's default is version 2: below)
v4 = client(signature_version="s3v4")
small_ak, small_sk, ro_ak, ro_sk = sys.argv[7:11]
import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402


def other(ak, sk):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))


def post(p, data=b"hello", filename="hello.txt", fields=None, url=None):
    f = dict(p["fields"])
    f.update(fields or {})
    return requests.post(url or p["url"], data=f, files={"file": (filename, data)}, allow_redirects=False)


def refused(r, status, code, words=""):
    assert r.status_code == status, (r.status_code, r.text)
    err = ET.fromstring(r.content)
    assert err.findtext("Code") == code, r.text
    assert words in (err.findtext("Message") or ""), (words, r.text)


def exists(key, bucket="forms"):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError:
        return False


s3.create_bucket(Bucket="forms")

# the common form: a key with ${filename}, a type, metadata, 201 with a PostResponse
p = v4.generate_presigned_post(
    "forms", "up/${filename}",
    Fields={"Content-Type": "text/plain", "x-amz-meta-who": "me", "success_action_status": "201"},
    Conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-who": "me"}, {"success_action_status": "201"},
                ["content-length-range", 1, 30 << 20]],
    ExpiresIn=600)
r = post(p)
assert r.status_code == 201, (r.status_code, r.text)
doc = ET.fromstring(r.content)
assert doc.tag == "PostResponse" and doc.findtext("Key") == "up/hello.txt" and doc.findtext("Bucket") == "forms", r.text
assert doc.findtext("ETag") == '"%s"' % hashlib.md5(b"hello").hexdigest(), r.text
assert r.headers["ETag"] == doc.findtext("ETag")
o = s3.get_object(Bucket="forms", Key="up/hello.txt")
assert o["Body"].read() == b"hello" and o["ContentType"] == "text/plain" and o["Metadata"] == {"who": "me"}, o

# boto3's default, a SigV2 policy, works too, and its signature is checked
p2 = s3.generate_presigned_post("forms", "v2/${filename}", ExpiresIn=600)
assert "AWSAccessKeyId" in p2["fields"] and "signature" in p2["fields"], p2
r = post(p2)
assert r.status_code == 204, (r.status_code, r.text)
assert s3.get_object(Bucket="forms", Key="v2/hello.txt")["Body"].read() == b"hello"
refused(post(p2, fields={"signature": "AAAA"}), 403, "SignatureDoesNotMatch")
refused(post(p2, fields={"key": "elsewhere/x"}), 403, "AccessDenied", '"starts-with", "$key", "v2/"')

# a large file is streamed in (default answer: 204)
big = bytes(range(256)) * (80 * 1024)  # 20 MiB
p2 = v4.generate_presigned_post("forms", "big/${filename}", ExpiresIn=600)
r = post(p2, data=big, filename="big.bin")
assert r.status_code == 204, (r.status_code, r.text)
assert r.headers["ETag"].strip('"') == hashlib.md5(big).hexdigest()
assert s3.get_object(Bucket="forms", Key="big/big.bin")["Body"].read() == big
# an overwrite is a new version, as with PutObject
post(p2, data=b"v2", filename="big.bin")
assert len(s3.list_object_versions(Bucket="forms", Prefix="big/big.bin")["Versions"]) == 2

# content-length-range, both ends; nothing stored
p3 = v4.generate_presigned_post("forms", "r/${filename}", Conditions=[["content-length-range", 3, 10]], ExpiresIn=600)
refused(post(p3, data=b"x" * 11, filename="long"), 400, "EntityTooLarge", "content-length-range")
refused(post(p3, data=b"x" * 2, filename="short"), 400, "EntityTooSmall", "content-length-range")
assert not exists("r/long") and not exists("r/short")
assert post(p3, data=b"x" * 10, filename="ok").status_code == 204 and exists("r/ok")

# the key: eq and starts-with conditions
p4 = v4.generate_presigned_post("forms", "exact.txt", ExpiresIn=600)
refused(post(p4, fields={"key": "other.txt"}), 403, "AccessDenied", '["eq", "$key", "exact.txt"]')
refused(post(p, fields={"key": "elsewhere/${filename}"}), 403, "AccessDenied", '"starts-with", "$key", "up/"')
assert not exists("other.txt") and not exists("elsewhere/hello.txt")
# Content-Type starts-with, x-amz-* eq
p5 = v4.generate_presigned_post("forms", "img/${filename}", Fields={"Content-Type": "image/png"},
                                Conditions=[["starts-with", "$Content-Type", "image/"]], ExpiresIn=600)
refused(post(p5, fields={"Content-Type": "text/html"}), 403, "AccessDenied", '"$content-type", "image/"')
assert post(p5, fields={"Content-Type": "image/jpeg"}).status_code == 204
refused(post(p, fields={"x-amz-meta-who": "you"}), 403, "AccessDenied", '"$x-amz-meta-who", "me"')
# a field no condition covers; the bucket
refused(post(p4, fields={"x-amz-meta-extra": "1"}), 403, "AccessDenied", "Extra input fields: x-amz-meta-extra")
refused(post(p4, fields={"bucket": "elsewhere"}), 403, "AccessDenied", "bucket")
s3.create_bucket(Bucket="forms2")
refused(post(p4, url=p4["url"].replace("/forms", "/forms2")), 403, "AccessDenied", '"$bucket", "forms"')
assert not exists("exact.txt", "forms2")

# the signature and the policy itself
refused(post(p4, fields={"x-amz-signature": "0" * 64}), 403, "SignatureDoesNotMatch")
doc = json.loads(base64.b64decode(p4["fields"]["policy"]))
doc["conditions"] = [c for c in doc["conditions"] if not (isinstance(c, dict) and "key" in c)]
forged = base64.b64encode(json.dumps(doc).encode()).decode()
refused(post(p4, fields={"policy": forged, "key": "forged.txt"}), 403, "SignatureDoesNotMatch")
assert not exists("forged.txt")
expired = v4.generate_presigned_post("forms", "late.txt", ExpiresIn=-10)
refused(post(expired), 403, "AccessDenied", "Policy expired")
unsigned = {"key": "anon.txt"}
r = requests.post(p4["url"], data=unsigned, files={"file": ("a", b"a")})
refused(r, 403, "AccessDenied", "signed policy")
bad_key = dict(p4["fields"])
bad_key["x-amz-credential"] = "NOPE" + bad_key["x-amz-credential"][4:]
r = requests.post(p4["url"], data=bad_key, files={"file": ("a", b"a")})
refused(r, 403, "InvalidAccessKeyId")
assert not exists("late.txt") and not exists("anon.txt")
# a missing bucket
p6 = v4.generate_presigned_post("nobucket", "k", ExpiresIn=600)
refused(post(p6), 404, "NoSuchBucket")
# form fields before the file are at most 20 KiB
refused(post(p4, fields={"x-ignore-pad": "p" * (21 << 10)}), 400, "MaxPostPreDataLengthExceeded")

# success_action_redirect: 303 to the URL with bucket, key and ETag
p7 = v4.generate_presigned_post("forms", "redir.txt", Fields={"success_action_redirect": "https://example.com/done?x=1"},
                                Conditions=[{"success_action_redirect": "https://example.com/done?x=1"}], ExpiresIn=600)
r = post(p7)
assert r.status_code == 303, (r.status_code, r.text)
loc = r.headers["Location"]
assert loc.startswith("https://example.com/done?x=1&bucket=forms&key=redir.txt&etag="), loc
assert exists("redir.txt")

# the quota holds (nothing stored), and a read-only key cannot upload
sm = other(small_ak, small_sk)
sm.create_bucket(Bucket="tight")
pq = sm.generate_presigned_post("tight", "huge.bin", ExpiresIn=600)
r = post(pq, data=b"q" * (10 << 20), filename="huge.bin")
refused(r, 403, "QuotaExceeded")
assert "Contents" not in sm.list_objects_v2(Bucket="tight")
pr = other(ro_ak, ro_sk).generate_presigned_post("forms", "ro.txt", ExpiresIn=600)
refused(post(pr), 403, "AccessDenied", "read-only")
assert not exists("ro.txt")
print("ok")
