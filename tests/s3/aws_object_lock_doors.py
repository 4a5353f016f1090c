#!/usr/bin/env python3
"""A bucket's default retention applies to every write into it, whatever the door: a WebDAV
PUT and a REST upload into the bucket's folder (also into a subfolder) get it as an S3 PUT
does, so S3 GetObjectRetention shows it and a delete of that version by id is refused; a
bucket without one locks nothing. The rule is the engine's (nas_engine::folder_lock).

argv: endpoint, access key, secret, WebDAV URL, user, password, REST base URL."""
import base64
import datetime
import sys
import urllib.error
import urllib.request

from aws_common import client, code, dav, dav_user, dav_pass

rest = sys.argv[7]
s3 = client()
now = lambda: datetime.datetime.now(datetime.timezone.utc)  # noqa: E731


def put(url, body):
    req = urllib.request.Request(url, data=body, method="PUT")
    tok = base64.b64encode(f"{dav_user}:{dav_pass}".encode()).decode()
    req.add_header("Authorization", f"Basic {tok}")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


s3.create_bucket(Bucket="worm-doors", ObjectLockEnabledForBucket=True)
s3.put_object_lock_configuration(Bucket="worm-doors", ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
s3.create_bucket(Bucket="nolock")

before = now()
writes = {
    "dav.txt": lambda k, b: put(f"{dav}/worm-doors/{k}", b),
    "rest.txt": lambda k, b: put(f"{rest}/api/v1/upload/worm-doors/{k}", b),
    "sub/dav.txt": lambda k, b: put(f"{dav}/worm-doors/{k}", b),
}
s3.put_object(Bucket="worm-doors", Key="sub/", Body=b"")  # the subfolder, for the WebDAV PUT below it
for key, write in writes.items():
    st = write(key, b"first " + key.encode())
    assert st in (200, 201, 204), (key, st)
    ret = s3.get_object_retention(Bucket="worm-doors", Key=key)["Retention"]
    assert ret["Mode"] == "GOVERNANCE", (key, ret)
    d = ret["RetainUntilDate"] - before
    assert datetime.timedelta(hours=23) < d < datetime.timedelta(hours=25), (key, d)
    first = s3.head_object(Bucket="worm-doors", Key=key)["VersionId"]
    # a second write through the same door is locked too; the first can't be deleted by id
    assert write(key, b"second") in (200, 201, 204), key
    assert s3.head_object(Bucket="worm-doors", Key=key)["ObjectLockMode"] == "GOVERNANCE", key
    c = code(s3.delete_object, Bucket="worm-doors", Key=key, VersionId=first)
    assert c == ("AccessDenied", 403), (key, c)
    assert s3.get_object(Bucket="worm-doors", Key=key, VersionId=first)["Body"].read() == b"first " + key.encode()

# a bucket without a default retention: nothing locked, whatever the door
assert put(f"{dav}/nolock/x.txt", b"x") in (200, 201, 204)
assert put(f"{rest}/api/v1/upload/nolock/y.txt", b"y") in (200, 201, 204)
for key in ("x.txt", "y.txt"):
    c = code(s3.get_object_retention, Bucket="nolock", Key=key)
    assert c[1] == 404 or c[0] == "InvalidRequest", (key, c)
    assert "ObjectLockMode" not in s3.head_object(Bucket="nolock", Key=key), key
print("object lock doors: ok")
