#!/usr/bin/env python3
"""GetObjectAttributes (issue 14 item 8): ETag, ObjectSize, StorageClass, Checksum and
ObjectParts of the current version or a named one; never anonymous."""
from aws_common import client, code
from aws_public_common import refused

s3 = client()
B = "attrs"
s3.create_bucket(Bucket=B)
ALL = ["ETag", "ObjectSize", "StorageClass", "Checksum", "ObjectParts"]

r1 = s3.put_object(Bucket=B, Key="one", Body=b"first", ChecksumAlgorithm="SHA256")
r2 = s3.put_object(Bucket=B, Key="one", Body=b"second!")
a = s3.get_object_attributes(Bucket=B, Key="one", ObjectAttributes=ALL)
assert a["ObjectSize"] == 7 and a["StorageClass"] == "STANDARD", a
assert a["ETag"].strip('"') == r2["ETag"].strip('"'), (a["ETag"], r2["ETag"])
assert a["VersionId"] == r2["VersionId"] and "LastModified" in a
assert "ObjectParts" not in a, "a single PUT has no parts"
# only what was asked
a = s3.get_object_attributes(Bucket=B, Key="one", ObjectAttributes=["ObjectSize"])
assert a["ObjectSize"] == 7 and "ETag" not in a and "StorageClass" not in a, a
# an older version by id, with its checksum
a = s3.get_object_attributes(Bucket=B, Key="one", VersionId=r1["VersionId"], ObjectAttributes=ALL)
assert a["ObjectSize"] == 5 and a["ETag"].strip('"') == r1["ETag"].strip('"'), a
assert a["Checksum"]["ChecksumSHA256"] == r1["ChecksumSHA256"], a
assert a["Checksum"]["ChecksumType"] == "FULL_OBJECT", a

# a multipart object: its parts, paged
up = s3.create_multipart_upload(Bucket=B, Key="mp", ChecksumAlgorithm="CRC32")
parts = []
for n, body in [(1, b"a" * (5 << 20)), (2, b"b" * (5 << 20)), (3, b"tail")]:
    p = s3.upload_part(Bucket=B, Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=body,
                       ChecksumAlgorithm="CRC32")
    parts.append({"PartNumber": n, "ETag": p["ETag"], "ChecksumCRC32": p["ChecksumCRC32"]})
done = s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
a = s3.get_object_attributes(Bucket=B, Key="mp", ObjectAttributes=ALL)
assert a["ObjectSize"] == (10 << 20) + 4 and a["ETag"].strip('"') == done["ETag"].strip('"'), a
op = a["ObjectParts"]
assert op["TotalPartsCount"] == 3 and not op["IsTruncated"], op
assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == [(1, 5 << 20), (2, 5 << 20), (3, 4)], op
assert a["Checksum"]["ChecksumCRC32"] == done["ChecksumCRC32"] and a["Checksum"]["ChecksumType"] == "COMPOSITE", a
a = s3.get_object_attributes(Bucket=B, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2)
assert a["ObjectParts"]["IsTruncated"] and a["ObjectParts"]["NextPartNumberMarker"] == 2, a
a = s3.get_object_attributes(Bucket=B, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2, PartNumberMarker=2)
assert [p["PartNumber"] for p in a["ObjectParts"]["Parts"]] == [3] and not a["ObjectParts"]["IsTruncated"], a

# missing keys, versions, buckets; never anonymous, even on a public bucket
assert code(s3.get_object_attributes, Bucket=B, Key="none", ObjectAttributes=ALL)[0] == "NoSuchKey"
assert code(s3.get_object_attributes, Bucket=B, Key="one", VersionId="99", ObjectAttributes=ALL)[0] == "NoSuchVersion"
assert code(s3.get_object_attributes, Bucket="nobucket", Key="one", ObjectAttributes=ALL)[0] == "NoSuchBucket"
s3.put_bucket_acl(Bucket=B, ACL="public-read")
refused("GET", "/attrs/one?attributes", headers={"x-amz-object-attributes": "ObjectSize"})
print("ok")
