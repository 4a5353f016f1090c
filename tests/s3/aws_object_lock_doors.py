#!/usr/bin/env python3
"""A bucket's default retention applies to every write into it, whatever the door: a WebDAV
PUT and a REST upload into the bucket's folder (also into a subfolder) get it as an S3 PUT
does, so S3 GetObjectRetention shows it and a delete of that version by id is refused; so
do a WebDAV COPY into the bucket (a file, a folder tree) and an older version restored over
REST (each makes new versions: on AWS, a copy); a bucket without one locks nothing, and a
source's lock never travels with a copy. The rule is the engine's (nas_engine::folder_lock).

argv: endpoint, access key, secret, WebDAV URL, user, password, REST base URL."""
import base64
import datetime
import json
import sys
import urllib.error
import urllib.request

from aws_common import client, code, dav, dav_user, dav_pass

rest = sys.argv[7]
s3 = client()
now = lambda: datetime.datetime.now(datetime.timezone.utc)  # noqa: E731


def put(url, body, method="PUT", headers=None):
    req = urllib.request.Request(url, data=body, method=method)
    tok = base64.b64encode(f"{dav_user}:{dav_pass}".encode()).decode()
    req.add_header("Authorization", f"Basic {tok}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
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


def dav_copy(src, dst):
    return put(f"{dav}/{src}", None, "COPY", {"Destination": f"{dav}/{dst}", "Overwrite": "T"})


def locked_for_a_day(bucket, key, since):
    """The current version of bucket/key has the default retention of a day as of `since`,
    and a delete of it by id is refused; answers its id."""
    ret = s3.get_object_retention(Bucket=bucket, Key=key)["Retention"]
    assert ret["Mode"] == "GOVERNANCE", (key, ret)
    d = ret["RetainUntilDate"] - since
    assert datetime.timedelta(hours=23) < d < datetime.timedelta(hours=25), (key, d)
    vid = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
    c = code(s3.delete_object, Bucket=bucket, Key=key, VersionId=vid)
    assert c == ("AccessDenied", 403), (key, c)
    return vid


def unlocked(bucket, key):
    c = code(s3.get_object_retention, Bucket=bucket, Key=key)
    assert c[1] == 404 or c[0] == "InvalidRequest", (key, c)
    assert "ObjectLockMode" not in s3.head_object(Bucket=bucket, Key=key), key


# a WebDAV COPY into the lock bucket: a file, and a folder tree (every file in it)
s3.put_object(Bucket="nolock", Key="tree/a.txt", Body=b"a")
s3.put_object(Bucket="nolock", Key="tree/deep/b.txt", Body=b"b")
before = now()
assert dav_copy("nolock/x.txt", "worm-doors/copied.txt") in (201, 204)
assert dav_copy("nolock/tree", "worm-doors/tree") in (201, 204)
for key in ("copied.txt", "tree/a.txt", "tree/deep/b.txt"):
    locked_for_a_day("worm-doors", key, before)
assert s3.get_object(Bucket="worm-doors", Key="tree/deep/b.txt")["Body"].read() == b"b"
# a copy over a file of the bucket is locked too (the old file goes to the trash)
assert dav_copy("nolock/y.txt", "worm-doors/copied.txt") in (201, 204)
locked_for_a_day("worm-doors", "copied.txt", before)
assert s3.get_object(Bucket="worm-doors", Key="copied.txt")["Body"].read() == b"y"
# out of the lock bucket: the source's lock does not travel
assert dav_copy("worm-doors/dav.txt", "nolock/from-worm.txt") in (201, 204)
unlocked("nolock", "from-worm.txt")

# an older version restored over REST is a new version: it gets the default retention too
s3.create_bucket(Bucket="later")
v1 = s3.put_object(Bucket="later", Key="r.txt", Body=b"v1")["VersionId"]
s3.put_object(Bucket="later", Key="r.txt", Body=b"v2")
s3.put_object(Bucket="nolock", Key="r.txt", Body=b"v1")
s3.put_object(Bucket="nolock", Key="r.txt", Body=b"v2")
unlocked("later", "r.txt")
s3.put_object_lock_configuration(Bucket="later", ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
restore = lambda bucket: put(  # noqa: E731
    f"{rest}/api/v1/versions/{bucket}/r.txt/restore", json.dumps({"version": int(v1)}).encode(),
    "POST", {"Content-Type": "application/json"})
before = now()
assert restore("later") == 200
assert s3.get_object(Bucket="later", Key="r.txt")["Body"].read() == b"v1"
assert locked_for_a_day("later", "r.txt", before) not in (v1,)
c = code(s3.get_object_retention, Bucket="later", Key="r.txt", VersionId=v1)
assert c == ("NoSuchObjectLockConfiguration", 404), c  # the old version is as it was
assert restore("nolock") == 200
assert s3.get_object(Bucket="nolock", Key="r.txt")["Body"].read() == b"v1"
unlocked("nolock", "r.txt")
print("object lock doors: ok")
