#!/usr/bin/env python3
"""Two uploads of one part at once: the attempt that finishes last is the part that ListParts
and CompleteMultipartUpload see, whichever started first."""
import hashlib
import http.client
import urllib.parse

from aws_common import client

s3 = client()
s3.create_bucket(Bucket="race")


def slow_put(url, body):
    """Starts a presigned PUT and sends all but the last byte; returns a function that sends
    the last byte and returns the status."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.putrequest("PUT", u.path + "?" + u.query, skip_accept_encoding=True)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    c.send(body[:-1])

    def finish():
        c.send(body[-1:])
        r = c.getresponse()
        r.read()
        c.close()
        return r.status, r.getheader("ETag")
    return finish


def md5(b):
    return '"' + hashlib.md5(b).hexdigest() + '"'


# (first attempt's size, second's): the first starts first and finishes last
for size, size_b, label in ((6 << 20, 6 << 20, "large"), (1000, 1000, "small"),
                            (6 << 20, 1000, "large-then-small"), (1000, 6 << 20, "small-then-large")):
    key = f"{label}.bin"
    uid = s3.create_multipart_upload(Bucket="race", Key=key)["UploadId"]
    url = s3.generate_presigned_url("upload_part", Params={"Bucket": "race", "Key": key, "UploadId": uid,
                                                           "PartNumber": 1})
    first = b"A" * size
    second = b"B" * size_b
    third = b"C" * size
    # A starts first and finishes last
    finish_a = slow_put(url, first)
    b = s3.upload_part(Bucket="race", Key=key, UploadId=uid, PartNumber=1, Body=second)
    assert b["ETag"] == md5(second), b
    status, etag_a = finish_a()
    assert status == 200 and etag_a == md5(first), (status, etag_a)
    parts = s3.list_parts(Bucket="race", Key=key, UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, md5(first), size)], parts
    # then C starts after B... and finishes last again: C is the part
    finish_c = slow_put(url, third)
    status, etag_c = finish_c()
    assert status == 200 and etag_c == md5(third)
    parts = s3.list_parts(Bucket="race", Key=key, UploadId=uid)["Parts"]
    assert [p["ETag"] for p in parts] == [md5(third)], parts
    # a stale ETag (an attempt that lost) is InvalidPart; the winner's completes
    try:
        s3.complete_multipart_upload(Bucket="race", Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5(first)}]})
        raise AssertionError("a lost attempt's ETag completed")
    except s3.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidPart", e.response
    done = s3.complete_multipart_upload(Bucket="race", Key=key, UploadId=uid,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag_c}]})
    assert done["ETag"].endswith('-1"'), done
    got = s3.get_object(Bucket="race", Key=key)["Body"].read()
    assert got == third, (label, got[:10], len(got))
print("ok")
