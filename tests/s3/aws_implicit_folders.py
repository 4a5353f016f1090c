#!/usr/bin/env python3
"""A folder made only to hold a key goes with its last object (as MinIO); an explicit one (a
`key/` marker, WebDAV MKCOL) stays; DeleteBucket succeeds once S3 shows the bucket empty."""
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
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def top(bucket, prefix=""):
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/", Prefix=prefix)
    return ([o["Key"] for o in r.get("Contents", [])], [p["Prefix"] for p in r.get("CommonPrefixes", [])])


# the case: put a/b.txt, delete it, the bucket is empty and can be deleted
s3.create_bucket(Bucket="imp")
s3.put_object(Bucket="imp", Key="a/b.txt", Body=b"x")
assert top("imp") == ([], ["a/"])
s3.delete_object(Bucket="imp", Key="a/b.txt")
assert top("imp") == ([], []), top("imp")
assert dav_req("PROPFIND", "/imp/a") == 404, "the folder is gone for every door"
s3.delete_bucket(Bucket="imp")
assert code(s3.head_bucket, Bucket="imp")[1] == 404

s3.create_bucket(Bucket="tree")
# deep keys: only the folders left empty go, up to the first that still holds something
for k in ["x/y/z/f.txt", "x/g.txt", "p/q/1", "p/q/2"]:
    s3.put_object(Bucket="tree", Key=k, Body=k.encode())
s3.delete_object(Bucket="tree", Key="x/y/z/f.txt")
assert top("tree", "x/") == (["x/g.txt"], []), top("tree", "x/")
r = s3.delete_objects(Bucket="tree", Delete={"Objects": [{"Key": "p/q/1"}, {"Key": "p/q/2"}]})
assert len(r["Deleted"]) == 2
assert top("tree") == ([], ["x/"]), top("tree")
# deleting a key that names a folder deletes nothing below it
s3.delete_object(Bucket="tree", Key="x")
assert top("tree", "x/") == (["x/g.txt"], [])

# explicit folders stay: a key/ marker, WebDAV MKCOL
s3.put_object(Bucket="tree", Key="keep/", Body=b"")
s3.put_object(Bucket="tree", Key="keep/f", Body=b"1")
s3.delete_object(Bucket="tree", Key="keep/f")
assert "keep/" in top("tree")[1], top("tree")
assert dav_req("MKCOL", "/tree/made-by-dav") == 201
s3.put_object(Bucket="tree", Key="made-by-dav/f", Body=b"1")
s3.delete_object(Bucket="tree", Key="made-by-dav/f")
assert "made-by-dav/" in top("tree")[1], top("tree")
# a marker put onto a folder made for a key makes it explicit
s3.put_object(Bucket="tree", Key="later/f", Body=b"1")
s3.put_object(Bucket="tree", Key="later/", Body=b"")
s3.delete_object(Bucket="tree", Key="later/f")
assert "later/" in top("tree")[1], top("tree")
# deleting a marker: an empty folder goes at once; one that holds objects keeps them and
# goes with the last
s3.delete_object(Bucket="tree", Key="keep/")
assert "keep/" not in top("tree")[1], top("tree")
s3.put_object(Bucket="tree", Key="m/", Body=b"")
s3.put_object(Bucket="tree", Key="m/f", Body=b"1")
s3.delete_object(Bucket="tree", Key="m/")
assert top("tree", "m/") == (["m/f"], []), top("tree", "m/")
s3.delete_object(Bucket="tree", Key="m/f")
assert "m/" not in top("tree")[1], top("tree")

# every way an object goes takes its implicit folder: a version delete, a WebDAV DELETE,
# and a multipart upload's folders
v = s3.put_object(Bucket="tree", Key="v/only.txt", Body=b"1")["VersionId"]
s3.delete_object(Bucket="tree", Key="v/only.txt", VersionId=v)
assert "v/" not in top("tree")[1], top("tree")
s3.put_object(Bucket="tree", Key="d/e/f.txt", Body=b"1")
assert dav_req("DELETE", "/tree/d/e/f.txt") == 204
assert "d/" not in top("tree")[1], top("tree")
up = s3.create_multipart_upload(Bucket="tree", Key="mp/deep/obj")
e = s3.upload_part(Bucket="tree", Key="mp/deep/obj", UploadId=up["UploadId"], PartNumber=1, Body=b"z")["ETag"]
s3.complete_multipart_upload(Bucket="tree", Key="mp/deep/obj", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
s3.copy_object(Bucket="tree", Key="cp/x/obj", CopySource={"Bucket": "tree", "Key": "mp/deep/obj"})
s3.delete_objects(Bucket="tree", Delete={"Objects": [{"Key": "mp/deep/obj"}, {"Key": "cp/x/obj"}]})
assert "mp/" not in top("tree")[1] and "cp/" not in top("tree")[1], top("tree")

# DeleteBucket: refused while S3 shows something (an explicit folder is a marker object
# on AWS), accepted once the bucket shows empty
assert code(s3.delete_bucket, Bucket="tree") == ("BucketNotEmpty", 409)
s3.delete_objects(Bucket="tree", Delete={"Objects": [{"Key": "x/g.txt"}, {"Key": "later/"},
                                                       {"Key": "made-by-dav/"}]})
assert top("tree") == ([], []), top("tree")
s3.delete_bucket(Bucket="tree")
print("ok")
