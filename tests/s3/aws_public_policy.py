#!/usr/bin/env python3
"""The anonymous-download bucket policy and public access blocks (issue 14 item 8)."""
import json

from aws_common import client, code
from aws_public_common import anonymous, refused

s3 = client()


def download_policy(bucket, principal="*", action="s3:GetObject"):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": principal,
        "Action": action, "Resource": f"arn:aws:s3:::{bucket}/*"}]})


s3.create_bucket(Bucket="dlb")
s3.put_object(Bucket="dlb", Key="f.txt", Body=b"file")
assert code(s3.get_bucket_policy, Bucket="dlb") == ("NoSuchBucketPolicy", 404)
refused("GET", "/dlb/f.txt")

# the anonymous-download policy: objects readable unsigned, the listing not
doc = download_policy("dlb")
s3.put_bucket_policy(Bucket="dlb", Policy=doc)
assert json.loads(s3.get_bucket_policy(Bucket="dlb")["Policy"]) == json.loads(doc)
assert s3.get_bucket_policy_status(Bucket="dlb")["PolicyStatus"]["IsPublic"] is True
assert anonymous("GET", "/dlb/f.txt") == (200, b"file")
assert anonymous("HEAD", "/dlb/f.txt")[0] == 200
refused("GET", "/dlb?list-type=2")
refused("GET", "/dlb/missing")  # no listing right: a missing key is 403, as AWS
refused("PUT", "/dlb/new.txt", body=b"x")
refused("DELETE", "/dlb/f.txt")
refused("GET", "/dlb?policy")
# the MinIO client's form: Principal {"AWS": ["*"]}, Action as a list
s3.put_bucket_policy(Bucket="dlb", Policy=download_policy("dlb", {"AWS": ["*"]}, ["s3:GetObject"]))
assert anonymous("GET", "/dlb/f.txt") == (200, b"file")

# other documents are refused by name, and the stored one stays
for bad, names in [
    (download_policy("dlb", action="s3:PutObject"), "Action"),
    (download_policy("dlb", action=["s3:GetObject", "s3:ListBucket"]), "Action"),
    (download_policy("dlb", principal={"AWS": "arn:aws:iam::123456789012:root"}), "Principal"),
    (download_policy("other"), "Resource"),
    (json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::dlb/*"}]}), "Effect"),
    (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::dlb/*",
                                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}), "Condition"),
    ("{not json", "JSON"),
]:
    try:
        s3.put_bucket_policy(Bucket="dlb", Policy=bad)
        raise AssertionError("accepted: " + bad)
    except s3.exceptions.ClientError as e:
        err = e.response["Error"]
        assert err["Code"] == "MalformedPolicy" and names in err["Message"], (bad, err)
assert anonymous("GET", "/dlb/f.txt") == (200, b"file")

# DeleteBucketPolicy: private again
s3.delete_bucket_policy(Bucket="dlb")
refused("GET", "/dlb/f.txt")
assert s3.get_bucket_policy_status(Bucket="dlb")["PolicyStatus"]["IsPublic"] is False

# public access blocks
assert code(s3.get_public_access_block, Bucket="dlb") == ("NoSuchPublicAccessBlockConfiguration", 404)
s3.create_bucket(Bucket="blk", ACL="public-read")
s3.put_object(Bucket="blk", Key="o.txt", Body=b"o", ACL="public-read")
assert anonymous("GET", "/blk/o.txt") == (200, b"o")
# IgnorePublicAcls: the public-read bucket and object ACLs grant nothing
s3.put_public_access_block(Bucket="blk", PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
got = s3.get_public_access_block(Bucket="blk")["PublicAccessBlockConfiguration"]
assert got == {"BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
               "RestrictPublicBuckets": False}, got
refused("GET", "/blk/o.txt")
refused("HEAD", "/blk/o.txt")
refused("GET", "/blk?list-type=2")
assert s3.get_bucket_policy_status(Bucket="blk")["PolicyStatus"]["IsPublic"] is False
# RestrictPublicBuckets: the policy grants nothing
s3.put_bucket_policy(Bucket="blk", Policy=download_policy("blk"))
assert anonymous("GET", "/blk/o.txt") == (200, b"o"), "IgnorePublicAcls leaves the policy"
s3.put_public_access_block(Bucket="blk", PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
assert anonymous("GET", "/blk/o.txt") == (200, b"o"), "the public ACLs still grant"
s3.put_bucket_acl(Bucket="blk", ACL="private")
s3.put_object_acl(Bucket="blk", Key="o.txt", ACL="private")
refused("GET", "/blk/o.txt")
s3.put_public_access_block(Bucket="blk", PublicAccessBlockConfiguration={})
assert anonymous("GET", "/blk/o.txt") == (200, b"o"), "the policy applies again"
s3.delete_bucket_policy(Bucket="blk")
# BlockPublicAcls / BlockPublicPolicy: public ACLs and policies are refused when set
s3.put_public_access_block(Bucket="blk", PublicAccessBlockConfiguration={
    "BlockPublicAcls": True, "BlockPublicPolicy": True})
assert code(s3.put_bucket_acl, Bucket="blk", ACL="public-read") == ("AccessDenied", 403)
assert code(s3.put_object_acl, Bucket="blk", Key="o.txt", ACL="public-read") == ("AccessDenied", 403)
assert code(s3.put_object, Bucket="blk", Key="p.txt", Body=b"p", ACL="public-read") == ("AccessDenied", 403)
assert code(s3.put_bucket_policy, Bucket="blk", Policy=download_policy("blk")) == ("AccessDenied", 403)
assert code(s3.head_object, Bucket="blk", Key="p.txt")[1] == 404
s3.put_bucket_acl(Bucket="blk", ACL="private")  # private stays allowed
refused("GET", "/blk/o.txt")
# DeletePublicAccessBlock lifts it
s3.delete_public_access_block(Bucket="blk")
assert code(s3.get_public_access_block, Bucket="blk") == ("NoSuchPublicAccessBlockConfiguration", 404)
s3.put_bucket_acl(Bucket="blk", ACL="public-read")
assert anonymous("GET", "/blk/o.txt") == (200, b"o")
# anonymous requests cannot change any of it
refused("DELETE", "/blk?publicAccessBlock")
refused("PUT", "/blk?policy", body=download_policy("blk").encode())
refused("DELETE", "/blk?policy")
print("ok")
