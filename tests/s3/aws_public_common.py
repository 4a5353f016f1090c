"""What the public-access scripts share: a second user's client and unsigned requests."""
import http.client
import sys
import urllib.parse

import boto3
from botocore.config import Config

from aws_common import endpoint

# s3_ops.rs passes a second user's key after the first user's arguments
ak2, sk2 = sys.argv[7:9]


def client2():
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak2, aws_secret_access_key=sk2,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def unsigned_client():
    """boto3 without credentials (`--no-sign-request`)."""
    from botocore import UNSIGNED
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def anonymous(method, path, body=None, headers=None):
    """An unsigned request: (status, body)."""
    u = urllib.parse.urlsplit(endpoint)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = dict(headers or {})
    if body is not None:
        h["Content-Length"] = str(len(body))
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def refused(method, path, body=None, headers=None):
    """An unsigned request that must be refused with 403 (AccessDenied for a body)."""
    st, data = anonymous(method, path, body, headers)
    assert st == 403, (method, path, st, data[:300])
    if method != "HEAD":
        assert b"AccessDenied" in data, (method, path, data[:300])
