#!/usr/bin/env python3
"""Foreground load for bench/recompress.sh: THREADS workers, for SECS seconds, over WebDAV
against one server: each op GETs a random file of the list (every READS_PER_WRITE-th op
PUTs a new 256 KiB text file instead). Prints `bytes ops seconds` (bytes moved both ways).

    recompress_load.py URL USER:PW LIST_FILE SECS [THREADS] [TAG]
"""
import base64
import http.client
import random
import sys
import threading
import time
import urllib.parse

READS_PER_WRITE = 5


def main():
    url, cred, list_file, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    tag = sys.argv[6] if len(sys.argv) > 6 else "load"
    paths = [p for p in open(list_file).read().split("\n") if p]
    u = urllib.parse.urlsplit(url)
    auth = "Basic " + base64.b64encode(cred.encode()).decode()
    words = open(list_file).read().split()
    totals = [0, 0]
    lock = threading.Lock()
    stop = time.monotonic() + secs

    def work(n):
        rnd = random.Random(n)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        moved = ops = 0
        i = 0
        while time.monotonic() < stop:
            i += 1
            if i % READS_PER_WRITE == 0:
                body = (" ".join(rnd.choice(words) for _ in range(9000)))[: 256 << 10].encode()
                path = f"{u.path}/{tag}-{n}-{i}.txt"
                conn.request("PUT", urllib.parse.quote(path), body=body,
                             headers={"Authorization": auth})
                r = conn.getresponse()
                r.read()
                assert r.status in (201, 204), (path, r.status)
                moved += len(body)
            else:
                path = u.path + "/" + rnd.choice(paths)
                conn.request("GET", urllib.parse.quote(path), headers={"Authorization": auth})
                r = conn.getresponse()
                body = r.read()
                assert r.status == 200, (path, r.status)
                moved += len(body)
            ops += 1
        with lock:
            totals[0] += moved
            totals[1] += ops

    t0 = time.monotonic()
    ts = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(totals[0], totals[1], f"{time.monotonic() - t0:.3f}")


if __name__ == "__main__":
    main()
