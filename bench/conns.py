#!/usr/bin/env python3
"""Many connections against one server (issue 16, points 1 and 2), standard library only.

    conns.py idle URL USER PASS PID N       N idle keep-alive connections
    conns.py slowloris URL USER PASS PID N  N slowloris connections

`idle`: opens N connections, sends one authenticated GET on each and reads the answer
(so each is a keep-alive connection between requests, as a mounted WebDAV client leaves
it), then keeps them all open while a normal client makes PROBES requests, each on a new
connection, and the server's RSS (process PID) is read. Then it checks that the idle
connections still work (a second GET on a sample of them).

`slowloris`: opens N connections that send a request head one byte every SECS_PER_BYTE
seconds (never finishing it within the run), while the normal client makes PROBES
requests; reports how many slow connections the server closed meanwhile.

Prints one JSON object: the probe latencies (p50/p90/p99/max in ms), errors, RSS, counts.
"""

import base64
import http.client
import json
import os
import selectors
import socket
import sys
import time
from urllib.parse import urlsplit

PROBES = int(os.environ.get("PROBES", "500"))
SECS_PER_BYTE = float(os.environ.get("SECS_PER_BYTE", "1"))
SLOW_SECS = float(os.environ.get("SLOW_SECS", "20"))
PATH = os.environ.get("PROBE_PATH", "/dav/small.txt")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def probe(host, port, auth, n):
    """n GETs, each on a new connection (a client arriving while the others wait)."""
    lat, errors = [], 0
    for _ in range(n):
        t = time.perf_counter()
        try:
            c = http.client.HTTPConnection(host, port, timeout=10)
            c.request("GET", PATH, headers={"Authorization": auth})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 200:
                errors += 1
        except OSError:
            errors += 1
        lat.append((time.perf_counter() - t) * 1000)
    return {
        "requests": n,
        "errors": errors,
        "p50_ms": round(percentile(lat, 50), 2),
        "p90_ms": round(percentile(lat, 90), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(max(lat), 2),
    }


def request_bytes(host, auth):
    return (
        f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n"
    ).encode()


def read_answers(socks, timeout):
    """Reads one whole answer (headers + Content-Length body) on every socket."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    done, failed = 0, 0
    deadline = time.time() + timeout
    pending = set(socks)
    while pending and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                failed += 1
                sel.unregister(s)
                pending.discard(s)
                continue
            bufs[s] += chunk
            b = bufs[s]
            head, sep, body = b.partition(b"\r\n\r\n")
            if not sep:
                continue
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if len(body) >= length:
                ok = head.startswith(b"HTTP/1.1 200")
                done += ok
                failed += not ok
                sel.unregister(s)
                pending.discard(s)
                bufs[s] = b""
    sel.close()
    for s in socks:
        s.setblocking(True)
    return done, failed + len(pending)


def idle(host, port, auth, pid, n):
    base_rss, base_fds = rss_mib(pid), fds(pid)
    socks, refused = [], 0
    t = time.perf_counter()
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(request_bytes(host, auth))
        socks.append(s)
    ok, failed = read_answers(socks, timeout=120)
    opened = time.perf_counter() - t
    time.sleep(2)
    held_rss, held_fds = rss_mib(pid), fds(pid)
    p = probe(host, port, auth, PROBES)
    # the idle connections still answer (a sample of 200)
    sample = socks[:: max(1, len(socks) // 200)]
    for s in sample:
        s.sendall(request_bytes(host, auth))
    again_ok, again_failed = read_answers(sample, timeout=60)
    end_rss = rss_mib(pid)
    for s in socks:
        s.close()
    return {
        "mode": "idle",
        "connections": n,
        "first_requests_ok": ok,
        "first_requests_failed": failed,
        "refused": refused,
        "open_secs": round(opened, 2),
        "rss_before_mib": round(base_rss, 1),
        "rss_held_mib": round(held_rss, 1),
        "rss_after_probes_mib": round(end_rss, 1),
        "fds_before": base_fds,
        "fds_held": held_fds,
        "probe": p,
        "sample_second_request_ok": again_ok,
        "sample_second_request_failed": again_failed,
    }


def slowloris(host, port, auth, pid, n):
    head = request_bytes(host, auth)
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=30)
        s.setblocking(False)
        socks.append(s)
    sent = {s: 0 for s in socks}
    closed = set()
    start = time.time()
    next_byte = start
    results = {}
    base_rss = rss_mib(pid)

    def drip():
        for s in socks:
            if s in closed:
                continue
            try:
                i = sent[s]
                if i < len(head) - 4:  # never finish the head
                    s.send(head[i : i + 1])
                    sent[s] = i + 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                closed.add(s)

    # the probes run between drips: each drip round takes a few ms for 500 sockets
    lat, errors = [], 0
    while time.time() - start < SLOW_SECS or len(lat) < PROBES:
        now = time.time()
        if now >= next_byte:
            drip()
            next_byte = now + SECS_PER_BYTE
        if len(lat) < PROBES:
            p = probe(host, port, auth, 1)
            lat.append(p["max_ms"])
            errors += p["errors"]
        else:
            time.sleep(0.05)
    results["probe"] = {
        "requests": len(lat),
        "errors": errors,
        "p50_ms": round(percentile(lat, 50), 2),
        "p90_ms": round(percentile(lat, 90), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(max(lat), 2),
    }
    # which slow connections did the server close (a read of 0 bytes)?
    for s in socks:
        if s in closed:
            continue
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                closed.add(s)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(s)
    results.update(
        {
            "mode": "slowloris",
            "connections": n,
            "secs": round(time.time() - start, 1),
            "secs_per_byte": SECS_PER_BYTE,
            "closed_by_server": len(closed),
            "rss_before_mib": round(base_rss, 1),
            "rss_end_mib": round(rss_mib(pid), 1),
        }
    )
    for s in socks:
        s.close()
    return results


def main():
    mode, url, user, password, pid, n = sys.argv[1:7]
    u = urlsplit(url)
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    f = {"idle": idle, "slowloris": slowloris}[mode]
    print(json.dumps(f(u.hostname, u.port, auth, int(pid), int(n))))


if __name__ == "__main__":
    main()
