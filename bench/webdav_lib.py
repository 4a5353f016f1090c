#!/usr/bin/env python3
"""Helpers for bench/webdav.sh (stdlib only).

    webdav_lib.py freeport                       print a free TCP port on 127.0.0.1
    webdav_lib.py mkfiles DIR N SIZE             N files of SIZE unique random bytes in DIR
    webdav_lib.py put-many URL USER PASS N SIZE THREADS
                                                 MKCOL URL, then PUT N files of SIZE unique
                                                 random bytes into it with THREADS threads,
                                                 one keep-alive connection per thread; prints
                                                 "FILES SECONDS ERRORS STATUS:COUNT,..."
                                                 (the clock covers the PUTs only)
    webdav_lib.py count FILE                     number of <response> elements in a 207 body
    webdav_lib.py summary RESULTS                print the comparison table from RESULTS
                                                 (key<TAB>value lines written by webdav.sh)
"""
import base64
import http.client
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

from tsv import fmt_rate, load


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def mkfiles(d, n, size):
    os.makedirs(d, exist_ok=True)
    for i in range(int(n)):
        with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
            f.write(os.urandom(int(size)))


def put_many(url, user, pw, n, size, threads):
    n, size, threads = int(n), int(size), int(threads)
    u = urllib.parse.urlsplit(url)
    base = u.path.rstrip("/") + "/"
    auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
    bodies = [os.urandom(size) for _ in range(n)]  # unique data: no dedup shortcut

    def conn():
        return http.client.HTTPConnection(u.hostname, u.port, timeout=120)

    c = conn()
    c.request("MKCOL", base, headers={"Authorization": auth})
    r = c.getresponse()
    r.read()
    if r.status not in (201, 405):
        sys.exit(f"MKCOL {base}: HTTP {r.status}")
    c.close()

    lock = threading.Lock()
    nxt = [0]
    codes = {}
    errors = [0]

    def worker():
        c = conn()
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            path = f"{base}f{i:05d}.bin"
            hdrs = {
                "Authorization": auth,
                "Content-Length": str(size),
                "Content-Type": "application/octet-stream",
            }
            for attempt in (0, 1):
                try:
                    c.request("PUT", path, body=bodies[i], headers=hdrs)
                    r = c.getresponse()
                    r.read()
                    st = str(r.status)
                    if r.getheader("Connection", "").lower() == "close":
                        c.close()
                        c = conn()
                    break
                except (OSError, http.client.HTTPException) as e:
                    c.close()
                    c = conn()
                    st = type(e).__name__
                    if attempt == 1:
                        break
            with lock:
                codes[st] = codes.get(st, 0) + 1
                if st not in ("200", "201", "204"):
                    errors[0] += 1
        c.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    secs = time.perf_counter() - t0
    cs = ",".join(f"{k}:{v}" for k, v in sorted(codes.items()))
    print(n, f"{secs:.4f}", errors[0], cs)


def count(path):
    with open(path, "rb") as f:
        body = f.read().decode("utf-8", "replace")
    print(len(re.findall(r"<(?:[A-Za-z0-9_.-]+:)?response[\s>]", body)))




def summary(path):
    r = load(path)
    rows = []
    met = missed = 0

    def row(name, ours, theirs, ratio, goal, ok):
        nonlocal met, missed
        if ok is None:
            verdict = ""
        elif ok:
            verdict, met = "PASS", met + 1
        else:
            verdict, missed = "FAIL", missed + 1
        rows.append((name, ours, theirs, f"{ratio:.2f}" if ratio is not None else "-", goal, verdict))

    def have(*keys):
        return all(isinstance(r.get(k), float) and r[k] > 0 for k in keys)

    big = r.get("big_mib", 0)
    if have("up_ours", "up_rclone"):
        q = r["up_ours"] / r["up_rclone"]
        row(f"upload {big:.0f} MiB (curl -T), MB/s", fmt_rate(r["up_ours"], "MB/s"),
            fmt_rate(r["up_rclone"], "MB/s"), q, ">= 1.5", q >= 1.5)
    if have("down_ours", "down_rclone"):
        q = r["down_ours"] / r["down_rclone"]
        row(f"download {big:.0f} MiB (curl -o /dev/null, best of 2)",
            fmt_rate(r["down_ours"], "MB/s"), fmt_rate(r["down_rclone"], "MB/s"), q, ">= 1.0",
            q >= 1.0)
    if have("small_ours", "small_rclone"):
        q = r["small_ours"] / r["small_rclone"]
        row(f"{r['small_n']:.0f} x 4 KiB PUT, {r['small_threads']:.0f} parallel, files/s",
            f"{r['small_ours']:.0f} files/s", f"{r['small_rclone']:.0f} files/s", q, ">= 2.0",
            q >= 2.0)
    if have("propfind_ours", "propfind_rclone"):
        q = r["propfind_ours"] / r["propfind_rclone"]
        row(f"PROPFIND Depth 1, {r['list_n']:.0f} entries (best of 3), time",
            f"{r['propfind_ours'] * 1000:.0f} ms", f"{r['propfind_rclone'] * 1000:.0f} ms", q,
            "<= 1.0", q <= 1.0)
    if have("rss4g_ours"):
        theirs = r.get("rss4g_rclone")
        ours = r["rss4g_ours"]
        row(f"server peak RSS during {r['four_mib']:.0f} MiB upload (VmHWM)",
            f"{ours / 1024:.1f} MiB",
            f"{theirs / 1024:.1f} MiB" if isinstance(theirs, float) else "-",
            ours / theirs if isinstance(theirs, float) and theirs > 0 else None,
            "<= 100 MiB", ours <= 100 * 1024)
    if have("up4g_ours"):
        theirs = r.get("up4g_rclone")
        row(f"  upload {r['four_mib']:.0f} MiB from a pipe (chunked), MB/s",
            fmt_rate(r["up4g_ours"], "MB/s"),
            fmt_rate(theirs, "MB/s") if isinstance(theirs, float) else "-",
            r["up4g_ours"] / theirs if isinstance(theirs, float) and theirs > 0 else None,
            "info", None)
    if have("rss_all_ours", "rss_all_rclone"):
        row("  server peak RSS over all earlier steps (VmHWM)",
            f"{r['rss_all_ours'] / 1024:.1f} MiB", f"{r['rss_all_rclone'] / 1024:.1f} MiB",
            r["rss_all_ours"] / r["rss_all_rclone"], "info", None)

    head = ("figure", "ours", "rclone", "ratio", "goal", "")
    w = [max(len(str(x[i])) for x in rows + [head]) for i in range(5)]
    print("  ".join(str(head[i]).ljust(w[i]) for i in range(5)).rstrip())
    for x in rows:
        print(("  ".join(str(x[i]).ljust(w[i]) for i in range(5)) + "  " + x[5]).rstrip())
    print(f"{met} goals met, {missed} missed")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "freeport":
        freeport()
    elif cmd == "mkfiles":
        mkfiles(*args)
    elif cmd == "put-many":
        put_many(*args)
    elif cmd == "count":
        count(*args)
    elif cmd == "summary":
        summary(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
