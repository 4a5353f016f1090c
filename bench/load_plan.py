#!/usr/bin/env python3
"""The plan of bench/load.sh's open loop for `loadgen` (bench/loadgen): the mix of streams,
each with its share of the rate and of the connections, and its requests written out whole.

    load_plan.py OUT.json RATE CONNS SECS DAV_URL DAV_PREFIX S3_URL AK SK BODY_FILE USERS PASSWORD
    load_plan.py --single PLAN.json NAME RATE CONNS SECS OUT.json   (one stream of a plan, alone)
    load_plan.py --names PLAN.json                                  (its streams' names)
    load_plan.py --cost RESULT.json TIME_FILE CPU_BEFORE CPU_AFTER NAME
        (a row of the cost table: NAME, server and loadgen CPU microseconds per answer, answers)

USERS is `alice,bob,carol` (three users: reads of alice and bob, PUTs of carol) or `alice`
(a peer with one user). S3 requests are presigned (query-string SigV4, valid 1 h, payload
unsigned), so the generator sends them as they are and signs nothing.
"""

import base64
import json
import os
import sys
from urllib.parse import urlsplit

# name, share of the rate and of the connections in percent
MIX = [
    ("dav_get_small", 30),
    ("dav_get_small_2", 15),
    ("dav_get_256k", 5),
    ("dav_put_small", 10),
    ("dav_propfind", 5),
    ("s3_get_small", 20),
    ("s3_put_small", 10),
    ("s3_list", 5),
]
PUT_NAMES = 20000


def head(method, host, path, extra=()):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *extra, "", ""]
    return "\r\n".join(lines)


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}"


def presigner(url, ak, sk):
    import boto3
    from botocore.config import Config

    s3 = boto3.session.Session().client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ak,
        aws_secret_access_key=sk,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))

    def sign(op, **params):
        u = urlsplit(s3.generate_presigned_url(op, Params=params, ExpiresIn=3600))
        return u.path + ("?" + u.query if u.query else "")
    return sign


def single(plan, name, rate, conns, secs, out):
    p = json.load(open(plan))
    s = next(s for s in p["streams"] if s["name"] == name)
    s.update(rate=float(rate), conns=int(conns))
    json.dump({**p, "secs": float(secs), "streams": [s]}, open(out, "w"))


def cost(result, time_file, before, after, name):
    d = json.load(open(result))
    n = sum((d.get("statusCodeDistribution") or {}).values()) or 1
    gen = sum(float(x) for x in open(time_file).read().split()[-2:])
    server = (float(after) - float(before)) * 1e6 / n
    print(f"{name}\t{server:.0f}\t{gen * 1e6 / n:.0f}\t{n}")


def main():
    if sys.argv[1] == "--single":
        return single(*sys.argv[2:8])
    if sys.argv[1] == "--names":
        return print(*[s["name"] for s in json.load(open(sys.argv[2]))["streams"]])
    if sys.argv[1] == "--cost":
        return cost(*sys.argv[2:7])
    (out, rate, conns, secs, dav, pre, s3url, ak, sk, body_file, users,
     password) = sys.argv[1:13]
    rate, conns, secs = float(rate), int(conns), float(secs)
    users = users.split(",")
    reader2 = users[1] if len(users) > 1 else users[0]
    writer = users[2] if len(users) > 2 else users[0]
    size = os.path.getsize(body_file)
    dav_host, s3_host = urlsplit(dav).netloc, urlsplit(s3url).netloc
    sign = presigner(s3url, ak, sk)
    length = f"Content-Length: {size}"

    def get(user, paths):
        return [head("GET", dav_host, f"{pre}{p}", [basic(user, password)]) for p in paths]

    requests = {
        "dav_get_small": get(users[0], [f"/small/f{i:03d}" for i in range(100)]),
        "dav_get_small_2": get(reader2, [f"/small/f{i:03d}" for i in range(100)]),
        "dav_get_256k": get(users[0], [f"/medium/m{i:02d}" for i in range(10)]),
        "dav_put_small": [head("PUT", dav_host, f"{pre}/put/p{i:05d}",
                               [basic(writer, password), length])
                          for i in range(PUT_NAMES)],
        "dav_propfind": [head("PROPFIND", dav_host, f"{pre}/small/",
                              [basic(users[0], password), "Depth: 1", "Content-Length: 0"])],
        "s3_get_small": [head("GET", s3_host, sign("get_object", Bucket="bkt", Key=f"k{i:03d}"))
                         for i in range(100)],
        "s3_put_small": [head("PUT", s3_host, sign("put_object", Bucket="bkt", Key=f"p{i:05d}"),
                              [length]) for i in range(PUT_NAMES)],
        "s3_list": [head("GET", s3_host, sign("list_objects_v2", Bucket="bkt", Prefix="k0",
                                              MaxKeys=100))],
    }
    streams = []
    for name, share in MIX:
        addr = s3_host if name.startswith("s3_") else dav_host
        stream = {"name": name, "addr": addr, "rate": rate * share / 100,
                  "conns": max(1, conns * share // 100), "requests": requests[name]}
        if "put" in name:
            stream["body_file"] = body_file
        streams.append(stream)
    json.dump({"secs": secs, "grace_secs": 30, "threads": 1, "streams": streams},
              open(out, "w"))


if __name__ == "__main__":
    main()
