#!/usr/bin/env python3
"""S3 Object Lock as boto3 sees it: a bucket made with object lock (versioning Enabled, never
Suspended), its default retention applied to new versions, per-object retention (GOVERNANCE,
COMPLIANCE) and legal hold, HEAD/GET lock headers, locked versions refused to DeleteObject and
DeleteObjects by id (403 AccessDenied) while the key can still be overwritten and deleted (a
delete marker), governance bypassed only with x-amz-bypass-governance-retention, compliance
only extended, lock headers on a bucket without object lock refused (InvalidRequest).

Leaves behind, for the Rust test to try the other doors on: bucket `worm`, key `held.txt`,
whose first version is under legal hold and a compliance retention of an hour (a second,
unlocked version is current) — printed as `HELD <version>` on stdout."""
import datetime
import time

from aws_common import client, code

s3 = client()
now = lambda: datetime.datetime.now(datetime.timezone.utc)  # noqa: E731
HOUR = datetime.timedelta(hours=1)

# --- the bucket ---------------------------------------------------------------------------
s3.create_bucket(Bucket="worm", ObjectLockEnabledForBucket=True)
assert s3.get_bucket_versioning(Bucket="worm")["Status"] == "Enabled"
c = code(s3.put_bucket_versioning, Bucket="worm",
         VersioningConfiguration={"Status": "Suspended"})
assert c == ("InvalidBucketState", 409), c
conf = s3.get_object_lock_configuration(Bucket="worm")["ObjectLockConfiguration"]
assert conf == {"ObjectLockEnabled": "Enabled"}, conf

s3.create_bucket(Bucket="plain")
c = code(s3.get_object_lock_configuration, Bucket="plain")
assert c == ("ObjectLockConfigurationNotFoundError", 404), c
# lock headers or calls on a bucket without object lock: InvalidRequest, nothing stored
c = code(s3.put_object, Bucket="plain", Key="x", Body=b"x", ObjectLockLegalHoldStatus="ON")
assert c == ("InvalidRequest", 400), c
assert code(s3.head_object, Bucket="plain", Key="x")[1] == 404
s3.put_object(Bucket="plain", Key="y", Body=b"y")
c = code(s3.put_object_legal_hold, Bucket="plain", Key="y", LegalHold={"Status": "ON"})
assert c == ("InvalidRequest", 400), c

# --- an integrity header is required where AWS requires it -------------------------------
MISSING = ("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
           "with Object Lock parameters")
bare = client(request_checksum_calculation="when_required")


def strip_integrity(request, **_):
    for k in list(request.headers.keys()):
        lk = k.lower()
        if lk == "content-md5" or lk.startswith("x-amz-checksum-") or lk == "x-amz-sdk-checksum-algorithm":
            del request.headers[k]


def wrong_md5(request, **_):
    strip_integrity(request)
    request.headers["Content-MD5"] = "AAAAAAAAAAAAAAAAAAAAAA=="


def refused(fn, **kw):
    try:
        fn(**kw)
    except s3.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    return "OK", ""


s3.put_object(Bucket="worm", Key="i.txt", Body=b"i")
calls = (
    ("PutObjectRetention", "put_object_retention",
     dict(Bucket="worm", Key="i.txt",
          Retention={"Mode": "GOVERNANCE", "RetainUntilDate": now() + HOUR})),
    ("PutObjectLegalHold", "put_object_legal_hold",
     dict(Bucket="worm", Key="i.txt", LegalHold={"Status": "ON"})),
    ("PutObjectLockConfiguration", "put_object_lock_configuration",
     dict(Bucket="worm", ObjectLockConfiguration={
         "ObjectLockEnabled": "Enabled",
         "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3650}}})),
)
for op, name, kw in calls:
    for hook, want in ((strip_integrity, ("InvalidRequest", MISSING)), (wrong_md5, ("BadDigest", None))):
        cl = client()
        cl.meta.events.register(f"before-sign.s3.{op}", hook)
        c, msg = refused(getattr(cl, name), **kw)
        assert c == want[0] and (want[1] is None or msg == want[1]), (op, hook.__name__, c, msg)
# nothing of it took effect
assert "ObjectLockMode" not in s3.head_object(Bucket="worm", Key="i.txt")
assert s3.get_object_legal_hold(Bucket="worm", Key="i.txt")["LegalHold"]["Status"] == "OFF"
assert "Rule" not in s3.get_object_lock_configuration(Bucket="worm")["ObjectLockConfiguration"]
# PutObject with lock headers and no checksum (an SDK that sends none unless required)
c, msg = refused(bare.put_object, Bucket="worm", Key="i2.txt", Body=b"x", ObjectLockLegalHoldStatus="ON")
assert (c, msg) == ("InvalidRequest", MISSING), (c, msg)
assert code(s3.head_object, Bucket="worm", Key="i2.txt")[1] == 404
# ... while without lock headers it needs none; with a Content-MD5 (right, then wrong) as AWS
bare.put_object(Bucket="worm", Key="i3.txt", Body=b"x")
import base64, hashlib  # noqa: E401,E402
md5 = base64.b64encode(hashlib.md5(b"x").digest()).decode()
bare.put_object(Bucket="worm", Key="i2.txt", Body=b"x", ObjectLockLegalHoldStatus="ON", ContentMD5=md5)
v_i2 = s3.head_object(Bucket="worm", Key="i2.txt")["VersionId"]
s3.put_object_legal_hold(Bucket="worm", Key="i2.txt", VersionId=v_i2, LegalHold={"Status": "OFF"})
c, _ = refused(bare.put_object, Bucket="worm", Key="i4.txt", Body=b"y", ObjectLockLegalHoldStatus="ON",
               ContentMD5=md5)
assert c == "BadDigest", c
assert code(s3.head_object, Bucket="worm", Key="i4.txt")[1] == 404

# --- per-object retention and legal hold on PUT -------------------------------------------
until = (now() + HOUR).replace(microsecond=0)
r = s3.put_object(Bucket="worm", Key="c.txt", Body=b"compliance", ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=until)
vc = r["VersionId"]
h = s3.head_object(Bucket="worm", Key="c.txt")
assert h["ObjectLockMode"] == "COMPLIANCE", h
assert h["ObjectLockRetainUntilDate"] == until, (h["ObjectLockRetainUntilDate"], until)
assert "ObjectLockLegalHoldStatus" not in h, h
g = s3.get_object(Bucket="worm", Key="c.txt")
assert g["ObjectLockMode"] == "COMPLIANCE" and g["Body"].read() == b"compliance", g
ret = s3.get_object_retention(Bucket="worm", Key="c.txt", VersionId=vc)["Retention"]
assert ret == {"Mode": "COMPLIANCE", "RetainUntilDate": until}, ret
assert s3.get_object_legal_hold(Bucket="worm", Key="c.txt")["LegalHold"]["Status"] == "OFF"

# mode without date, date without mode, a date in the past: InvalidArgument
for kw in ({"ObjectLockMode": "GOVERNANCE"}, {"ObjectLockRetainUntilDate": until},
           {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": now() - HOUR}):
    c = code(s3.put_object, Bucket="worm", Key="bad.txt", Body=b"x", **kw)
    assert c == ("InvalidArgument", 400), (kw, c)
assert code(s3.head_object, Bucket="worm", Key="bad.txt")[1] == 404

# --- lock headers of CreateMultipartUpload: on the version the completion commits ---------
def multipart(bucket, key, body, **lock):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **lock)["UploadId"]
    e = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=body)["ETag"]
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})


vm = multipart("worm", "mp.txt", b"multipart", ObjectLockMode="COMPLIANCE",
               ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")["VersionId"]
h = s3.head_object(Bucket="worm", Key="mp.txt", VersionId=vm)
assert h["ObjectLockMode"] == "COMPLIANCE" and h["ObjectLockRetainUntilDate"] == until, h
assert h["ObjectLockLegalHoldStatus"] == "ON", h
assert not any(k.startswith("s3") or "lock" in k for k in h.get("Metadata", {})), h["Metadata"]
s3.put_object(Bucket="worm", Key="mp.txt", Body=b"over")
c = code(s3.delete_object, Bucket="worm", Key="mp.txt", VersionId=vm, BypassGovernanceRetention=True)
assert c == ("AccessDenied", 403), c
vh = multipart("worm", "mp-hold.txt", b"held", ObjectLockLegalHoldStatus="ON")["VersionId"]
h = s3.head_object(Bucket="worm", Key="mp-hold.txt")
assert h["ObjectLockLegalHoldStatus"] == "ON" and "ObjectLockMode" not in h, h
s3.put_object_legal_hold(Bucket="worm", Key="mp-hold.txt", VersionId=vh, LegalHold={"Status": "OFF"})
# refused at CreateMultipartUpload, as a PutObject's: nothing started
for bucket, kw, want in (
        ("plain", {"ObjectLockLegalHoldStatus": "ON"}, ("InvalidRequest", 400)),
        ("worm", {"ObjectLockMode": "GOVERNANCE"}, ("InvalidArgument", 400)),
        ("worm", {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": now() - HOUR},
         ("InvalidArgument", 400))):
    c = code(s3.create_multipart_upload, Bucket=bucket, Key="mp-bad.txt", **kw)
    assert c == want, (bucket, kw, c)
    ups = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert all(u["Key"] != "mp-bad.txt" for u in ups), ups

# --- CopyObject with lock headers: the lock is committed with the copy ---------------------
src = s3.put_object(Bucket="worm", Key="src.txt", Body=b"source")["VersionId"]
s3.put_object(Bucket="worm", Key="cp.txt", Body=b"before")
r = s3.copy_object(Bucket="worm", Key="cp.txt", CopySource={"Bucket": "worm", "Key": "src.txt"},
                   ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                   ObjectLockLegalHoldStatus="ON")
h = s3.head_object(Bucket="worm", Key="cp.txt")
assert h["ObjectLockMode"] == "COMPLIANCE" and h["ObjectLockRetainUntilDate"] == until, h
assert h["ObjectLockLegalHoldStatus"] == "ON" and h["ETag"] == r["CopyObjectResult"]["ETag"], h
# one new version over the old one: no delete marker, no unlocked version in between
vs = s3.list_object_versions(Bucket="worm", Prefix="cp.txt")
assert [v["IsLatest"] for v in vs["Versions"]] == [True, False] and "DeleteMarkers" not in vs, vs
assert s3.get_object(Bucket="worm", Key="cp.txt")["Body"].read() == b"source"
# the source is untouched
assert "ObjectLockMode" not in s3.head_object(Bucket="worm", Key="src.txt", VersionId=src)
# while copies are made, no reader ever sees one without its lock
import threading  # noqa: E402

seen, stop = [], threading.Event()


def poll():
    while not stop.is_set():
        for i in range(20):
            try:
                ph = s3.head_object(Bucket="worm", Key=f"cps/{i}")
            except s3.exceptions.ClientError:
                continue
            seen.append((i, ph.get("ObjectLockMode"), ph.get("ObjectLockLegalHoldStatus")))


t = threading.Thread(target=poll)
t.start()
for i in range(20):
    s3.copy_object(Bucket="worm", Key=f"cps/{i}", CopySource={"Bucket": "worm", "Key": "src.txt"},
                   ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
                   ObjectLockLegalHoldStatus="ON")
stop.set()
t.join()
assert all(m == "GOVERNANCE" and lh == "ON" for _, m, lh in seen), [x for x in seen if x[1] is None][:3]
for i in range(20):
    v = s3.head_object(Bucket="worm", Key=f"cps/{i}")["VersionId"]
    s3.put_object_legal_hold(Bucket="worm", Key=f"cps/{i}", VersionId=v, LegalHold={"Status": "OFF"})
# bad lock headers on a copy: refused, nothing copied
c = code(s3.copy_object, Bucket="worm", Key="cp-bad.txt", CopySource={"Bucket": "worm", "Key": "src.txt"},
         ObjectLockMode="GOVERNANCE")
assert c == ("InvalidArgument", 400), c
assert code(s3.head_object, Bucket="worm", Key="cp-bad.txt")[1] == 404

# --- deletes of locked versions -----------------------------------------------------------
# an overwrite is allowed: the locked version stays in the history
v2 = s3.put_object(Bucket="worm", Key="c.txt", Body=b"overwritten")["VersionId"]
c = code(s3.delete_object, Bucket="worm", Key="c.txt", VersionId=vc)
assert c == ("AccessDenied", 403), c
c = code(s3.delete_object, Bucket="worm", Key="c.txt", VersionId=vc, BypassGovernanceRetention=True)
assert c == ("AccessDenied", 403), ("compliance is never bypassed", c)
try:
    s3.delete_object(Bucket="worm", Key="c.txt", VersionId=vc)
except s3.exceptions.ClientError as e:
    msg = e.response["Error"].get("Message", "")
    assert "object lock" in msg.lower(), msg
# the unlocked newer version can go
s3.delete_object(Bucket="worm", Key="c.txt", VersionId=v2)
assert s3.get_object(Bucket="worm", Key="c.txt", VersionId=vc)["Body"].read() == b"compliance"
# a DELETE without a version id makes a delete marker; the locked version is still there
r = s3.delete_object(Bucket="worm", Key="c.txt")
assert r.get("DeleteMarker") is True, r
vs = s3.list_object_versions(Bucket="worm", Prefix="c.txt")
assert [v["VersionId"] for v in vs.get("Versions", [])] == [vc], vs
# by id behind its marker: still refused
c = code(s3.delete_object, Bucket="worm", Key="c.txt", VersionId=vc)
assert c == ("AccessDenied", 403), c

# compliance: extended, never shortened or turned into governance
later = until + HOUR
vd = s3.put_object(Bucket="worm", Key="d.txt", Body=b"d", ObjectLockMode="COMPLIANCE",
                   ObjectLockRetainUntilDate=until)["VersionId"]
s3.put_object_retention(Bucket="worm", Key="d.txt", VersionId=vd,
                        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
assert s3.get_object_retention(Bucket="worm", Key="d.txt")["Retention"]["RetainUntilDate"] == later
for ret in ({"Mode": "COMPLIANCE", "RetainUntilDate": until},
            {"Mode": "GOVERNANCE", "RetainUntilDate": later + HOUR}):
    c = code(s3.put_object_retention, Bucket="worm", Key="d.txt", VersionId=vd, Retention=ret,
             BypassGovernanceRetention=True)
    assert c == ("AccessDenied", 403), (ret, c)

# governance: shortened or removed only with the bypass header; then deletable by id
vg = s3.put_object(Bucket="worm", Key="g.txt", Body=b"g", ObjectLockMode="GOVERNANCE",
                   ObjectLockRetainUntilDate=until)["VersionId"]
s3.put_object(Bucket="worm", Key="g.txt", Body=b"g2")
c = code(s3.put_object_retention, Bucket="worm", Key="g.txt", VersionId=vg,
         Retention={"Mode": "GOVERNANCE", "RetainUntilDate": now() + datetime.timedelta(minutes=5)})
assert c == ("AccessDenied", 403), c
assert code(s3.delete_object, Bucket="worm", Key="g.txt", VersionId=vg) == ("AccessDenied", 403)
# a legal hold stops even the bypass
s3.put_object_legal_hold(Bucket="worm", Key="g.txt", VersionId=vg, LegalHold={"Status": "ON"})
assert s3.get_object_legal_hold(Bucket="worm", Key="g.txt", VersionId=vg)["LegalHold"]["Status"] == "ON"
h = s3.head_object(Bucket="worm", Key="g.txt", VersionId=vg)
assert h["ObjectLockLegalHoldStatus"] == "ON" and h["ObjectLockMode"] == "GOVERNANCE", h
c = code(s3.delete_object, Bucket="worm", Key="g.txt", VersionId=vg, BypassGovernanceRetention=True)
assert c == ("AccessDenied", 403), c
s3.put_object_legal_hold(Bucket="worm", Key="g.txt", VersionId=vg, LegalHold={"Status": "OFF"})
r = s3.delete_object(Bucket="worm", Key="g.txt", VersionId=vg, BypassGovernanceRetention=True)
assert r["VersionId"] == vg, r
vs = s3.list_object_versions(Bucket="worm", Prefix="g.txt").get("Versions", [])
assert vg not in [v["VersionId"] for v in vs], vs

# DeleteObjects reports the locked version per key, deletes the rest
va = s3.put_object(Bucket="worm", Key="m/a", Body=b"a", ObjectLockLegalHoldStatus="ON")["VersionId"]
s3.put_object(Bucket="worm", Key="m/a", Body=b"a2")
vb = s3.put_object(Bucket="worm", Key="m/b", Body=b"b")["VersionId"]
s3.put_object(Bucket="worm", Key="m/b", Body=b"b2")
r = s3.delete_objects(Bucket="worm", Delete={"Objects": [
    {"Key": "m/a", "VersionId": va}, {"Key": "m/b", "VersionId": vb}]})
assert [(d["Key"], d["VersionId"]) for d in r.get("Deleted", [])] == [("m/b", vb)], r
errs = [(e["Key"], e["VersionId"], e["Code"]) for e in r.get("Errors", [])]
assert errs == [("m/a", va, "AccessDenied")], r

# --- the bucket's default retention ------------------------------------------------------
s3.put_object_lock_configuration(Bucket="worm", ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
conf = s3.get_object_lock_configuration(Bucket="worm")["ObjectLockConfiguration"]
assert conf["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}, conf
before = now()
vn = s3.put_object(Bucket="worm", Key="n.txt", Body=b"n")["VersionId"]
h = s3.head_object(Bucket="worm", Key="n.txt")
assert h["ObjectLockMode"] == "GOVERNANCE", h
d = h["ObjectLockRetainUntilDate"] - before
assert datetime.timedelta(hours=23) < d < datetime.timedelta(hours=25), d
s3.copy_object(Bucket="worm", Key="n-copy.txt", CopySource={"Bucket": "worm", "Key": "n.txt"})
assert s3.head_object(Bucket="worm", Key="n-copy.txt")["ObjectLockMode"] == "GOVERNANCE"
# ... and to a multipart completion
mp = s3.create_multipart_upload(Bucket="worm", Key="n-mp.txt")["UploadId"]
et = s3.upload_part(Bucket="worm", Key="n-mp.txt", UploadId=mp, PartNumber=1, Body=b"mp")["ETag"]
s3.complete_multipart_upload(Bucket="worm", Key="n-mp.txt", UploadId=mp,
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": et}]})
h = s3.head_object(Bucket="worm", Key="n-mp.txt")
assert h["ObjectLockMode"] == "GOVERNANCE", h
d = h["ObjectLockRetainUntilDate"] - before
assert datetime.timedelta(hours=23) < d < datetime.timedelta(hours=25), d
# Days and Years together, or neither: MalformedXML; nothing changed
for rule in ({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, {"Mode": "GOVERNANCE"}):
    c = code(s3.put_object_lock_configuration, Bucket="worm", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": rule}})
    assert c[0] in ("MalformedXML", "InvalidArgument") and c[1] == 400, (rule, c)
conf = s3.get_object_lock_configuration(Bucket="worm")["ObjectLockConfiguration"]
assert conf["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}, conf
# back to no default
s3.put_object_lock_configuration(Bucket="worm",
                                 ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
s3.put_object(Bucket="worm", Key="p.txt", Body=b"p")
assert "ObjectLockMode" not in s3.head_object(Bucket="worm", Key="p.txt")

# --- a retention ends at its date ---------------------------------------------------------
soon = now() + datetime.timedelta(seconds=2)
ve = s3.put_object(Bucket="worm", Key="e.txt", Body=b"e", ObjectLockMode="COMPLIANCE",
                   ObjectLockRetainUntilDate=soon)["VersionId"]
s3.put_object(Bucket="worm", Key="e.txt", Body=b"e2")
assert code(s3.delete_object, Bucket="worm", Key="e.txt", VersionId=ve) == ("AccessDenied", 403)
time.sleep(max(0.0, (soon - now()).total_seconds()) + 1.0)
s3.delete_object(Bucket="worm", Key="e.txt", VersionId=ve)
assert len(s3.list_object_versions(Bucket="worm", Prefix="e.txt").get("Versions", [])) == 1

# --- left for the other doors -------------------------------------------------------------
vh = s3.put_object(Bucket="worm", Key="held.txt", Body=b"held", ObjectLockMode="COMPLIANCE",
                   ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")["VersionId"]
s3.put_object(Bucket="worm", Key="held.txt", Body=b"held2")
print(f"HELD {vh}")
print("object lock: ok")
