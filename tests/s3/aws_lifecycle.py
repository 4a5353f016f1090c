#!/usr/bin/env python3
"""Bucket lifecycle rules against a server whose lifecycle "day" is one second and whose worker
runs every second: the rules the engine honours are stored and returned, every other element is
refused by name with nothing stored, and the worker expires exactly what the rules say."""
import time

from aws_common import client, code

s3 = client()
s3.create_bucket(Bucket="life")


def put_rules(rules, bucket="life"):
    return s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


def refused(rule):
    try:
        put_rules([rule])
    except s3.exceptions.ClientError as e:
        err = e.response["Error"]
        return err["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Message", "")
    raise AssertionError(f"accepted: {rule}")


def keys(prefix=""):
    return [o["Key"] for o in s3.list_objects_v2(Bucket="life", Prefix=prefix).get("Contents", [])]


def marked(key):
    r = s3.list_object_versions(Bucket="life", Prefix=key)
    return [m["VersionId"] for m in r.get("DeleteMarkers", []) if m["Key"] == key]


def versions(key):
    r = s3.list_object_versions(Bucket="life", Prefix=key)
    return [v["VersionId"] for v in r.get("Versions", []) if v["Key"] == key]


# none yet
assert code(s3.get_bucket_lifecycle_configuration, Bucket="life") == ("NoSuchLifecycleConfiguration", 404)

# every element the engine cannot honour is refused by name; nothing is stored
base = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}}
cases = [
    ({**base, "Expiration": {"Days": 1}, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, "Transition"),
    ({**base, "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
      "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "GLACIER"}]}, "NoncurrentVersionTransition"),
    ({**base, "Filter": {"Tag": {"Key": "a", "Value": "b"}}, "Expiration": {"Days": 1}}, "Tag"),
    ({**base, "Filter": {"ObjectSizeGreaterThan": 10}, "Expiration": {"Days": 1}}, "ObjectSizeGreaterThan"),
    ({**base, "Filter": {"ObjectSizeLessThan": 10}, "Expiration": {"Days": 1}}, "ObjectSizeLessThan"),
    ({**base, "Filter": {"And": {"Prefix": "a", "Tags": [{"Key": "a", "Value": "b"}]}},
      "Expiration": {"Days": 1}}, "And"),
    ({**base, "Expiration": {"Date": "2030-01-01T00:00:00Z"}}, "Date"),
    ({**base, "Expiration": {"ExpiredObjectDeleteMarker": True}}, "ExpiredObjectDeleteMarker"),
]
for rule, name in cases:
    c, st, msg = refused(rule)
    assert (c, st) == ("NotImplemented", 501) and name in msg, (name, c, st, msg)
    assert code(s3.get_bucket_lifecycle_configuration, Bucket="life")[1] == 404, name
for rule in [
    {**base, "Expiration": {"Days": 0}},
    {**base, "NoncurrentVersionExpiration": {"NewerNoncurrentVersions": 2}},
    {**base, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": -1}},
    {**base},  # no action
]:
    assert refused(rule)[1] == 400, rule
assert code(s3.get_bucket_lifecycle_configuration, Bucket="life")[1] == 404

# before the rules: objects, versions and uploads of every kind
for k in ["tmp/a", "keep/a", "other/a"]:
    s3.put_object(Bucket="life", Key=k, Body=k.encode())
for i in range(4):
    s3.put_object(Bucket="life", Key="logs/l", Body=b"v%d" % i)
# deleted objects: their versions are all noncurrent (behind a delete marker)
for i in range(3):
    s3.put_object(Bucket="life", Key="logs/deleted", Body=b"d%d" % i)
s3.delete_object(Bucket="life", Key="logs/deleted")
s3.put_object(Bucket="life", Key="old/x", Body=b"x")
s3.delete_object(Bucket="life", Key="old/x")
s3.put_object(Bucket="life", Key="other/deleted", Body=b"o")
s3.delete_object(Bucket="life", Key="other/deleted")
s3.put_object(Bucket="life", Key="other/many", Body=b"1")
s3.put_object(Bucket="life", Key="other/many", Body=b"2")
up_doomed = s3.create_multipart_upload(Bucket="life", Key="up/big")["UploadId"]
up_kept = s3.create_multipart_upload(Bucket="life", Key="other/big")["UploadId"]

rules = [
    {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 2}},
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 2, "NewerNoncurrentVersions": 1}},
    {"ID": "old", "Status": "Enabled", "Filter": {"Prefix": "old/"}, "NoncurrentVersionExpiration": {"NoncurrentDays": 2}},
    {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 1}},
    {"ID": "uploads", "Status": "Enabled", "Prefix": "up/", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
]
put_rules(rules)
got = s3.get_bucket_lifecycle_configuration(Bucket="life")["Rules"]
assert [r["ID"] for r in got] == ["tmp", "logs", "old", "off", "uploads"], got
assert got[0]["Filter"]["Prefix"] == "tmp/" and got[0]["Expiration"]["Days"] == 2, got[0]
assert got[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 2, "NewerNoncurrentVersions": 1}, got[1]
assert got[3]["Status"] == "Disabled", got[3]
assert got[4]["Filter"]["Prefix"] == "up/" and got[4]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 2
# an empty filter is every key; a second bucket's rules are its own
s3.create_bucket(Bucket="life2")
put_rules([{"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 365}}], bucket="life2")
assert s3.get_bucket_lifecycle_configuration(Bucket="life2")["Rules"][0]["Filter"].get("Prefix", "") == ""
assert len(s3.get_bucket_lifecycle_configuration(Bucket="life")["Rules"]) == 5

# the worker (every second, days of one second) does what the rules say, within 30 s
deadline = time.time() + 30
while time.time() < deadline:
    uploads = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="life").get("Uploads", [])]
    if ("tmp/a" not in keys() and len(versions("logs/l")) == 2 and up_doomed not in uploads
            and len(versions("logs/deleted")) == 1 and not marked("old/x")):
        break
    time.sleep(0.5)
assert "tmp/a" not in keys(), keys()
assert len(versions("logs/l")) == 2, versions("logs/l")
uploads = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="life").get("Uploads", [])]
assert up_doomed not in uploads, uploads
# an expired object is behind a delete marker, its version kept
r = s3.list_object_versions(Bucket="life", Prefix="tmp/a")
assert [m["IsLatest"] for m in r.get("DeleteMarkers", [])] == [True], r
assert len(r.get("Versions", [])) == 1, r
# a deleted object keeps its marker and the newest noncurrent version the rule keeps; one
# whose every version went is gone, marker and all; a deleted object no rule names stays
assert len(marked("logs/deleted")) == 1 and len(versions("logs/deleted")) == 1
assert marked("old/x") == [] and versions("old/x") == []
assert len(marked("other/deleted")) == 1 and len(versions("other/deleted")) == 1
# and nothing else went: the current log, the disabled rule's and unruled keys, the other upload
assert s3.get_object(Bucket="life", Key="logs/l")["Body"].read() == b"v3"
assert sorted(keys()) == ["keep/a", "logs/l", "other/a", "other/many"], keys()
assert len(versions("other/many")) == 2
assert up_kept in uploads, uploads
# a multipart upload still completes where no rule aborts it
e = s3.upload_part(Bucket="life", Key="other/big", UploadId=up_kept, PartNumber=1, Body=b"x")["ETag"]
s3.complete_multipart_upload(Bucket="life", Key="other/big", UploadId=up_kept,
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})

# deleted: nothing more expires
s3.delete_bucket_lifecycle(Bucket="life")
assert code(s3.get_bucket_lifecycle_configuration, Bucket="life")[1] == 404
s3.put_object(Bucket="life", Key="tmp/b", Body=b"b")
time.sleep(4)
assert "tmp/b" in keys(), keys()
print("ok")
