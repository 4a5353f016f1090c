#!/usr/bin/env python3
"""The soak run (issue 16, point 3): a mixed workload against one real server for a given
duration, with GC, scrub, retention and trash expiry on short schedules, then the checks:

- every write a client got a success for reads back byte-exact (and every delete is gone);
- the server's `/metrics` request counters equal the clients' own counts, per door;
- `fsck --verify-data` is clean after the server stopped;
- RSS, open fds and threads, sampled every `--sample` seconds, show no upward trend beyond
  the tolerance after warm-up (a least-squares slope; runs shorter than 10 minutes are too
  short for a trend and only report it);
- every maintenance worker ran (when the run is longer than its interval).

It writes a report (markdown, SVG plots, the samples as TSV) into `--out` and exits 0 only
when every check passed. Started by `bench/soak` (which builds the release binary); the
2-minute version runs in CI (crates/cli/tests/soak.rs) for correctness only.

Clients: WebDAV threads (users alice and bob) PUT small and medium files (new ones and
overwrites that become versions), GET and verify them, PROPFIND their folder, DELETE some;
S3 threads (bob) PUT, GET, list and delete objects. Each thread owns its own names, so its
ledger of acknowledged writes is exact.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import soak_report

ADMIN_PW = "soak-admin-password-1"
USERS = {"alice": "alice-soak-password", "bob": "bob-soak-password"}
WORKERS = ["gc", "retention", "trash", "scrub"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True, help="the silent-nas binary")
    p.add_argument("--duration", type=float, default=7200, help="seconds of load")
    p.add_argument("--sample", type=float, default=60, help="seconds between samples")
    p.add_argument("--work", required=True, help="scratch folder (data directory inside)")
    p.add_argument("--out", required=True, help="where the report goes")
    p.add_argument("--webdav-clients", type=int, default=4)
    p.add_argument("--s3-clients", type=int, default=2)
    p.add_argument("--rate", type=float, default=10,
                   help="operations per second per client (0: as fast as it can)")
    p.add_argument("--live", type=int, default=300,
                   help="most live files per client (then PUTs overwrite: new versions)")
    p.add_argument("--interval", default="5m", help="GC, retention and scrub schedule")
    p.add_argument("--tolerance", type=float, default=0.10,
                   help="allowed growth over the measured window, share of the median")
    p.add_argument("--commit", default="", help="recorded in the report")
    return p.parse_args()


# ---------------------------------------------------------------- the server


class Server:
    def __init__(self, args):
        self.bin, self.data = args.bin, os.path.join(args.work, "data")
        self.log_path = os.path.join(args.work, "server.log")
        cfg = os.path.join(args.work, "soak.toml")
        with open(cfg, "w") as f:
            f.write(f'data = "{self.data}"\nlisten = "127.0.0.1:0"\n'
                    f's3_listen = "127.0.0.1:0"\nlog = "warn,silent_nas=info"\n'
                    "[workers]\n"
                    f'gc_interval = "{args.interval}"\n'
                    f'retention_interval = "{args.interval}"\n'
                    "retention_keep_versions = 3\n"
                    f'scrub_interval = "{args.interval}"\n'
                    'scrub_rate = "unlimited"\n'
                    f'trash_retention = "{args.interval}"\n'
                    f'trash_interval = "{args.interval}"\n')
        env = dict(os.environ, SILENT_NAS_ADMIN_PASSWORD=ADMIN_PW)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([self.bin, "serve", "--config", cfg], env=env,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.addr = self.s3_addr = None
        deadline = time.time() + 60
        while time.time() < deadline and not (self.addr and self.s3_addr):
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"the server exited before listening (log: {self.log_path})")
            m = re.match(r"listening on http://([^/]+)/", line)
            if m:
                self.addr = m.group(1)
            m = re.match(r"S3 API on http://([^/\s]+)/", line)
            if m:
                self.s3_addr = m.group(1)
        if not self.addr:
            raise SystemExit("the server did not say where it listens")
        # the rest of its standard output is drained so it never blocks on a full pipe
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def cli(self, *args, stdin=None):
        r = subprocess.run([self.bin, *args, "--data", self.data], input=stdin,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"silent-nas {' '.join(args)}: {r.stderr}")
        return r.stdout

    def sample(self):
        pid = self.proc.pid
        with open(f"/proc/{pid}/status") as f:
            st = dict(line.split(":", 1) for line in f if ":" in line)
        rss_kib = int(st["VmRSS"].split()[0])
        return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd")), int(st["Threads"])

    def metrics(self):
        c = http.client.HTTPConnection(self.addr, timeout=30)
        c.request("GET", "/metrics", headers={"Authorization": basic("admin", ADMIN_PW)})
        r = c.getresponse()
        text = r.read().decode()
        if r.status != 200:
            raise SystemExit(f"/metrics answered {r.status}: {text[:200]}")
        return text

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=120)
        self.log.close()
        return code


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def summed(metrics_text, series, label):
    """`series`' samples summed per value of `label` (e.g. requests per door)."""
    out = {}
    for line in metrics_text.splitlines():
        if line.startswith(series + "{"):
            labels, value = line.rsplit(" ", 1)
            key = re.search(label + r'="([^"]*)"', labels).group(1)
            out[key] = out.get(key, 0) + int(float(value))
    return out


# ---------------------------------------------------------------- the clients


def content(rng, size):
    """Half of the files share most of their bytes with a common block (dedup at work)."""
    if rng.random() < 0.5:
        base = random.Random(size // 65536).randbytes(size)
        cut = rng.randrange(0, size) if size else 0
        return base[:cut] + rng.randbytes(min(4096, size - cut)) + base[cut + 4096:]
    return rng.randbytes(size)


def pick_size(rng):
    return rng.choice([0, 100, 4096, 30_000, 200_000]) if rng.random() < 0.95 \
        else rng.randrange(1, 4) * 1_000_000 + rng.randrange(0, 65536)


class Client(threading.Thread):
    """One client: its own names, its own ledger (name -> sha256 of what was acknowledged,
    or None once a delete was acknowledged), its own count of requests sent."""

    rate, live = 0.0, 300  # set from the options before the clients start

    def __init__(self, name, seed, stop_at):
        super().__init__(daemon=True)
        self.name, self.rng, self.stop_at = name, random.Random(seed), stop_at
        self.ledger, self.sent, self.errors = {}, 0, []
        self.ops = {}

    def run(self):
        next_at = time.time()
        while time.time() < self.stop_at and len(self.errors) < 20:
            if self.rate:
                next_at += self.rng.expovariate(self.rate)  # Poisson arrivals
                time.sleep(max(0.0, next_at - time.time()))
            try:
                self.step()
            except Exception as e:  # a failure is recorded, never hidden
                self.errors.append(f"{type(e).__name__}: {e}")
                self.reconnect()

    def count(self, op):
        self.ops[op] = self.ops.get(op, 0) + 1

    def existing(self):
        live = [k for k, v in self.ledger.items() if v is not None]
        return self.rng.choice(live) if live else None

    def full(self):
        return sum(v is not None for v in self.ledger.values()) >= self.live


class DavClient(Client):
    def __init__(self, addr, user, idx, seed, stop_at):
        super().__init__(f"webdav-{user}-{idx}", seed, stop_at)
        self.addr, self.auth = addr, basic(user, USERS[user])
        self.folder = f"/dav/soak-{idx}"
        self.conn = None
        self.reconnect()
        self.call("MKCOL", self.folder, expect=(201, 405))

    def reconnect(self):
        if self.conn:
            self.conn.close()
        self.conn = http.client.HTTPConnection(self.addr, timeout=120)

    def call(self, method, path, body=None, headers=None, expect=(200,)):
        h = {"Authorization": self.auth, **(headers or {})}
        self.sent += 1
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        if r.status not in expect:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:200]!r}")
        return r.status, data

    def step(self):
        roll, name = self.rng.random(), self.existing()
        if roll < 0.35 or name is None:
            name = name if (name and (self.full() or self.rng.random() < 0.3)) else \
                f"{self.folder}/f{self.rng.randrange(10**9)}.bin"
            body = content(self.rng, pick_size(self.rng))
            self.call("PUT", name, body=body, expect=(200, 201, 204))
            self.ledger[name] = hashlib.sha256(body).hexdigest()
            self.count("PUT")
        elif roll < 0.75:
            _, data = self.call("GET", name)
            if hashlib.sha256(data).hexdigest() != self.ledger[name]:
                raise RuntimeError(f"GET {name}: content differs from the acknowledged write")
            self.count("GET")
        elif roll < 0.92:
            self.call("PROPFIND", self.folder + "/", headers={"Depth": "1"}, expect=(207,))
            self.count("PROPFIND")
        else:
            self.call("DELETE", name, expect=(204,))
            self.ledger[name] = None
            self.count("DELETE")

    def verify(self):
        bad = []
        for name, digest in self.ledger.items():
            st, data = self.call("GET", name, expect=(200, 404))
            if digest is None and st != 404:
                bad.append(f"{name}: deleted, but still readable")
            elif digest is not None and (st != 200 or hashlib.sha256(data).hexdigest() != digest):
                bad.append(f"{name}: acknowledged write lost or changed ({st})")
        return bad


class S3Client(Client):
    def __init__(self, addr, key, idx, seed, stop_at, count_request):
        super().__init__(f"s3-bob-{idx}", seed, stop_at)
        import boto3
        from botocore.config import Config
        self.s3 = boto3.client(
            "s3", endpoint_url=f"http://{addr}", aws_access_key_id=key[0],
            aws_secret_access_key=key[1], region_name="us-east-1",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          s3={"addressing_style": "path"}, read_timeout=120))
        self.s3.meta.events.register("before-send", lambda **_: self.bump())
        self.bucket, self.prefix = "soak", f"c{idx}/"

    def bump(self):
        self.sent += 1

    def reconnect(self):
        pass  # boto3 keeps its own pool

    def step(self):
        roll, name = self.rng.random(), self.existing()
        if roll < 0.35 or name is None:
            name = name if (name and (self.full() or self.rng.random() < 0.3)) else \
                f"{self.prefix}o{self.rng.randrange(10**9)}"
            body = content(self.rng, pick_size(self.rng))
            self.s3.put_object(Bucket=self.bucket, Key=name, Body=body)
            self.ledger[name] = hashlib.sha256(body).hexdigest()
            self.count("PutObject")
        elif roll < 0.75:
            data = self.s3.get_object(Bucket=self.bucket, Key=name)["Body"].read()
            if hashlib.sha256(data).hexdigest() != self.ledger[name]:
                raise RuntimeError(f"GetObject {name}: content differs from the acknowledged write")
            self.count("GetObject")
        elif roll < 0.92:
            self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=100)
            self.count("ListObjectsV2")
        else:
            self.s3.delete_object(Bucket=self.bucket, Key=name)
            self.ledger[name] = None
            self.count("DeleteObject")

    def verify(self):
        from botocore.exceptions import ClientError
        bad = []
        for name, digest in self.ledger.items():
            try:
                data = self.s3.get_object(Bucket=self.bucket, Key=name)["Body"].read()
                if digest is None:
                    bad.append(f"{name}: deleted, but still readable")
                elif hashlib.sha256(data).hexdigest() != digest:
                    bad.append(f"{name}: content differs from the acknowledged write")
            except ClientError as e:
                if digest is not None or e.response["Error"]["Code"] != "NoSuchKey":
                    bad.append(f"{name}: {e}")
        return bad


# ---------------------------------------------------------------- the run


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    t0 = time.time()
    srv = Server(args)
    try:
        return run(args, srv, t0)
    finally:
        if srv.proc.poll() is None:  # a failure on the way: the server this run started
            srv.proc.kill()
            srv.proc.wait()


def run(args, srv, t0):
    for user, pw in USERS.items():
        srv.cli("user", "add", user, "--password-stdin", stdin=pw + "\n")
    key = srv.cli("key", "create", "bob").split()[:2]
    Client.rate, Client.live = args.rate, args.live
    stop_at = t0 + args.duration
    clients = [DavClient(srv.addr, user, i, 1000 + i, stop_at)
               for i in range(args.webdav_clients) for user in [list(USERS)[i % 2]]]
    s3_clients = []
    if args.s3_clients:
        if not srv.s3_addr:
            raise SystemExit("the server has no S3 listener")
        s3_clients = [S3Client(srv.s3_addr, key, i, 2000 + i, stop_at, None)
                      for i in range(args.s3_clients)]
        s3_clients[0].s3.create_bucket(Bucket="soak")
    everyone = clients + s3_clients
    for c in everyone:
        c.start()
    samples = []
    print(f"soak: {len(everyone)} clients for {args.duration:.0f} s on {srv.addr}", flush=True)
    while any(c.is_alive() for c in everyone):
        rss, fds, threads = srv.sample()
        samples.append((time.time() - t0, rss, fds, threads))
        done = sum(sum(c.ops.values()) for c in everyone)
        print(f"[{time.time() - t0:7.0f} s] {done} operations, RSS {rss:.1f} MiB, "
              f"{fds} fds, {threads} threads", flush=True)
        time.sleep(min(args.sample, max(0.5, stop_at - time.time())))
    for c in everyone:
        c.join()
    rss, fds, threads = srv.sample()
    samples.append((time.time() - t0, rss, fds, threads))
    lost = [f"{c.name}: {b}" for c in everyone for b in c.verify()]
    metrics = srv.metrics()
    served = summed(metrics, "silent_nas_http_requests_total", "door")
    runs = summed(metrics, "silent_nas_worker_runs_total", "worker")
    sent = {"webdav": sum(c.sent for c in clients), "s3": sum(c.sent for c in s3_clients)}
    code = srv.stop()
    fsck = subprocess.run([args.bin, "fsck", "--verify-data", "--data", srv.data],
                          capture_output=True, text=True)
    result = soak_report.Result(
        args=args, samples=samples, clients=everyone, lost=lost, sent=sent,
        served=served, runs=runs, workers=WORKERS, exit_code=code, fsck=fsck,
        interval_s=parse_secs(args.interval))
    ok = soak_report.write(result)
    print(("soak: PASS" if ok else "soak: FAIL") + f" — report in {args.out}", flush=True)
    return 0 if ok else 1


def parse_secs(v):
    n, unit = re.fullmatch(r"(\d+)\s*([smhd])", v.strip()).groups()
    return int(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


if __name__ == "__main__":
    sys.exit(main())
