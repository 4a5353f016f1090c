#!/usr/bin/env python3
"""Delete markers as S3 clients see them, mapped onto the trash: a DELETE without a version id
makes a marker (the trash entry), GET answers 404 with x-amz-delete-marker, the marker's id
405, ListObjectVersions lists it above the older versions, and deleting the marker brings the
object back. Through WebDAV too: a WebDAV delete is a marker, a removed marker a restored file."""
import base64
import urllib.error
import urllib.request

from aws_common import client, code, dav, dav_user, dav_pass

s3 = client()


def dav_req(method, path):
    req = urllib.request.Request(dav + path, method=method)
    tok = base64.b64encode(f"{dav_user}:{dav_pass}".encode()).decode()
    req.add_header("Authorization", f"Basic {tok}")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def raw_error(fn, **kw):
    """(code, status, headers) of a call that must fail."""
    try:
        fn(**kw)
    except s3.exceptions.ClientError as e:
        md = e.response["ResponseMetadata"]
        return e.response["Error"]["Code"], md["HTTPStatusCode"], md["HTTPHeaders"]
    raise AssertionError(f"{fn.__name__} {kw} succeeded")


def listing(prefix="", **kw):
    r = s3.list_object_versions(Bucket="ver", Prefix=prefix, **kw)
    vs = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r.get("Versions", [])]
    ms = [(m["Key"], m["VersionId"], m["IsLatest"]) for m in r.get("DeleteMarkers", [])]
    return vs, ms


s3.create_bucket(Bucket="ver")
v1 = s3.put_object(Bucket="ver", Key="d/v.txt", Body=b"one")["VersionId"]
v2 = s3.put_object(Bucket="ver", Key="d/v.txt", Body=b"two")["VersionId"]

# a DELETE makes a delete marker
r = s3.delete_object(Bucket="ver", Key="d/v.txt")
assert r.get("DeleteMarker") is True, r
dm = r["VersionId"]
assert dm not in (v1, v2) and dm != "null", r
assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"

# GET/HEAD of the key: 404 with x-amz-delete-marker and the marker's id
for fn in (s3.get_object, s3.head_object):
    c, st, h = raw_error(fn, Bucket="ver", Key="d/v.txt")
    assert st == 404 and h.get("x-amz-delete-marker") == "true", (fn.__name__, c, st, h)
    assert h.get("x-amz-version-id") == dm, h
    # the marker's version id: 405, as AWS
    c, st, h = raw_error(fn, Bucket="ver", Key="d/v.txt", VersionId=dm)
    assert st == 405 and h.get("x-amz-delete-marker") == "true", (fn.__name__, c, st, h)
    if fn is s3.get_object:
        assert c == "MethodNotAllowed", c
# the versions behind the marker are still read by id (200, as AWS), the newest and older
for fn in (s3.get_object, s3.head_object):
    for vid, body in ((v2, b"two"), (v1, b"one")):
        o = fn(Bucket="ver", Key="d/v.txt", VersionId=vid)
        assert o["ResponseMetadata"]["HTTPStatusCode"] == 200 and o["VersionId"] == vid, o
        assert o["ContentLength"] == len(body) and "DeleteMarker" not in o, o
        if fn is s3.get_object:
            assert o["Body"].read() == body, vid
assert s3.get_object(Bucket="ver", Key="d/v.txt", VersionId=v1, Range="bytes=1-")["Body"].read() == b"ne"
# CopyObject of a version behind the marker, by id (as AWS): a new object with its bytes
r = s3.copy_object(Bucket="ver", Key="d/copied.txt", CopySource={"Bucket": "ver", "Key": "d/v.txt", "VersionId": v1})
assert r["ResponseMetadata"]["HTTPStatusCode"] == 200, r
assert s3.get_object(Bucket="ver", Key="d/copied.txt")["Body"].read() == b"one"
assert code(s3.get_object, Bucket="ver", Key="d/v.txt")[1] == 404, "the source stays deleted"
s3.delete_object(Bucket="ver", Key="d/copied.txt",
                 VersionId=s3.head_object(Bucket="ver", Key="d/copied.txt")["VersionId"])
c = code(s3.get_object, Bucket="ver", Key="d/v.txt", VersionId=str(int(v2) + 5))
assert c == ("NoSuchVersion", 404), c
# a large one (streamed, not read in one go) behind its marker
big = bytes(range(256)) * 2048
vb = s3.put_object(Bucket="ver", Key="big.bin", Body=big)["VersionId"]
dm_big = s3.delete_object(Bucket="ver", Key="big.bin")["VersionId"]
assert code(s3.get_object, Bucket="ver", Key="big.bin")[1] == 404
assert s3.get_object(Bucket="ver", Key="big.bin", VersionId=vb)["Body"].read() == big
s3.delete_object(Bucket="ver", Key="big.bin", VersionId=vb)
s3.delete_object(Bucket="ver", Key="big.bin", VersionId=dm_big)  # the marker stayed: remove it
# the key is gone from plain listings
assert "Contents" not in s3.list_objects_v2(Bucket="ver"), s3.list_objects_v2(Bucket="ver")

# ListObjectVersions: the marker is latest, the versions are behind it
vs, ms = listing()
assert ms == [("d/v.txt", dm, True)], ms
assert vs == [("d/v.txt", v2, False), ("d/v.txt", v1, False)], vs
r = s3.list_object_versions(Bucket="ver", Delimiter="/")
assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["d/"], r
assert "Versions" not in r and "DeleteMarkers" not in r, r
# paged one entry at a time: marker, v2, v1, each exactly once
seen, km, vm = [], None, None
while True:
    kw = {"MaxKeys": 1}
    if km is not None:
        kw.update(KeyMarker=km, VersionIdMarker=vm)
    r = s3.list_object_versions(Bucket="ver", **kw)
    seen += [m["VersionId"] for m in r.get("DeleteMarkers", [])] + [v["VersionId"] for v in r.get("Versions", [])]
    if not r["IsTruncated"]:
        break
    km, vm = r["NextKeyMarker"], r.get("NextVersionIdMarker", "")
assert seen == [dm, v2, v1], seen

# a second DELETE of a deleted key answers its current marker; a malformed marker id is refused
r = s3.delete_object(Bucket="ver", Key="d/v.txt")
assert r.get("DeleteMarker") is True and r["VersionId"] == dm, r
for bad in ("dm", "dm0", "dmx"):
    assert code(s3.delete_object, Bucket="ver", Key="d/v.txt", VersionId=bad) == ("InvalidArgument", 400), bad
    assert code(s3.get_object, Bucket="ver", Key="d/v.txt", VersionId=bad)[1] == 400, bad
# a marker id naming no marker of this key: nothing removed (GET: NoSuchVersion)
assert code(s3.get_object, Bucket="ver", Key="d/v.txt", VersionId="dm999999") == ("NoSuchVersion", 404)
assert code(s3.delete_object, Bucket="ver", Key="other.txt", VersionId=dm) == ("OK", 200)
assert listing()[1] == [("d/v.txt", dm, True)]

# deleting the marker brings the object back, its newest version current
r = s3.delete_object(Bucket="ver", Key="d/v.txt", VersionId=dm)
assert r.get("DeleteMarker") is True and r["VersionId"] == dm, r
o = s3.get_object(Bucket="ver", Key="d/v.txt")
assert o["Body"].read() == b"two" and o["VersionId"] == v2, o
vs, ms = listing()
assert ms == [] and vs == [("d/v.txt", v2, True), ("d/v.txt", v1, False)], (vs, ms)
assert dav_req("GET", "/ver/d/v.txt") == (200, b"two")

# DeleteObjects makes markers too, and removes them by id
s3.put_object(Bucket="ver", Key="b.txt", Body=b"b")
r = s3.delete_objects(Bucket="ver", Delete={"Objects": [{"Key": "b.txt"}, {"Key": "d/v.txt"}]})
got = {d["Key"]: d for d in r["Deleted"]}
assert got["b.txt"]["DeleteMarker"] is True and got["b.txt"]["DeleteMarkerVersionId"].startswith("dm"), got
dm_b, dm_v = got["b.txt"]["DeleteMarkerVersionId"], got["d/v.txt"]["DeleteMarkerVersionId"]
assert sorted(listing()[1]) == [("b.txt", dm_b, True), ("d/v.txt", dm_v, True)], listing()
r = s3.delete_objects(Bucket="ver", Delete={"Objects": [{"Key": "b.txt", "VersionId": dm_b}]})
assert r["Deleted"][0]["DeleteMarker"] is True, r
assert s3.get_object(Bucket="ver", Key="b.txt")["Body"].read() == b"b"

# a version of a deleted object removed by id: gone for good, the marker stays
vs, ms = listing("d/")
assert ms == [("d/v.txt", dm_v, True)] and [v[1] for v in vs] == [v2, v1], (vs, ms)
s3.delete_object(Bucket="ver", Key="d/v.txt", VersionId=v1)
assert listing("d/") == ([("d/v.txt", v2, False)], [("d/v.txt", dm_v, True)]), listing("d/")
# its last version: the marker stays, with nothing behind it (as on AWS)
s3.delete_object(Bucket="ver", Key="d/v.txt", VersionId=v2)
assert listing("d/") == ([], [("d/v.txt", dm_v, True)]), listing("d/")
c, st, h = raw_error(s3.head_object, Bucket="ver", Key="d/v.txt")
assert st == 404 and h.get("x-amz-delete-marker") == "true" and h.get("x-amz-version-id") == dm_v, h
assert code(s3.get_object, Bucket="ver", Key="d/v.txt", VersionId=v2) == ("NoSuchVersion", 404)
# the key's numbers are never used again: a new object numbers on past the deleted ones
v3 = s3.put_object(Bucket="ver", Key="d/v.txt", Body=b"three")["VersionId"]
assert int(v3) > max(int(v1), int(v2)), (v1, v2, v3)
assert listing("d/") == ([("d/v.txt", v3, True)], [("d/v.txt", dm_v, False)]), listing("d/")
# its only version removed by id: the key's state is the marker again
s3.delete_object(Bucket="ver", Key="d/v.txt", VersionId=v3)
assert listing("d/") == ([], [("d/v.txt", dm_v, True)]), listing("d/")
# removing the marker: nothing is left of the key (no file comes back)
r = s3.delete_object(Bucket="ver", Key="d/v.txt", VersionId=dm_v)
assert r.get("DeleteMarker") is True and r["VersionId"] == dm_v, r
assert listing("d/") == ([], []), listing("d/")
c, st, h = raw_error(s3.head_object, Bucket="ver", Key="d/v.txt")
assert st == 404 and "x-amz-delete-marker" not in h, h

# the only version of a live object removed by id goes for good: no marker appears
only = s3.put_object(Bucket="ver", Key="only.txt", Body=b"x")["VersionId"]
s3.delete_object(Bucket="ver", Key="only.txt", VersionId=only)
assert listing("only") == ([], []), listing("only")

# emptying a bucket the way boto3's bucket.object_versions.delete() does leaves nothing
s3.put_object(Bucket="ver", Key="e/1", Body=b"1")
s3.put_object(Bucket="ver", Key="e/1", Body=b"11")
s3.delete_object(Bucket="ver", Key="e/1")
vs, ms = listing("e/")
objs = [{"Key": k, "VersionId": v} for k, v, _ in ms + vs]
r = s3.delete_objects(Bucket="ver", Delete={"Objects": objs})
assert "Errors" not in r, r
assert listing("e/") == ([], []), listing("e/")

# WebDAV: a file deleted over WebDAV is a delete marker to S3
s3.put_object(Bucket="ver", Key="w.txt", Body=b"dav")
assert dav_req("DELETE", "/ver/w.txt")[0] == 204
c, st, h = raw_error(s3.head_object, Bucket="ver", Key="w.txt")
assert st == 404 and h.get("x-amz-delete-marker") == "true", h
dm_w = h["x-amz-version-id"]
assert ("w.txt", dm_w, True) in listing("w")[1]
# and a marker removed through S3 is the file restored for WebDAV
s3.delete_object(Bucket="ver", Key="w.txt", VersionId=dm_w)
assert dav_req("GET", "/ver/w.txt") == (200, b"dav")

# every marker of a key is listed, in order with the versions (a key deleted and put again,
# twice): IsLatest only on the newest; the version numbers of the key never repeat
s3.delete_object(Bucket="ver", Key="w.txt")
dm_a = listing("w")[1][0][1]
v_new = s3.put_object(Bucket="ver", Key="w.txt", Body=b"new")["VersionId"]
s3.delete_object(Bucket="ver", Key="w.txt")
dm_b = listing("w")[1][0][1]
v_newer = s3.put_object(Bucket="ver", Key="w.txt", Body=b"newer")["VersionId"]
vs, ms = listing("w")
v_dav = [v for _, v, _ in vs if v not in (v_new, v_newer)]
assert len(v_dav) == 1 and len({v_newer, v_new, v_dav[0]}) == 3, vs
v_dav = v_dav[0]
assert vs == [("w.txt", v_newer, True), ("w.txt", v_new, False), ("w.txt", v_dav, False)], vs
assert ms == [("w.txt", dm_b, False), ("w.txt", dm_a, False)], ms
# paged one entry at a time: the order of the history, each exactly once
seen, km, vm = [], None, None
while True:
    kw = {"MaxKeys": 1, "Prefix": "w"}
    if km is not None:
        kw.update(KeyMarker=km, VersionIdMarker=vm)
    r = s3.list_object_versions(Bucket="ver", **kw)
    seen += [m["VersionId"] for m in r.get("DeleteMarkers", [])] + [v["VersionId"] for v in r.get("Versions", [])]
    if not r["IsTruncated"]:
        break
    km, vm = r["NextKeyMarker"], r.get("NextVersionIdMarker", "")
assert seen == [v_newer, dm_b, v_new, dm_a, v_dav], seen
# each version read by id, also those behind the older markers; a marker's id is 405
for vid, body in ((v_newer, b"newer"), (v_new, b"new"), (v_dav, b"dav")):
    assert s3.get_object(Bucket="ver", Key="w.txt", VersionId=vid)["Body"].read() == body, vid
c, st, h = raw_error(s3.get_object, Bucket="ver", Key="w.txt", VersionId=dm_a)
assert (c, st) == ("MethodNotAllowed", 405) and h.get("x-amz-delete-marker") == "true", (c, st)
# deleting an older marker by id removes just that marker: the versions stay, in order
r = s3.delete_object(Bucket="ver", Key="w.txt", VersionId=dm_a)
assert r.get("DeleteMarker") is True and r["VersionId"] == dm_a, r
vs, ms = listing("w")
assert vs == [("w.txt", v_newer, True), ("w.txt", v_new, False), ("w.txt", v_dav, False)], vs
assert ms == [("w.txt", dm_b, False)], ms
assert s3.get_object(Bucket="ver", Key="w.txt")["Body"].read() == b"newer"
assert s3.get_object(Bucket="ver", Key="w.txt", VersionId=v_dav)["Body"].read() == b"dav"
assert code(s3.get_object, Bucket="ver", Key="w.txt", VersionId=dm_a) == ("NoSuchVersion", 404)
# and the other: the whole history under the object, no marker left
s3.delete_object(Bucket="ver", Key="w.txt", VersionId=dm_b)
assert listing("w") == ([("w.txt", v_newer, True), ("w.txt", v_new, False), ("w.txt", v_dav, False)], []), listing("w")
assert dav_req("GET", "/ver/w.txt") == (200, b"newer")
# a version behind an older marker deleted by id: just that version
s3.delete_object(Bucket="ver", Key="w.txt")
dm_c = listing("w")[1][0][1]
v_last = s3.put_object(Bucket="ver", Key="w.txt", Body=b"last")["VersionId"]
s3.delete_object(Bucket="ver", Key="w.txt", VersionId=v_new)
vs, ms = listing("w")
assert vs == [("w.txt", v_last, True), ("w.txt", v_newer, False), ("w.txt", v_dav, False)], vs
assert ms == [("w.txt", dm_c, False)], ms
print("ok")
