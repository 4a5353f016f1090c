#!/usr/bin/env python3
"""Object tagging (issue 14 item 8): Put/Get/DeleteObjectTagging, x-amz-tagging on PUT,
CopyObject and CreateMultipartUpload, x-amz-tagging-count, AWS's limits; changing tags
makes no new version."""
from aws_common import client, code

s3 = client()
B = "tags"
s3.create_bucket(Bucket=B)


def tags(key, **kw):
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=B, Key=key, **kw)["TagSet"]}


def versions(key):
    return [v for v in s3.list_object_versions(Bucket=B, Prefix=key).get("Versions", []) if v["Key"] == key]


# PUT with x-amz-tagging: stored, counted on GET and HEAD
r = s3.put_object(Bucket=B, Key="a.txt", Body=b"one", Tagging="project=nas&note=hello%20world&empty=")
v1 = r["VersionId"]
assert tags("a.txt") == {"project": "nas", "note": "hello world", "empty": ""}, tags("a.txt")
assert s3.get_object(Bucket=B, Key="a.txt")["TagCount"] == 3
h = s3.head_object(Bucket=B, Key="a.txt")
assert h["ResponseMetadata"]["HTTPHeaders"].get("x-amz-tagging-count") == "3", h
# tags are not user metadata
assert h.get("Metadata") == {}, h

# PutObjectTagging replaces the set in place: no new version, same content and ETag
etag = h["ETag"]
r = s3.put_object_tagging(Bucket=B, Key="a.txt",
                          Tagging={"TagSet": [{"Key": "k", "Value": "v"}, {"Key": "ü", "Value": "✓"}]})
assert r["VersionId"] == v1, r
assert tags("a.txt") == {"k": "v", "ü": "✓"}
assert len(versions("a.txt")) == 1, versions("a.txt")
g = s3.get_object(Bucket=B, Key="a.txt")
assert g["Body"].read() == b"one" and g["ETag"] == etag and g["TagCount"] == 2

# a new PUT without tagging has no tags; the old version keeps its own
v2 = s3.put_object(Bucket=B, Key="a.txt", Body=b"two")["VersionId"]
assert v2 != v1
assert tags("a.txt") == {}
assert "TagCount" not in s3.get_object(Bucket=B, Key="a.txt"), "no tags, no count"
assert "x-amz-tagging-count" not in s3.head_object(Bucket=B, Key="a.txt")["ResponseMetadata"]["HTTPHeaders"]
assert tags("a.txt", VersionId=v1) == {"k": "v", "ü": "✓"}
# tagging an older version by id changes that version only
s3.put_object_tagging(Bucket=B, Key="a.txt", VersionId=v1, Tagging={"TagSet": [{"Key": "old", "Value": "1"}]})
assert tags("a.txt", VersionId=v1) == {"old": "1"} and tags("a.txt") == {}
assert len(versions("a.txt")) == 2
assert s3.get_object(Bucket=B, Key="a.txt", VersionId=v1)["TagCount"] == 1

# DeleteObjectTagging removes the set, in place
s3.put_object_tagging(Bucket=B, Key="a.txt", Tagging={"TagSet": [{"Key": "x", "Value": "y"}]})
r = s3.delete_object_tagging(Bucket=B, Key="a.txt")
assert r["ResponseMetadata"]["HTTPStatusCode"] == 204 and r["VersionId"] == v2, r
assert tags("a.txt") == {} and len(versions("a.txt")) == 2

# AWS's limits: InvalidTag (400), nothing changed
s3.put_object_tagging(Bucket=B, Key="a.txt", Tagging={"TagSet": [{"Key": "keep", "Value": "1"}]})
for bad in [
    [{"Key": f"k{i}", "Value": "v"} for i in range(11)],
    [{"Key": "k" * 129, "Value": "v"}],
    [{"Key": "k", "Value": "v" * 257}],
    [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}],
    [{"Key": "aws:system", "Value": "1"}],
]:
    got = code(s3.put_object_tagging, Bucket=B, Key="a.txt", Tagging={"TagSet": bad})
    assert got == ("InvalidTag", 400), (bad[0]["Key"][:10], got)
assert tags("a.txt") == {"keep": "1"}
assert s3.put_object_tagging(Bucket=B, Key="a.txt",
                             Tagging={"TagSet": [{"Key": "é" * 128, "Value": "é" * 256}]})
assert code(s3.put_object, Bucket=B, Key="b.txt", Body=b"x", Tagging="a=1&a=2") == ("InvalidTag", 400)
assert code(s3.put_object, Bucket=B, Key="b.txt", Body=b"x",
            Tagging="&".join(f"k{i}=v" for i in range(11))) == ("InvalidTag", 400)
assert code(s3.head_object, Bucket=B, Key="b.txt")[1] == 404, "a refused PUT stores nothing"
# missing objects and versions
assert code(s3.get_object_tagging, Bucket=B, Key="none")[0] == "NoSuchKey"
assert code(s3.put_object_tagging, Bucket=B, Key="none", Tagging={"TagSet": []})[0] == "NoSuchKey"
assert code(s3.get_object_tagging, Bucket=B, Key="a.txt", VersionId="999")[0] == "NoSuchVersion"
assert code(s3.get_object_tagging, Bucket="nobucket", Key="a.txt")[0] == "NoSuchBucket"

# CopyObject: COPY (the default) keeps the source's tags, REPLACE takes the header's
s3.put_object(Bucket=B, Key="src", Body=b"s", Tagging="from=src")
s3.copy_object(Bucket=B, Key="c1", CopySource={"Bucket": B, "Key": "src"})
assert tags("c1") == {"from": "src"}
s3.copy_object(Bucket=B, Key="c2", CopySource={"Bucket": B, "Key": "src"},
               TaggingDirective="REPLACE", Tagging="new=1")
assert tags("c2") == {"new": "1"}
s3.copy_object(Bucket=B, Key="c3", CopySource={"Bucket": B, "Key": "src"},
               TaggingDirective="REPLACE")
assert tags("c3") == {}
# new metadata (REPLACE) keeps the source's tags unless they are replaced too
s3.copy_object(Bucket=B, Key="c4", CopySource={"Bucket": B, "Key": "src"},
               MetadataDirective="REPLACE", Metadata={"m": "1"})
assert tags("c4") == {"from": "src"}
assert s3.head_object(Bucket=B, Key="c4")["Metadata"] == {"m": "1"}
assert len(versions("c4")) == 1, "the copy is one version"
assert code(s3.copy_object, Bucket=B, Key="c5", CopySource={"Bucket": B, "Key": "src"},
            TaggingDirective="REPLACE", Tagging="a=1&a=2") == ("InvalidTag", 400)
assert tags("src") == {"from": "src"}, "the source is untouched"

# multipart: the tags given to CreateMultipartUpload are the object's
up = s3.create_multipart_upload(Bucket=B, Key="mp", Tagging="kind=multi")
part = s3.upload_part(Bucket=B, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 10)
s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
assert tags("mp") == {"kind": "multi"}
assert s3.get_object(Bucket=B, Key="mp")["TagCount"] == 1
assert code(s3.create_multipart_upload, Bucket=B, Key="mp2", Tagging="aws:x=1") == ("InvalidTag", 400)
print("ok")
