#!/usr/bin/env python3
"""Canned ACLs and anonymous reads (issue 14 item 8): anonymous requests are allowed
exactly where a public-read grant allows them, and never write."""
import xml.etree.ElementTree as ET

from aws_common import client, code
from aws_public_common import anonymous, client2, refused, unsigned_client

s3 = client()
bob = client2()
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def grants(acl):
    return sorted((g["Grantee"].get("URI", g["Grantee"].get("ID")), g["Permission"]) for g in acl["Grants"])


# a private bucket: nothing anonymous works, for every operation
s3.create_bucket(Bucket="priv")
s3.put_object(Bucket="priv", Key="secret.txt", Body=b"secret")
assert grants(s3.get_bucket_acl(Bucket="priv")) == [("admin", "FULL_CONTROL")]
assert s3.get_bucket_policy_status(Bucket="priv")["PolicyStatus"]["IsPublic"] is False
for m, p in [("GET", "/priv/secret.txt"), ("HEAD", "/priv/secret.txt"), ("GET", "/priv"),
             ("GET", "/priv?list-type=2"), ("GET", "/priv/missing"), ("GET", "/priv/secret.txt?versionId=1"),
             ("GET", "/"), ("GET", "/priv?acl"), ("GET", "/priv/secret.txt?acl"), ("GET", "/priv?policy"),
             ("GET", "/priv/secret.txt?tagging"), ("GET", "/priv?versions"), ("GET", "/priv?uploads"),
             ("PUT", "/priv/new.txt"), ("DELETE", "/priv/secret.txt"), ("PUT", "/newbucket"),
             ("DELETE", "/priv"), ("POST", "/priv/secret.txt?uploads")]:
    refused(m, p, body=b"x" if m == "PUT" else None)

# a public-read bucket (x-amz-acl on CreateBucket): objects and listings readable unsigned
s3.create_bucket(Bucket="pub", ACL="public-read")
s3.put_object(Bucket="pub", Key="dir/a.txt", Body=b"hello")
assert grants(s3.get_bucket_acl(Bucket="pub")) == sorted([("admin", "FULL_CONTROL"), (ALL_USERS, "READ")])
assert s3.get_bucket_policy_status(Bucket="pub")["PolicyStatus"]["IsPublic"] is True
assert anonymous("GET", "/pub/dir/a.txt") == (200, b"hello")
st, _ = anonymous("HEAD", "/pub/dir/a.txt")
assert st == 200
st, body = anonymous("GET", "/pub?list-type=2")
assert st == 200 and b"<Key>dir/a.txt</Key>" in body, body
st, body = anonymous("GET", "/pub")
assert st == 200 and b"<Key>dir/a.txt</Key>" in body, body
st, body = anonymous("GET", "/pub/missing")
assert st == 404 and b"NoSuchKey" in body, (st, body)
# the same through boto3 without credentials (as `aws --no-sign-request`)
anon = unsigned_client()
assert [o["Key"] for o in anon.list_objects_v2(Bucket="pub")["Contents"]] == ["dir/a.txt"]
assert anon.get_object(Bucket="pub", Key="dir/a.txt")["Body"].read() == b"hello"
assert anon.head_object(Bucket="pub", Key="dir/a.txt")["ContentLength"] == 5
assert code(anon.put_object, Bucket="pub", Key="n.txt", Body=b"n") == ("AccessDenied", 403)
assert code(anon.delete_object, Bucket="pub", Key="dir/a.txt") == ("AccessDenied", 403)
assert code(anon.get_object, Bucket="priv", Key="secret.txt") == ("AccessDenied", 403)
assert code(anon.list_objects_v2, Bucket="priv") == ("AccessDenied", 403)
assert code(anon.list_buckets) == ("AccessDenied", 403)
# ...but never a write, a delete, a version by id, or any other operation
refused("PUT", "/pub/new.txt", body=b"x")
refused("PUT", "/pub/dir/a.txt", body=b"overwrite")
refused("DELETE", "/pub/dir/a.txt")
refused("GET", "/pub/dir/a.txt?versionId=1")
refused("GET", "/pub?acl")
refused("PUT", "/pub?acl", headers={"x-amz-acl": "private"})
refused("GET", "/pub/dir/a.txt?tagging")
refused("POST", "/pub/x?uploads")
assert s3.get_object(Bucket="pub", Key="dir/a.txt")["Body"].read() == b"hello"
assert code(s3.head_object, Bucket="pub", Key="new.txt")[1] == 404

# public-read-write: reads as public-read; anonymous writes stay refused (on purpose)
s3.create_bucket(Bucket="rwb")
s3.put_bucket_acl(Bucket="rwb", ACL="public-read-write")
assert grants(s3.get_bucket_acl(Bucket="rwb")) == sorted(
    [("admin", "FULL_CONTROL"), (ALL_USERS, "READ"), (ALL_USERS, "WRITE")])
s3.put_object(Bucket="rwb", Key="r.txt", Body=b"r")
assert anonymous("GET", "/rwb/r.txt") == (200, b"r")
refused("PUT", "/rwb/w.txt", body=b"w")
refused("DELETE", "/rwb/r.txt")
assert code(s3.head_object, Bucket="rwb", Key="w.txt")[1] == 404

# authenticated-read: stored and reported; grants nothing anonymous
s3.put_bucket_acl(Bucket="rwb", ACL="authenticated-read")
assert ("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ") in grants(s3.get_bucket_acl(Bucket="rwb"))
refused("GET", "/rwb/r.txt")
# back to private: refused again
s3.put_bucket_acl(Bucket="rwb", ACL="private")
refused("GET", "/rwb/r.txt")
refused("GET", "/rwb")
assert s3.get_bucket_policy_status(Bucket="rwb")["PolicyStatus"]["IsPublic"] is False

# unsupported canned ACLs and grants are refused by name
assert code(s3.put_bucket_acl, Bucket="rwb", ACL="bucket-owner-full-control") == ("NotImplemented", 501)
assert code(s3.put_bucket_acl, Bucket="rwb", GrantRead='uri="%s"' % ALL_USERS) == ("NotImplemented", 501)
assert code(s3.put_object, Bucket="rwb", Key="x", Body=b"x", ACL="log-delivery-write") == ("NotImplemented", 501)

# object ACLs: one public object in a private bucket, per version
s3.put_object(Bucket="priv", Key="shared.txt", Body=b"v1", ACL="public-read")
assert (ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket="priv", Key="shared.txt"))
assert anonymous("GET", "/priv/shared.txt") == (200, b"v1")
refused("GET", "/priv/secret.txt")
refused("GET", "/priv?list-type=2")  # the bucket stays unlistable
# a new version without an ACL is private again (the old one is not served instead)
s3.put_object(Bucket="priv", Key="shared.txt", Body=b"v2")
refused("GET", "/priv/shared.txt")
assert grants(s3.get_object_acl(Bucket="priv", Key="shared.txt")) == [("admin", "FULL_CONTROL")]
# PutObjectAcl changes the version in place: no new version
n = len(s3.list_object_versions(Bucket="priv", Prefix="shared.txt")["Versions"])
s3.put_object_acl(Bucket="priv", Key="shared.txt", ACL="public-read")
assert len(s3.list_object_versions(Bucket="priv", Prefix="shared.txt")["Versions"]) == n
assert anonymous("GET", "/priv/shared.txt") == (200, b"v2")
s3.put_object_acl(Bucket="priv", Key="shared.txt", ACL="private")
refused("GET", "/priv/shared.txt")
# a copy does not copy the ACL (as AWS); x-amz-acl on the copy sets it
s3.put_object_acl(Bucket="priv", Key="shared.txt", ACL="public-read")
s3.copy_object(Bucket="priv", Key="copy.txt", CopySource={"Bucket": "priv", "Key": "shared.txt"})
refused("GET", "/priv/copy.txt")
s3.copy_object(Bucket="priv", Key="copy2.txt", CopySource={"Bucket": "priv", "Key": "shared.txt"}, ACL="public-read")
assert anonymous("GET", "/priv/copy2.txt") == (200, b"v2")
# multipart with x-amz-acl
up = s3.create_multipart_upload(Bucket="priv", Key="mp.txt", ACL="public-read")
part = s3.upload_part(Bucket="priv", Key="mp.txt", UploadId=up["UploadId"], PartNumber=1, Body=b"mp")
s3.complete_multipart_upload(Bucket="priv", Key="mp.txt", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
assert anonymous("GET", "/priv/mp.txt") == (200, b"mp")

# buckets are per user: bob's private bucket of the same name is never reached; when
# two users' buckets of one name both grant the request, it is refused (never a guess)
bob.create_bucket(Bucket="pub")
bob.put_object(Bucket="pub", Key="dir/a.txt", Body=b"bob's")
bob.put_object(Bucket="pub", Key="bob-only.txt", Body=b"bob's secret")
assert anonymous("GET", "/pub/dir/a.txt") == (200, b"hello"), "admin's public bucket, not bob's"
st, body = anonymous("GET", "/pub/bob-only.txt")
assert st == 404 and b"bob's secret" not in body, (st, body)  # admin's bucket has no such key
st, body = anonymous("GET", "/pub?list-type=2")
assert st == 200 and b"bob-only" not in body, body
bob.put_bucket_acl(Bucket="pub", ACL="public-read")
refused("GET", "/pub/dir/a.txt")  # ambiguous now
refused("GET", "/pub?list-type=2")
bob.put_bucket_acl(Bucket="pub", ACL="private")
assert anonymous("GET", "/pub/dir/a.txt") == (200, b"hello")
# bob cannot read or change admin's ACLs (his requests name his own bucket)
assert code(bob.get_object_acl, Bucket="priv", Key="shared.txt")[0] == "NoSuchBucket"
print("ok")
