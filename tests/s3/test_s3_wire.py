#!/usr/bin/env python3
"""The S3 door on the wire: over TLS (where boto3 sends aws-chunked bodies with checksum
trailers), hand-made aws-chunked requests (unsigned with a trailer, and signed chunk by
chunk), virtual-host addressing, and CORS (preflight answered before authentication).

    test_s3_wire.py PORT ACCESS_KEY SECRET CA_FILE

The server listens for S3 with TLS on 127.0.0.1:PORT and has `--s3-domain s3.test`;
names under s3.test are resolved to 127.0.0.1 here. Run by crates/cli/tests/s3.rs.
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import os
import socket
import ssl
import sys
import zlib

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

port, ak, sk, cafile = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
_real_getaddrinfo = socket.getaddrinfo


def _resolve(host, *a, **kw):
    if host == "s3.test" or str(host).endswith(".s3.test"):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *a, **kw)


socket.getaddrinfo = _resolve
endpoint = f"https://s3.test:{port}"


def client(style):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1", verify=cafile,
                        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 1}))


def error_code(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{fn.__name__} should have failed")


def b64(d):
    return base64.b64encode(d).decode()


path_s3, vhost_s3 = client("path"), client("virtual")
path_s3.create_bucket(Bucket="wire")

# --- boto3 over https: aws-chunked bodies with a CRC trailer; the object is the payload
data = os.urandom(3 * 1024 * 1024 + 11)
path_s3.put_object(Bucket="wire", Key="tls.bin", Body=data)
got = path_s3.get_object(Bucket="wire", Key="tls.bin", ChecksumMode="ENABLED")
assert got["Body"].read() == data, "the stored object is the decoded payload, never the framing"
assert got["ChecksumCRC32"] == b64(zlib.crc32(data).to_bytes(4, "big")), got.get("ChecksumCRC32")
up = path_s3.create_multipart_upload(Bucket="wire", Key="tls-mp.bin")
p1 = path_s3.upload_part(Bucket="wire", Key="tls-mp.bin", UploadId=up["UploadId"], PartNumber=1, Body=data + data)
p2 = path_s3.upload_part(Bucket="wire", Key="tls-mp.bin", UploadId=up["UploadId"], PartNumber=2, Body=b"tail")
path_s3.complete_multipart_upload(Bucket="wire", Key="tls-mp.bin", UploadId=up["UploadId"], MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
assert path_s3.get_object(Bucket="wire", Key="tls-mp.bin")["Body"].read() == data + data + b"tail"

# --- virtual-host addressing: bucket.s3.test
assert vhost_s3.get_object(Bucket="wire", Key="tls.bin")["Body"].read() == data
vhost_s3.put_object(Bucket="wire", Key="vhost.txt", Body=b"virtual host")
assert path_s3.get_object(Bucket="wire", Key="vhost.txt")["Body"].read() == b"virtual host"
assert "vhost.txt" in [o["Key"] for o in vhost_s3.list_objects_v2(Bucket="wire")["Contents"]]

# --- hand-made requests
ctx = ssl.create_default_context(cafile=cafile)


def send(method, path, headers, body=b""):
    conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    if body:
        conn.send(body)
    r = conn.getresponse()
    out = (r.status, r.read(), dict(r.getheaders()))
    conn.close()
    return out


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(method, path, headers, payload_hash):
    """SigV4 over `headers` (lowercase names); returns (amz_date, scope, signing_key, signature)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers["x-amz-date"] = amz_date
    headers["x-amz-content-sha256"] = payload_hash
    names = sorted(headers)
    canonical = "\n".join([method, path, "", "".join(f"{n}:{headers[n].strip()}\n" for n in names),
                           ";".join(names), payload_hash])
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = hmac256(hmac256(hmac256(hmac256(("AWS4" + sk).encode(), day), "us-east-1"), "s3"), "aws4_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={';'.join(names)}, "
                                f"Signature={sig}")
    return amz_date, scope, key, sig


def unsigned_trailer_put(key, payload, crc_b64):
    body = (f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n"
            + f"x-amz-checksum-crc32:{crc_b64}\r\n\r\n".encode())
    h = {"host": f"127.0.0.1:{port}", "content-encoding": "aws-chunked",
         "x-amz-decoded-content-length": str(len(payload)), "x-amz-trailer": "x-amz-checksum-crc32",
         "content-length": str(len(body))}
    path = f"/wire/{key}"
    sign("PUT", path, h, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    return send("PUT", path, h, body)


payload = b"hand-made unsigned aws-chunked body with a trailer\n" * 100
good = b64(zlib.crc32(payload).to_bytes(4, "big"))
st, body, _ = unsigned_trailer_put("trailer.txt", payload, good)
assert st == 200, (st, body)
assert path_s3.get_object(Bucket="wire", Key="trailer.txt")["Body"].read() == payload
assert path_s3.head_object(Bucket="wire", Key="trailer.txt", ChecksumMode="ENABLED")["ChecksumCRC32"] == good
st, body, _ = unsigned_trailer_put("trailer.txt", b"X" + payload[1:], good)
assert st == 400 and b"BadDigest" in body, (st, body)
assert path_s3.get_object(Bucket="wire", Key="trailer.txt")["Body"].read() == payload, "a bad trailer stores nothing"


def signed_chunked_put(key, chunks, tamper=False):
    path = f"/wire/{key}"
    total = sum(len(c) for c in chunks)
    sig_len = len(";chunk-signature=") + 64 + 4
    length = sum(len(f"{len(c):x}") + sig_len + len(c) for c in chunks + [b""])
    h = {"host": f"127.0.0.1:{port}", "content-encoding": "aws-chunked",
         "x-amz-decoded-content-length": str(total), "content-length": str(length)}
    amz_date, scope, skey, prev = sign("PUT", path, h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    out = b""
    for c in chunks + [b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev,
                             hashlib.sha256(b"").hexdigest(), hashlib.sha256(c).hexdigest()])
        prev = hmac.new(skey, to_sign.encode(), hashlib.sha256).hexdigest()
        data = c
        if tamper and c:
            data = b"!" + c[1:]
        out += f"{len(c):x};chunk-signature={prev}\r\n".encode() + data + b"\r\n"
    assert len(out) == length
    return send("PUT", path, h, out)


chunks = [os.urandom(65536), os.urandom(65536), os.urandom(1000)]
st, body, _ = signed_chunked_put("signed.bin", chunks)
assert st == 200, (st, body)
assert path_s3.get_object(Bucket="wire", Key="signed.bin")["Body"].read() == b"".join(chunks)
st, body, _ = signed_chunked_put("signed.bin", [os.urandom(65536)], tamper=True)
assert st in (400, 403), (st, body)
assert path_s3.get_object(Bucket="wire", Key="signed.bin")["Body"].read() == b"".join(chunks), \
    "a request with a bad chunk signature stores nothing"

# --- CORS: configured per bucket; preflight answered without credentials
origin = "https://app.example.com"
pre = {"host": f"127.0.0.1:{port}", "origin": origin, "access-control-request-method": "PUT",
       "access-control-request-headers": "content-type, x-amz-date"}
st, _, hdrs = send("OPTIONS", "/wire/tls.bin", pre)
assert st == 403, "no CORS configuration: the preflight is refused"
assert error_code(path_s3.get_bucket_cors, Bucket="wire") == "NoSuchCORSConfiguration"
path_s3.put_bucket_cors(Bucket="wire", CORSConfiguration={"CORSRules": [{
    "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
    "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
rules = path_s3.get_bucket_cors(Bucket="wire")["CORSRules"]
assert rules[0]["AllowedMethods"] == ["GET", "PUT"] and rules[0]["MaxAgeSeconds"] == 600, rules
st, _, hdrs = send("OPTIONS", "/wire/tls.bin", pre)
hdrs = {k.lower(): v for k, v in hdrs.items()}
assert st == 200, st
assert hdrs["access-control-allow-origin"] == origin and "PUT" in hdrs["access-control-allow-methods"]
assert hdrs["access-control-max-age"] == "600"
st, _, _ = send("OPTIONS", "/wire/tls.bin", dict(pre, origin="https://evil.example.org"))
assert st == 403, "an origin no rule allows is refused"
st, _, _ = send("OPTIONS", "/wire/tls.bin", dict(pre, **{"access-control-request-method": "DELETE"}))
assert st == 403, "a method no rule allows is refused"
# the real request: authenticated as usual, with the CORS headers added
h = {"host": f"127.0.0.1:{port}", "origin": origin}
sign("GET", "/wire/vhost.txt", h, hashlib.sha256(b"").hexdigest())
st, body, hdrs = send("GET", "/wire/vhost.txt", h)
hdrs = {k.lower(): v for k, v in hdrs.items()}
assert st == 200 and body == b"virtual host"
assert hdrs.get("access-control-allow-origin") == origin and hdrs.get("access-control-expose-headers") == "ETag"
st, _, _ = send("GET", "/wire/vhost.txt", {"host": f"127.0.0.1:{port}", "origin": origin})
assert st == 403, "CORS never replaces authentication"
path_s3.delete_bucket_cors(Bucket="wire")
assert send("OPTIONS", "/wire/tls.bin", pre)[0] == 403
print("S3 wire checks passed")
