#!/usr/bin/env python3
"""Self-repair trials of the mirror tier (issue 15): damage, read, repair, fsck.

Starts `rclone serve s3` on a free 127.0.0.1 port and `silent-nas serve` with `[blobs]
remote` (mirror policy, 1 MiB packs, so every file spans packs of its own). Each trial
writes a new file over WebDAV, waits until its sealed packs are uploaded and verified,
then damages one of them on the local disk, in turn: a byte flipped inside a frame, the
pack cut to half its size, the pack deleted. All the while a client thread reads every
file written so far, over and over, and compares each answer with what it wrote. After
the trials it runs the scrub worker (which repairs the packs a read could only route
around), stops the server and runs `fsck --verify-data` twice.

It prints one table: trials per kind, reads and wrong answers during the trials, repairs
and unrepairable counts from /metrics, and both fsck verdicts. The target in issue 15:
every injected corruption repaired with the client receiving correct bytes, 0 wrong bytes
served, fsck clean afterwards (>= 30 trials). Exits non-zero when any of it fails.

  SILENT_NAS_BIN=path/to/silent-nas bench/repair.py [TRIALS=36]

Without SILENT_NAS_BIN it builds a release binary of this checkout. rclone comes from
~/.cache/silent-nas/venv (scripts/test-deps.sh installs it). Stops only what it started.
"""
import base64
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from objstore import ADMIN_PW, KEY, SECRET, binary, rclone_s3, serve_tier  # noqa: E402

KINDS = ("flip", "truncate", "delete")
AUTH = "Basic " + base64.b64encode(f"admin:{ADMIN_PW}".encode()).decode()


def request(method, url, body=None, timeout=60):
    req = urllib.request.Request(url, data=body, method=method, headers={"Authorization": AUTH})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metric(base, name):
    _, text = request("GET", base + "/metrics")
    m = re.search(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text.decode(), re.M)
    return float(m.group(1)) if m else 0.0


def frame_middle(pack):
    """An offset in the middle of the frame that holds the middle of a pack file."""
    pos = 8
    while True:
        n = int.from_bytes(pack[pos:pos + 4], "little")
        frame = pos + 36
        if frame + n >= len(pack) // 2:
            return frame + n // 2
        pos = frame + n


def damage(kind, path):
    if kind == "flip":
        b = bytearray(open(path, "rb").read())
        b[frame_middle(b)] ^= 0x40
        open(path, "wb").write(b)
    elif kind == "truncate":
        os.truncate(path, os.path.getsize(path) // 2)
    else:
        os.remove(path)


class Reader(threading.Thread):
    """Reads every file written so far, round and round, comparing each answer."""

    def __init__(self, base, files):
        super().__init__(daemon=True)
        self.base, self.files = base, files
        self.reads = self.wrong = self.errors = 0
        self.stop = threading.Event()
        self.problems = []

    def run(self):
        while not self.stop.is_set():
            for name, digest in list(self.files.items()):
                status, body = request("GET", f"{self.base}/dav/{name}")
                self.reads += 1
                if status != 200:
                    self.errors += 1
                    self.problems.append(f"GET {name}: HTTP {status} {body[:200]!r}")
                elif hashlib.sha256(body).hexdigest() != digest:
                    self.wrong += 1
                    self.problems.append(f"GET {name}: wrong bytes ({len(body)} bytes)")
                if self.stop.is_set():
                    return


def fsck(nas, data, env):
    p = subprocess.run([nas, "fsck", "--verify-data", "--data", data], env=env,
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 36
    nas = binary()
    work = tempfile.mkdtemp(prefix="repair-bench-")
    procs = []
    try:
        port, root = rclone_s3(work, procs)
        srv, base = serve_tier(nas, work, port, 'pack_size = "1MiB"\ncache_size = "4MiB"\n'
                               '[workers]\nscrub_interval = "30d"\nscrub_rate = "unlimited"\n', procs)
        env = dict(os.environ, SILENT_NAS_ADMIN_PASSWORD=ADMIN_PW, RUST_LOG="warn")
        data = os.path.join(work, "data")
        files = {}
        reader = Reader(base, files)
        reader.start()
        bucket = os.path.join(root, "bkt", "nas", "packs")
        damaged = set()
        done = {k: 0 for k in KINDS}
        rng = random.Random(15)
        t0 = time.time()
        for i in range(trials):
            kind = KINDS[i % len(KINDS)]
            name = f"t{i:03d}.bin"
            body = rng.randbytes(2_500_000)
            status, _ = request("PUT", f"{base}/dav/{name}", body)
            if status not in (201, 204):
                sys.exit(f"PUT {name}: HTTP {status}")
            # its sealed packs uploaded and verified (the active one is still being filled)
            until = time.time() + 120
            while True:
                have = sorted(f[:-5] for f in os.listdir(bucket)) if os.path.isdir(bucket) else []
                fresh = [p for p in have if p not in damaged]
                if fresh and metric(base, "silent_nas_remote_upload_queue_packs") == 0:
                    break
                if time.time() > until:
                    sys.exit("uploads did not finish")
                time.sleep(0.1)
            files[name] = hashlib.sha256(body).hexdigest()
            pack = fresh[-1]
            damage(kind, os.path.join(data, "packs", pack[:2], f"{pack}.pack"))
            damaged.update(fresh)
            done[kind] += 1
            # the client reads the damaged file at once (and the reader thread goes on)
            status, got = request("GET", f"{base}/dav/{name}")
            if status != 200 or hashlib.sha256(got).hexdigest() != files[name]:
                reader.wrong += 1
                reader.problems.append(f"trial {i} ({kind}): GET {name}: HTTP {status}")
            reader.reads += 1
        trial_secs = time.time() - t0
        time.sleep(1)
        reader.stop.set()
        reader.join(60)
        read_repairs = metric(base, "silent_nas_remote_repairs_total")
        # the scrub repairs what a read routed around (a pack cut short or gone)
        status, _ = request("POST", f"{base}/api/v1/admin/workers/scrub/run")
        if status not in (200, 202):
            sys.exit(f"scrub: HTTP {status}")
        until = time.time() + 300
        while True:
            _, raw = request("GET", f"{base}/api/v1/admin/workers")
            w = next(w for w in json.loads(raw)["workers"] if w["name"] == "scrub")
            if w["runs"] >= 1:
                break
            if time.time() > until:
                sys.exit(f"the scrub did not finish: {w}")
            time.sleep(0.5)
        scrub = (w.get("last_outcome") or {}).get("summary", "")
        repairs = metric(base, "silent_nas_remote_repairs_total")
        unrepairable = metric(base, "silent_nas_remote_unrepairable_total")
        srv.terminate()
        srv.wait(60)
        tier_env = dict(env, SILENT_NAS_BLOBS_REMOTE="s3://bkt/nas",
                        SILENT_NAS_BLOBS_ENDPOINT=f"http://127.0.0.1:{port}",
                        SILENT_NAS_BLOBS_ACCESS_KEY_ID=KEY, SILENT_NAS_BLOBS_SECRET_ACCESS_KEY=SECRET)
        rc1, out1 = fsck(nas, data, tier_env)
        rc2, out2 = fsck(nas, data, tier_env)
        repaired_by_fsck = len(re.findall(r"^REPAIRED", out1, re.M))
        ok = (reader.wrong == 0 and reader.errors == 0 and unrepairable == 0 and rc1 == 0
              and rc2 == 0 and repaired_by_fsck == 0 and trials >= 30)
        print(f"| measure | figure |\n|---|---|")
        print(f"| trials (flip / truncate / delete) | {trials} ({done['flip']} / {done['truncate']} / {done['delete']}) in {trial_secs:.0f} s |")
        print(f"| client reads during the trials | {reader.reads} |")
        print(f"| wrong answers (bytes or errors) | {reader.wrong} wrong, {reader.errors} errors |")
        print(f"| repairs: by reads / in all (after the scrub) | {read_repairs:.0f} / {repairs:.0f} |")
        print(f"| unrepairable | {unrepairable:.0f} |")
        print(f"| the scrub's summary | {scrub} |")
        print(f"| fsck --verify-data after the scrub | exit {rc1}, {repaired_by_fsck} left to repair |")
        print(f"| second fsck --verify-data | exit {rc2} |")
        print(f"| verdict | {'PASS' if ok else 'FAIL'} |")
        for p in reader.problems[:10]:
            print(f"problem: {p}", file=sys.stderr)
        if rc1 or rc2 or repaired_by_fsck:
            print(out1[-2000:], file=sys.stderr)
        sys.exit(0 if ok else 1)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
