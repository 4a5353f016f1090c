#!/usr/bin/env python3
"""Kill -9 during concurrent multipart uploads, in two phases.

    crash_multipart.py upload ENDPOINT AK SK STATE_FILE   # completes 2 uploads, keeps 3 going, prints READY
    crash_multipart.py verify ENDPOINT AK SK STATE_FILE   # after the restart

Run by crates/cli/tests/s3.rs, which kills the server with SIGKILL after READY.
"""
import hashlib
import json
import os
import sys
import threading

import boto3
from botocore.config import Config

phase, endpoint, ak, sk, state = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                max_pool_connections=20))
MiB = 1 << 20

if phase == "upload":
    s3.create_bucket(Bucket="crash")
    done = {}

    def complete_one(key):
        parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(MiB + 3)]
        up = s3.create_multipart_upload(Bucket="crash", Key=key)
        tags = [s3.upload_part(Bucket="crash", Key=key, UploadId=up["UploadId"], PartNumber=i, Body=d)["ETag"]
                for i, d in enumerate(parts, 1)]
        s3.complete_multipart_upload(Bucket="crash", Key=key, UploadId=up["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": i, "ETag": t} for i, t in enumerate(tags, 1)]})
        done[key] = hashlib.sha256(b"".join(parts)).hexdigest()

    workers = [threading.Thread(target=complete_one, args=(f"done/{i}.bin",)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(done) == 2
    pending = []
    for i in range(3):
        pending.append((f"pending/{i}.bin", s3.create_multipart_upload(Bucket="crash", Key=f"pending/{i}.bin")["UploadId"]))
    with open(state, "w") as f:
        json.dump({"done": done, "pending": pending}, f)

    def keep_uploading(key, uid):
        n = 1
        while True:
            try:
                s3.upload_part(Bucket="crash", Key=key, UploadId=uid, PartNumber=n, Body=os.urandom(5 * MiB))
            except Exception:
                return  # the server is gone
            n += 1

    for key, uid in pending:
        threading.Thread(target=keep_uploading, args=(key, uid), daemon=True).start()
    print("READY", flush=True)
    threading.Event().wait(60)
else:
    with open(state) as f:
        st = json.load(f)
    for key, digest in st["done"].items():
        body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest, f"{key} is not what was completed"
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="crash").get("Contents", []))
    assert listed == sorted(st["done"]), f"only completed uploads are objects: {listed}"
    for key, uid in st["pending"]:
        # the unfinished uploads can still be aborted cleanly
        s3.abort_multipart_upload(Bucket="crash", Key=key, UploadId=uid)
    assert not s3.list_multipart_uploads(Bucket="crash").get("Uploads")
    print("verified")
