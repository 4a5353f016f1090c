"""What the aws_*.py scripts share: a boto3 client for argv[1..3] and `code`."""
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, ak, sk = sys.argv[1:4]
dav, dav_user, dav_pass = (sys.argv[4:7] + [None, None, None])[:3]


def client(**cfg):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **cfg))


def code(fn, **kw):
    """The S3 error code of a call and its HTTP status ("OK", 200 if none)."""
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return "OK", 200
