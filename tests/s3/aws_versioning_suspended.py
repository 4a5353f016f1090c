#!/usr/bin/env python3
"""PutBucketVersioning Suspended: the status is kept per bucket; each write while suspended
replaces the previous version written while suspended (AWS's one `null` version per key);
versions written while Enabled are kept; re-enabling keeps every version again."""
import hashlib

from aws_common import client, code

s3 = client()


def ids(bucket, key):
    r = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [v["VersionId"] for v in r.get("Versions", []) if v["Key"] == key]


def body(bucket, key, vid=None):
    kw = {"VersionId": vid} if vid else {}
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


s3.create_bucket(Bucket="sus")
s3.create_bucket(Bucket="other")
# a bucket never set is Enabled (every write keeps a version)
assert s3.get_bucket_versioning(Bucket="sus")["Status"] == "Enabled"
e1 = s3.put_object(Bucket="sus", Key="k", Body=b"enabled-1")["VersionId"]

s3.put_bucket_versioning(Bucket="sus", VersioningConfiguration={"Status": "Suspended"})
assert s3.get_bucket_versioning(Bucket="sus")["Status"] == "Suspended"
assert s3.get_bucket_versioning(Bucket="other")["Status"] == "Enabled", "per bucket"

# the first suspended write adds a version, the next replace it; the Enabled one stays
n1 = s3.put_object(Bucket="sus", Key="k", Body=b"null-1")["VersionId"]
assert ids("sus", "k") == [n1, e1], ids("sus", "k")
n2 = s3.put_object(Bucket="sus", Key="k", Body=b"null-2")["VersionId"]
assert ids("sus", "k") == [n2, e1], ids("sus", "k")
assert body("sus", "k") == b"null-2" and body("sus", "k", e1) == b"enabled-1"
assert code(s3.get_object, Bucket="sus", Key="k", VersionId=n1) == ("NoSuchVersion", 404)

# CopyObject and CompleteMultipartUpload replace it too
n3 = s3.copy_object(Bucket="sus", Key="k", CopySource={"Bucket": "sus", "Key": "k", "VersionId": e1})
assert len(ids("sus", "k")) == 2 and body("sus", "k") == b"enabled-1", ids("sus", "k")
up = s3.create_multipart_upload(Bucket="sus", Key="k")
etag = s3.upload_part(Bucket="sus", Key="k", UploadId=up["UploadId"], PartNumber=1, Body=b"mp")["ETag"]
s3.complete_multipart_upload(Bucket="sus", Key="k", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
assert len(ids("sus", "k")) == 2 and body("sus", "k") == b"mp", ids("sus", "k")
assert body("sus", "k", e1) == b"enabled-1"
# tags and ACLs change the version in place: it stays the one replaced next
s3.put_object_tagging(Bucket="sus", Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
s3.put_object(Bucket="sus", Key="k", Body=b"null-4")
assert len(ids("sus", "k")) == 2, ids("sus", "k")
# the mark is internal: never shown as user metadata
assert s3.head_object(Bucket="sus", Key="k")["Metadata"] == {}
nk = ids("sus", "k")[0]

# Enabled again: every write keeps a version, the suspended one too
s3.put_bucket_versioning(Bucket="sus", VersioningConfiguration={"Status": "Enabled"})
assert s3.get_bucket_versioning(Bucket="sus")["Status"] == "Enabled"
e2 = s3.put_object(Bucket="sus", Key="k", Body=b"enabled-2")["VersionId"]
e3 = s3.put_object(Bucket="sus", Key="k", Body=b"enabled-3")["VersionId"]
assert ids("sus", "k") == [e3, e2, nk, e1], ids("sus", "k")

# a copy of a version written while suspended is an ordinary version where it lands
c1 = s3.copy_object(Bucket="other", Key="c", CopySource={"Bucket": "sus", "Key": "k", "VersionId": nk})
s3.put_bucket_versioning(Bucket="other", VersioningConfiguration={"Status": "Suspended"})
s3.put_object(Bucket="other", Key="c", Body=b"x")
s3.put_object(Bucket="other", Key="c", Body=b"y")
assert len(ids("other", "c")) == 2 and body("other", "c") == b"y", ids("other", "c")
assert hashlib.md5(b"null-4").hexdigest() in [v["ETag"].strip('"') for v in
                                              s3.list_object_versions(Bucket="other")["Versions"]]

# only Enabled and Suspended; MfaDelete is not supported
assert code(s3.put_bucket_versioning, Bucket="sus", VersioningConfiguration={"Status": "Bogus"})[1] == 400
assert code(s3.put_bucket_versioning, Bucket="sus",
            VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}) == ("NotImplemented", 501)
assert code(s3.put_bucket_versioning, Bucket="missing",
            VersioningConfiguration={"Status": "Suspended"}) == ("NoSuchBucket", 404)
print("ok")
