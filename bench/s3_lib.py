#!/usr/bin/env python3
"""Helpers for bench/s3.sh (boto3 + stdlib).

Credentials and endpoint come from the environment: S3_ENDPOINT (http://127.0.0.1:PORT),
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Region us-east-1, path-style addressing. Every
timed figure is printed in seconds; the clock never covers client start-up.

    s3_lib.py mkbucket BUCKET                    CreateBucket (ok if it already exists)
    s3_lib.py presign get|put BUCKET KEY         print a presigned URL (valid 1 h)
    s3_lib.py upload-file BUCKET KEY FILE        boto3 upload_file with TransferConfig(8 MiB
                                                 threshold, 8 MiB parts, 10 threads) — what
                                                 awscli/boto3 do by default; prints
                                                 "SECONDS PARTS"
    s3_lib.py download BUCKET KEY SIZE           boto3 download_fileobj (same TransferConfig)
                                                 into a sink that only counts; prints SECONDS
    s3_lib.py put-many BUCKET PREFIX N SIZE THREADS
                                                 PutObject of N objects of SIZE unique random
                                                 bytes with THREADS threads, one boto3 client
                                                 (own session) per thread, made before the
                                                 clock starts; prints
                                                 "FILES SECONDS ERRORS STATUS:COUNT,..."
    s3_lib.py put-many-presigned BUCKET PREFIX N SIZE THREADS
                                                 the same with presigned PUT URLs (signed
                                                 before the clock) sent by http.client over
                                                 one keep-alive connection per thread: the
                                                 server's rate with a near-free client
    s3_lib.py list BUCKET PREFIX EXPECT RUNS     full ListObjectsV2 listing (MaxKeys 1000,
                                                 boto3 paginator), best of RUNS; dies unless
                                                 EXPECT keys; prints "SECONDS KEYS PAGES"
    s3_lib.py list-raw BUCKET PREFIX EXPECT RUNS the same listing with each page's URL
                                                 presigned locally and fetched by
                                                 http.client, keys counted by regex (no
                                                 botocore XML parsing); prints
                                                 "SECONDS KEYS PAGES BODY_BYTES"
    s3_lib.py put-stream BUCKET KEY MIB          multipart upload of MIB MiB read from stdin
                                                 (a pipe) with boto3 upload_fileobj and the
                                                 TransferConfig above; prints "SECONDS"
    s3_lib.py head BUCKET KEY                    print "CONTENT_LENGTH ETAG"
    s3_lib.py summary RESULTS                    print the table from RESULTS (key<TAB>value
                                                 lines written by s3.sh)
"""
import http.client
import os
import re
import sys
import threading
import time
import urllib.parse

from tsv import fmt_rate, load

MiB = 1 << 20


def endpoint():
    return os.environ["S3_ENDPOINT"]


def client(pool=10):
    import boto3
    from botocore.config import Config

    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                 max_pool_connections=pool, signature_version="s3v4")
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint(), region_name="us-east-1",
                          aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                          config=cfg)


def transfer_config():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB,
                          max_concurrency=10, use_threads=True)


def mkbucket(bucket):
    from botocore.exceptions import ClientError

    s3 = client()
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def presign(method, bucket, key):
    op = {"get": "get_object", "put": "put_object"}[method]
    print(client().generate_presigned_url(op, Params={"Bucket": bucket, "Key": key},
                                          ExpiresIn=3600))


def upload_file(bucket, key, path):
    s3 = client(pool=16)
    cfg = transfer_config()
    t0 = time.perf_counter()
    s3.upload_file(path, bucket, key, Config=cfg)
    secs = time.perf_counter() - t0
    h = s3.head_object(Bucket=bucket, Key=key)
    if h["ContentLength"] != os.path.getsize(path):
        sys.exit(f"upload-file: HEAD says {h['ContentLength']} bytes")
    etag = h["ETag"].strip('"')
    parts = int(etag.split("-")[1]) if "-" in etag else 1
    print(f"{secs:.4f}", parts)


class Sink:
    def __init__(self):
        self.n = 0

    def write(self, b):
        self.n += len(b)
        return len(b)


def download(bucket, key, size):
    s3 = client(pool=16)
    cfg = transfer_config()
    sink = Sink()
    t0 = time.perf_counter()
    s3.download_fileobj(bucket, key, sink, Config=cfg)
    secs = time.perf_counter() - t0
    if sink.n != int(size):
        sys.exit(f"download: got {sink.n} bytes, expected {size}")
    print(f"{secs:.4f}")


def _run_threads(n, threads, setup, one):
    """Runs one(state, i) for i in 0..n over THREADS threads; setup() makes per-thread state
    before the clock starts. Returns (seconds, errors, codes)."""
    lock = threading.Lock()
    nxt = [0]
    codes = {}
    errors = [0]
    states = [setup() for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    def worker(st):
        start.wait()
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            code = one(st, i)
            with lock:
                codes[code] = codes.get(code, 0) + 1
                if code not in ("200", "201", "204"):
                    errors[0] += 1

    ts = [threading.Thread(target=worker, args=(s,)) for s in states]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    secs = time.perf_counter() - t0
    return secs, errors[0], codes


def _report(n, secs, errors, codes):
    cs = ",".join(f"{k}:{v}" for k, v in sorted(codes.items()))
    print(n, f"{secs:.4f}", errors, cs)


def put_many(bucket, prefix, n, size, threads):
    from botocore.exceptions import BotoCoreError, ClientError

    n, size, threads = int(n), int(size), int(threads)
    bodies = [os.urandom(size) for _ in range(n)]  # unique data: no dedup shortcut
    prefix = prefix.strip("/") + "/"

    def setup():
        s3 = client(pool=2)
        s3.head_bucket(Bucket=bucket)  # opens the connection, loads the models: not timed
        return s3

    def one(s3, i):
        try:
            r = s3.put_object(Bucket=bucket, Key=f"{prefix}f{i:05d}.bin", Body=bodies[i])
            return str(r["ResponseMetadata"]["HTTPStatusCode"])
        except ClientError as e:
            return str(e.response["ResponseMetadata"].get("HTTPStatusCode", "ClientError"))
        except BotoCoreError as e:
            return type(e).__name__

    secs, errors, codes = _run_threads(n, threads, setup, one)
    _report(n, secs, errors, codes)


def put_many_presigned(bucket, prefix, n, size, threads):
    n, size, threads = int(n), int(size), int(threads)
    bodies = [os.urandom(size) for _ in range(n)]
    prefix = prefix.strip("/") + "/"
    s3 = client()
    urls = [urllib.parse.urlsplit(s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": f"{prefix}f{i:05d}.bin"}, ExpiresIn=3600))
        for i in range(n)]
    host, port = urls[0].hostname, urls[0].port

    def conn():
        return http.client.HTTPConnection(host, port, timeout=120)

    def setup():
        c = conn()
        c.connect()
        return [c]

    def one(st, i):
        u = urls[i]
        path = u.path + "?" + u.query
        st_code = "?"
        for attempt in (0, 1):
            try:
                st[0].request("PUT", path, body=bodies[i],
                              headers={"Content-Length": str(size)})
                r = st[0].getresponse()
                r.read()
                st_code = str(r.status)
                if r.getheader("Connection", "").lower() == "close":
                    st[0].close()
                    st[0] = conn()
                break
            except (OSError, http.client.HTTPException) as e:
                st[0].close()
                st[0] = conn()
                st_code = type(e).__name__
        return st_code

    secs, errors, codes = _run_threads(n, threads, setup, one)
    _report(n, secs, errors, codes)


def list_keys(bucket, prefix, expect, runs):
    s3 = client()
    s3.head_bucket(Bucket=bucket)
    pag = s3.get_paginator("list_objects_v2")
    best = None
    for _ in range(int(runs)):
        keys = pages = 0
        t0 = time.perf_counter()
        for page in pag.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 1000}):
            keys += len(page.get("Contents", []))
            pages += 1
        secs = time.perf_counter() - t0
        if keys != int(expect):
            sys.exit(f"list: {keys} keys, expected {expect}")
        best = secs if best is None else min(best, secs)
    print(f"{best:.4f}", keys, pages)


def list_raw(bucket, prefix, expect, runs):
    s3 = client()
    s3.head_bucket(Bucket=bucket)
    u0 = urllib.parse.urlsplit(endpoint())
    best = None
    key_re = re.compile(rb"<Key>")
    tok_re = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
    for _ in range(int(runs)):
        c = http.client.HTTPConnection(u0.hostname, u0.port, timeout=120)
        c.connect()
        keys = pages = nbytes = 0
        token = None
        t0 = time.perf_counter()
        while True:
            params = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
            if token:
                params["ContinuationToken"] = token
            u = urllib.parse.urlsplit(s3.generate_presigned_url("list_objects_v2", Params=params,
                                                                ExpiresIn=3600))
            c.request("GET", u.path + "?" + u.query)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                sys.exit(f"list-raw: HTTP {r.status}: {body[:300]!r}")
            keys += len(key_re.findall(body))
            nbytes += len(body)
            pages += 1
            m = tok_re.search(body)
            if not m or b"<IsTruncated>true</IsTruncated>" not in body:
                break
            import html

            token = html.unescape(m.group(1).decode())
        secs = time.perf_counter() - t0
        c.close()
        if keys != int(expect):
            sys.exit(f"list-raw: {keys} keys, expected {expect}")
        best = secs if best is None else min(best, secs)
    print(f"{best:.4f}", keys, pages, nbytes)


def put_stream(bucket, key, mib):
    s3 = client(pool=16)
    cfg = transfer_config()
    s3.head_bucket(Bucket=bucket)
    src = sys.stdin.buffer
    t0 = time.perf_counter()
    s3.upload_fileobj(src, bucket, key, Config=cfg)
    secs = time.perf_counter() - t0
    h = s3.head_object(Bucket=bucket, Key=key)
    if h["ContentLength"] != int(mib) * MiB:
        sys.exit(f"put-stream: HEAD says {h['ContentLength']} bytes, expected {int(mib) * MiB}")
    print(f"{secs:.4f}")


def head(bucket, key):
    h = client().head_object(Bucket=bucket, Key=key)
    print(h["ContentLength"], h["ETag"].strip('"'))


# ---- summary ---------------------------------------------------------------------------------




def summary(path):
    r = load(path)
    rows = []
    met = missed = 0

    def row(name, s3, ref, ratio, goal, ok):
        nonlocal met, missed
        if ok is None:
            verdict = ""
        elif ok:
            verdict, met = "PASS", met + 1
        else:
            verdict, missed = "FAIL", missed + 1
        rows.append((name, s3, ref, f"{ratio:.2f}" if ratio is not None else "-", goal, verdict))

    def have(*keys):
        return all(isinstance(r.get(k), float) and r[k] > 0 for k in keys)

    big = r.get("big_mib", 0)
    if have("up_s3_curl", "up_dav"):
        q = r["up_s3_curl"] / r["up_dav"]
        row(f"PUT {big:.0f} MiB: S3 PutObject (curl -T presigned) vs WebDAV curl -T, best of 2",
            fmt_rate(r["up_s3_curl"]), fmt_rate(r["up_dav"]), q, ">= 0.80", q >= 0.80)
        runs = lambda k: " / ".join(f"{float(x):.0f}" for x in str(r.get(k, "")).split())
        if r.get("up_s3_curl_runs") and r.get("up_dav_runs"):
            row("  the two rounds (S3 / WebDAV, MB/s; alternating, new data each)",
                runs("up_s3_curl_runs"), runs("up_dav_runs"), None, "info", None)
    if have("up_s3_curl_cpu", "up_dav_cpu"):
        row(f"  server CPU for that PUT (user+sys seconds)", f"{r['up_s3_curl_cpu']:.2f} s",
            f"{r['up_dav_cpu']:.2f} s", r["up_s3_curl_cpu"] / r["up_dav_cpu"], "info", None)
    if have("up_s3_boto", "up_dav"):
        parts = r.get("up_s3_boto_parts", 0)
        row(f"  PUT {big:.0f} MiB: boto3 upload_file ({parts:.0f} parts of 8 MiB, 10 threads)",
            fmt_rate(r["up_s3_boto"]), fmt_rate(r["up_dav"]), r["up_s3_boto"] / r["up_dav"],
            "info", None)
    if have("up_s3_curl", "dd_fsync"):
        row(f"  PUT {big:.0f} MiB: S3 curl -T vs dd bs=4M conv=fsync (same file, same fs)",
            fmt_rate(r["up_s3_curl"]), fmt_rate(r["dd_fsync"]), r["up_s3_curl"] / r["dd_fsync"],
            "info", None)
    if have("up_dav", "dd_fsync"):
        row("  PUT: WebDAV curl -T vs dd conv=fsync", fmt_rate(r["up_dav"]),
            fmt_rate(r["dd_fsync"]), r["up_dav"] / r["dd_fsync"], "info", None)
    if have("down_s3_curl"):
        ref = r.get("down_dav")
        row(f"GET {big:.0f} MiB: S3 (curl presigned, best of 2) vs WebDAV curl, same file",
            fmt_rate(r["down_s3_curl"]), fmt_rate(ref) if isinstance(ref, float) else "-",
            r["down_s3_curl"] / ref if isinstance(ref, float) and ref > 0 else None,
            ">= 1 GB/s", r["down_s3_curl"] >= 1000)
    if have("down_s3_boto", "down_dav"):
        row(f"  GET {big:.0f} MiB: boto3 download_fileobj (8 MiB ranges, 10 threads)",
            fmt_rate(r["down_s3_boto"]), fmt_rate(r["down_dav"]),
            r["down_s3_boto"] / r["down_dav"], "info", None)
    if have("small_s3", "small_dav"):
        row(f"{r['small_n']:.0f} x 4 KiB PUT, {r['small_threads']:.0f} parallel: boto3 vs WebDAV put-many",
            f"{r['small_s3']:.0f} files/s", f"{r['small_dav']:.0f} files/s",
            r["small_s3"] / r["small_dav"], "info", None)
    if have("small_s3_pre", "small_dav"):
        row("  same, presigned URLs over http.client (client ~free)",
            f"{r['small_s3_pre']:.0f} files/s", f"{r['small_dav']:.0f} files/s",
            r["small_s3_pre"] / r["small_dav"], "info", None)
    if have("list_s3", "propfind_dav"):
        n = r["list_n"]
        row(f"ListObjectsV2 {n:.0f} keys (boto3, 1000/page, best of 3) vs PROPFIND Depth 1",
            f"{n / r['list_s3']:.0f} keys/s", f"{n / r['propfind_dav']:.0f} entries/s",
            r["propfind_dav"] / r["list_s3"], "info", None)
        row("  (time)", f"{r['list_s3'] * 1000:.0f} ms", f"{r['propfind_dav'] * 1000:.0f} ms",
            None, "info", None)
    if have("list_s3_raw", "propfind_dav"):
        n = r["list_n"]
        row("  ListObjectsV2, presigned pages over http.client (no botocore parsing)",
            f"{n / r['list_s3_raw']:.0f} keys/s", f"{n / r['propfind_dav']:.0f} entries/s",
            r["propfind_dav"] / r["list_s3_raw"], "info", None)
    if have("rss4g_s3"):
        row(f"server peak RSS during {r['four_mib']:.0f} MiB S3 multipart upload (VmHWM, fresh process)",
            f"{r['rss4g_s3'] / 1024:.1f} MiB", "-", None, "<= 100 MiB",
            r["rss4g_s3"] <= 100 * 1024)
    if have("up4g_s3"):
        row(f"  {r['four_mib']:.0f} MiB multipart from a pipe (boto3 upload_fileobj, 8 MiB x 10), MB/s",
            fmt_rate(r["up4g_s3"]), "-", None, "info", None)
    if have("rss_fresh"):
        row("  (its RSS when the upload started)", f"{r['rss_fresh'] / 1024:.1f} MiB", "-", None,
            "info", None)
    if have("rss_step1", "rss_step2", "rss_step3_boto", "rss_step3", "rss_all"):
        row("  first process: VmHWM after PUTs / GETs / small boto3 / small presigned / lists",
            " / ".join(f"{r[k] / 1024:.0f}" for k in ("rss_step1", "rss_step2", "rss_step3_boto",
                                                       "rss_step3", "rss_all")) + " MiB",
            "-", None, "info", None)
    elif have("rss_all"):
        row("  first process: peak RSS over steps 1-4 (VmHWM)", f"{r['rss_all'] / 1024:.1f} MiB",
            "-", None, "info", None)
    if have("rss_before_restart"):
        row("  first process: RSS after steps 1-4 (kept by the allocator)",
            f"{r['rss_before_restart'] / 1024:.1f} MiB", "-", None, "info", None)

    head_ = ("figure", "S3", "WebDAV / ref", "ratio", "goal", "")
    w = [max(len(str(x[i])) for x in rows + [head_]) for i in range(5)]
    print("  ".join(str(head_[i]).ljust(w[i]) for i in range(5)).rstrip())
    for x in rows:
        print(("  ".join(str(x[i]).ljust(w[i]) for i in range(5)) + "  " + x[5]).rstrip())
    print(f"{met} goals met, {missed} missed")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmds = {
        "mkbucket": mkbucket, "presign": presign, "upload-file": upload_file,
        "download": download, "put-many": put_many, "put-many-presigned": put_many_presigned,
        "list": list_keys, "list-raw": list_raw, "put-stream": put_stream, "head": head,
        "summary": summary,
    }
    fn = cmds.get(sys.argv[1])
    if fn is None:
        sys.exit(__doc__)
    fn(*sys.argv[2:])


if __name__ == "__main__":
    main()
