#!/usr/bin/env python3
"""What the tier mover costs foreground writes (issue 15): PUT throughput with and without
a mover run under way, alternately, in the same run.

Starts `rclone serve s3` on a free 127.0.0.1 port and `silent-nas serve` with a `tiered`
policy (16 MiB packs, every pack cold at once, the mover at its default rate of 64 MiB/s
and only run by hand, BATCH packs a run), fills the store with PREFILL_MIB of packs and
waits for their upload. Then, ROUNDS times, in alternating order: a WebDAV PUT of
PUT_MIB of new content with the mover idle, and the same with a mover run started just
before (it goes on evicting while the PUT runs; the script waits for the run to end
before the next measurement). Prints per-round MB/s, the medians and their ratio (the
target: the mover costs <= 20 %, so a ratio >= 0.8).

  SILENT_NAS_BIN=path/to/silent-nas bench/mover.py [ROUNDS=6] [PUT_MIB=256] [PREFILL_MIB=3072]
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from objstore import ADMIN_PW, binary, rclone_s3, serve_tier  # noqa: E402
from repair import metric, request  # noqa: E402

PACK_MIB = 16


def random_file(path, mib, seed):
    with open(path, "wb") as f:
        subprocess.run(["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K", f"{seed:032x}",
                        "-iv", "0" * 32], stdin=subprocess.Popen(
                            ["head", "-c", str(mib << 20), "/dev/zero"], stdout=subprocess.PIPE).stdout,
                       stdout=f, check=True)


def put(base, name, path):
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                        "-u", f"admin:{ADMIN_PW}", "-T", path, f"{base}/dav/{name}"],
                       capture_output=True, text=True, check=True)
    code, secs = p.stdout.split()
    if code not in ("201", "204"):
        sys.exit(f"PUT {name}: HTTP {code}")
    return float(secs)


def mover(base):
    _, raw = request("GET", f"{base}/api/v1/admin/workers")
    return next(w for w in json.loads(raw)["workers"] if w["name"] == "mover")


def wait_uploads(base):
    until = time.time() + 600
    while metric(base, "silent_nas_remote_upload_queue_packs") > 0:
        if time.time() > until:
            sys.exit("uploads did not finish")
        time.sleep(0.2)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    put_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    prefill = int(sys.argv[3]) if len(sys.argv) > 3 else 3072
    # a run evicts about twice what a PUT writes, so it outlasts the PUT it is measured with
    batch = max(1, 2 * put_mib // PACK_MIB)
    nas = binary()
    work = tempfile.mkdtemp(prefix="mover-bench-")
    procs = []
    try:
        port, _ = rclone_s3(work, procs)
        srv, base = serve_tier(nas, work, port,
                               f'pack_size = "{PACK_MIB}MiB"\npolicy = "tiered"\ncold_after = "0d"\n'
                               f'hot_size = "1TB"\nmover_interval = "30d"\nmover_batch = {batch}\n', procs)
        src = os.path.join(work, "src.bin")
        print(f"prefill: {prefill} MiB", file=sys.stderr)
        for i in range(0, prefill, put_mib):
            random_file(src, put_mib, 1000 + i)
            put(base, f"prefill-{i}.bin", src)
        wait_uploads(base)
        idle, busy = [], []
        for r in range(rounds):
            order = ("idle", "busy") if r % 2 == 0 else ("busy", "idle")
            for phase in order:
                random_file(src, put_mib, 5000 + 2 * r + (phase == "busy"))
                wait_uploads(base)
                if phase == "busy":
                    runs = mover(base)["runs"]
                    status, _ = request("POST", f"{base}/api/v1/admin/workers/mover/run")
                    if status != 202:
                        sys.exit(f"mover run: HTTP {status}")
                secs = put(base, f"r{r}-{phase}.bin", src)
                rate = (put_mib << 20) / secs / 1e6
                (busy if phase == "busy" else idle).append(rate)
                if phase == "busy":
                    still = mover(base)["runs"] == runs
                    until = time.time() + 600
                    while mover(base)["runs"] == runs:
                        if time.time() > until:
                            sys.exit("the mover run did not end")
                        time.sleep(0.2)
                    w = mover(base)
                    print(f"round {r}: PUT {rate:.0f} MB/s with the mover "
                          f"({'still running at the end of the PUT' if still else 'ENDED BEFORE THE PUT'}; "
                          f"{(w.get('last_outcome') or {}).get('summary', '')})", file=sys.stderr)
                else:
                    print(f"round {r}: PUT {rate:.0f} MB/s, mover idle", file=sys.stderr)
        mi, mb = statistics.median(idle), statistics.median(busy)
        print("| measure | figure |\n|---|---|")
        print(f"| PUT of {put_mib} MiB, mover idle (MB/s per round) | {', '.join(f'{x:.0f}' for x in idle)} (median {mi:.0f}) |")
        print(f"| PUT of {put_mib} MiB, mover running (MB/s per round) | {', '.join(f'{x:.0f}' for x in busy)} (median {mb:.0f}) |")
        print(f"| ratio running / idle (target >= 0.8) | {mb / mi:.2f} |")
        print(f"| load average at the end | {' '.join(open('/proc/loadavg').read().split()[:3])} |")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
