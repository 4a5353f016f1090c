#!/usr/bin/env python3
"""Every S3 error carries a <Message> (AWS's text, or a clearer one): no client prints
`…: Unknown`."""
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_common import ak, client, endpoint

s3 = client()


def message(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        err = e.response["Error"]
        return err["Code"], err.get("Message", "")
    raise AssertionError(f"{fn.__name__} should have failed")


s3.create_bucket(Bucket="msgs")
s3.put_object(Bucket="msgs", Key="k", Body=b"1")
up = s3.create_multipart_upload(Bucket="msgs", Key="u")
wrong = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key="wrong" * 8,
                     region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                            retries={"max_attempts": 1}))
unknown = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="AKIANOSUCHKEY0000000",
                       aws_secret_access_key="x" * 40, region_name="us-east-1",
                       config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
cases = [
    (s3.delete_bucket, {"Bucket": "msgs"}, "BucketNotEmpty", "The bucket you tried to delete is not empty"),
    (s3.get_object, {"Bucket": "msgs", "Key": "nope"}, "NoSuchKey", "The specified key does not exist."),
    (s3.list_objects_v2, {"Bucket": "nobucket"}, "NoSuchBucket", "The specified bucket does not exist"),
    (s3.abort_multipart_upload, {"Bucket": "msgs", "Key": "u", "UploadId": "0" * 32}, "NoSuchUpload",
     "The specified multipart upload does not exist"),
    (s3.complete_multipart_upload, {"Bucket": "msgs", "Key": "u", "UploadId": up["UploadId"],
                                    "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"00"'}]}},
     "InvalidPart", "part 1 was not uploaded"),
    (s3.get_bucket_website, {"Bucket": "msgs"}, "NotImplemented", "not implemented"),
    (wrong.list_buckets, {}, "SignatureDoesNotMatch", "signature"),
    (unknown.list_buckets, {}, "InvalidAccessKeyId", "Access Key Id"),
]
for fn, kw, want_code, want_text in cases:
    got_code, text = message(fn, **kw)
    assert got_code == want_code, (fn.__name__, got_code, text)
    assert text and text != "Unknown" and want_text.lower() in text.lower(), (fn.__name__, got_code, text)

# an unsigned request: AccessDenied with a message, in the XML itself
try:
    urllib.request.urlopen(endpoint + "/msgs/k")
    raise AssertionError("anonymous read allowed")
except urllib.error.HTTPError as e:
    body = e.read().decode()
    assert e.code == 403 and "<Code>AccessDenied</Code>" in body and "<Message>" in body, body
print("ok")
