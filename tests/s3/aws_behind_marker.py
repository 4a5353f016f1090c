#!/usr/bin/env python3
"""A version behind a delete marker is a version like any other, as on AWS: when a key's
current state is a delete marker, the calls that name an older version by id act on exactly
that version — Get/Put/DeleteObjectTagging, Get/PutObjectAcl, Get/PutObjectRetention,
Get/PutObjectLegalHold, GetObjectAttributes, and UploadPartCopy's source — without bringing
the object back; the engine's object lock rules hold there too (a compliance retention only
grows, a governance one shrinks only with the bypass header, a legal hold stops a delete).
Removing the marker brings the object back with what was changed behind it."""
import datetime
import hashlib

from aws_common import client, code

s3 = client()
B, K = "behind", "doc.txt"
now = lambda: datetime.datetime.now(datetime.timezone.utc)  # noqa: E731
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"

s3.create_bucket(Bucket=B, ObjectLockEnabledForBucket=True)
one, two = b"one", bytes(range(256)) * 400
v1 = s3.put_object(Bucket=B, Key=K, Body=one, Tagging="a=1")["VersionId"]
v2 = s3.put_object(Bucket=B, Key=K, Body=two, Tagging="b=2")["VersionId"]
dm = s3.delete_object(Bucket=B, Key=K)["VersionId"]
assert code(s3.head_object, Bucket=B, Key=K)[1] == 404


def tags(vid):
    r = s3.get_object_tagging(Bucket=B, Key=K, VersionId=vid)
    assert r["VersionId"] == vid, r
    return {t["Key"]: t["Value"] for t in r["TagSet"]}


def public(vid):
    grants = s3.get_object_acl(Bucket=B, Key=K, VersionId=vid)["Grants"]
    return any(g["Grantee"].get("URI") == ALL_USERS for g in grants)


def history():
    r = s3.list_object_versions(Bucket=B, Prefix=K)
    return ([(v["VersionId"], v["IsLatest"]) for v in r.get("Versions", [])],
            [(m["VersionId"], m["IsLatest"]) for m in r.get("DeleteMarkers", [])])


before = history()
assert before == ([(v2, False), (v1, False)], [(dm, True)]), before

# --- the Get variants read the version named, behind the marker
assert tags(v1) == {"a": "1"} and tags(v2) == {"b": "2"}
assert not public(v1)
c = code(s3.get_object_retention, Bucket=B, Key=K, VersionId=v1)
assert c == ("NoSuchObjectLockConfiguration", 404), c
assert s3.get_object_legal_hold(Bucket=B, Key=K, VersionId=v1)["LegalHold"]["Status"] == "OFF"
for vid, body in ((v1, one), (v2, two)):
    a = s3.get_object_attributes(Bucket=B, Key=K, VersionId=vid, ObjectAttributes=["ETag", "ObjectSize"])
    assert a["VersionId"] == vid and a["ObjectSize"] == len(body), a
    assert a["ETag"].strip('"') == hashlib.md5(body).hexdigest(), a
# without a version id the key is a marker (404); a marker's id is no version (405), as GET
for fn in (s3.get_object_tagging, s3.get_object_acl):
    assert code(fn, Bucket=B, Key=K)[1] == 404, fn.__name__
    assert code(fn, Bucket=B, Key=K, VersionId=dm) == ("MethodNotAllowed", 405), fn.__name__
assert code(s3.get_object_tagging, Bucket=B, Key=K, VersionId="99") == ("NoSuchVersion", 404)

# --- the Put variants change exactly that version, in place, and the marker stays
r = s3.put_object_tagging(Bucket=B, Key=K, VersionId=v1, Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
assert r["VersionId"] == v1, r
assert tags(v1) == {"c": "3"} and tags(v2) == {"b": "2"}
assert s3.delete_object_tagging(Bucket=B, Key=K, VersionId=v2)["VersionId"] == v2
assert tags(v2) == {} and tags(v1) == {"c": "3"}
s3.put_object_acl(Bucket=B, Key=K, VersionId=v1, ACL="public-read")
assert public(v1) and not public(v2)

# legal hold: set behind the marker, it stops a delete of that version by id
s3.put_object_legal_hold(Bucket=B, Key=K, VersionId=v1, LegalHold={"Status": "ON"})
assert s3.get_object_legal_hold(Bucket=B, Key=K, VersionId=v1)["LegalHold"]["Status"] == "ON"
assert s3.get_object_legal_hold(Bucket=B, Key=K, VersionId=v2)["LegalHold"]["Status"] == "OFF"
assert code(s3.delete_object, Bucket=B, Key=K, VersionId=v1) == ("AccessDenied", 403)
s3.put_object_legal_hold(Bucket=B, Key=K, VersionId=v1, LegalHold={"Status": "OFF"})

# governance: set, extended, shortened only with the bypass header
day = now() + datetime.timedelta(days=1)
s3.put_object_retention(Bucket=B, Key=K, VersionId=v2,
                        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": day})
ret = s3.get_object_retention(Bucket=B, Key=K, VersionId=v2)["Retention"]
assert ret["Mode"] == "GOVERNANCE" and abs((ret["RetainUntilDate"] - day).total_seconds()) < 1, ret
assert code(s3.delete_object, Bucket=B, Key=K, VersionId=v2) == ("AccessDenied", 403)
hour = now() + datetime.timedelta(hours=1)
c = code(s3.put_object_retention, Bucket=B, Key=K, VersionId=v2,
         Retention={"Mode": "GOVERNANCE", "RetainUntilDate": hour})
assert c == ("AccessDenied", 403), c
s3.put_object_retention(Bucket=B, Key=K, VersionId=v2, BypassGovernanceRetention=True,
                        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": hour})
ret = s3.get_object_retention(Bucket=B, Key=K, VersionId=v2)["Retention"]
assert abs((ret["RetainUntilDate"] - hour).total_seconds()) < 1, ret

# compliance: only extended, never shortened nor turned into governance, even with a bypass
s3.put_object_retention(Bucket=B, Key=K, VersionId=v1,
                        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": hour})
for mode, until in (("COMPLIANCE", now() + datetime.timedelta(minutes=5)), ("GOVERNANCE", day)):
    c = code(s3.put_object_retention, Bucket=B, Key=K, VersionId=v1, BypassGovernanceRetention=True,
             Retention={"Mode": mode, "RetainUntilDate": until})
    assert c == ("AccessDenied", 403), (mode, c)
s3.put_object_retention(Bucket=B, Key=K, VersionId=v1,
                        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": day})
ret = s3.get_object_retention(Bucket=B, Key=K, VersionId=v1)["Retention"]
assert ret["Mode"] == "COMPLIANCE" and abs((ret["RetainUntilDate"] - day).total_seconds()) < 1, ret
c = code(s3.delete_object, Bucket=B, Key=K, VersionId=v1, BypassGovernanceRetention=True)
assert c == ("AccessDenied", 403), c

# nothing above made a version or brought the object back
assert history() == before, history()
assert code(s3.head_object, Bucket=B, Key=K)[1] == 404

# --- UploadPartCopy from a version behind the marker copies that version's range
up = s3.create_multipart_upload(Bucket=B, Key="part-copy.bin")["UploadId"]
r = s3.upload_part_copy(Bucket=B, Key="part-copy.bin", UploadId=up, PartNumber=1,
                        CopySource={"Bucket": B, "Key": K, "VersionId": v2},
                        CopySourceRange="bytes=1000-50999")
etag = r["CopyPartResult"]["ETag"]
assert etag.strip('"') == hashlib.md5(two[1000:51000]).hexdigest(), r
r2 = s3.upload_part_copy(Bucket=B, Key="part-copy.bin", UploadId=up, PartNumber=2,
                         CopySource={"Bucket": B, "Key": K, "VersionId": v1})
c = code(s3.upload_part_copy, Bucket=B, Key="part-copy.bin", UploadId=up, PartNumber=3,
         CopySource={"Bucket": B, "Key": K, "VersionId": "99"})
assert c == ("NoSuchVersion", 404), c
# part 1 is below 5 MiB: complete part 2 alone, then check part 1 through ListParts
parts = {p["PartNumber"]: p for p in s3.list_parts(Bucket=B, Key="part-copy.bin", UploadId=up)["Parts"]}
assert parts[1]["Size"] == 50000 and parts[1]["ETag"] == etag, parts
assert parts[2]["Size"] == len(one), parts
s3.complete_multipart_upload(Bucket=B, Key="part-copy.bin", UploadId=up, MultipartUpload={
    "Parts": [{"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
assert s3.get_object(Bucket=B, Key="part-copy.bin")["Body"].read() == one
up = s3.create_multipart_upload(Bucket=B, Key="range.bin")["UploadId"]
r = s3.upload_part_copy(Bucket=B, Key="range.bin", UploadId=up, PartNumber=1,
                        CopySource={"Bucket": B, "Key": K, "VersionId": v2},
                        CopySourceRange="bytes=1000-50999")
s3.complete_multipart_upload(Bucket=B, Key="range.bin", UploadId=up, MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}]})
assert s3.get_object(Bucket=B, Key="range.bin")["Body"].read() == two[1000:51000]
assert history() == before, history()

# --- removing the marker brings the object back with what changed behind it
s3.delete_object(Bucket=B, Key=K, VersionId=dm)
assert s3.get_object(Bucket=B, Key=K)["Body"].read() == two
assert tags(v1) == {"c": "3"} and tags(v2) == {} and public(v1) and not public(v2)
assert s3.get_object_retention(Bucket=B, Key=K)["Retention"]["Mode"] == "GOVERNANCE"
assert s3.get_object_retention(Bucket=B, Key=K, VersionId=v1)["Retention"]["Mode"] == "COMPLIANCE"
print("versions behind a delete marker: ok")
