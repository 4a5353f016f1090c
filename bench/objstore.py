#!/usr/bin/env python3
"""Cold reads from the object-storage tier against a plain ranged download, same run.

Starts `rclone serve s3` on a free 127.0.0.1 port over a scratch directory, writes one
file of SIZE bytes (default 1 GiB, incompressible) into a fresh store with the tier on
(`silent-nas put`), uploads and evicts every pack (`silent-nas tier evict --wait`), starts
`silent-nas serve` and times a REST download of the file (served entirely by ranged GETs
through the block cache; curl is the client), then times boto3's ranged download (its default TransferConfig:
8 MiB parts, 10 threads) of the same pack objects from the same server. Prints both rates
and their ratio (the target in issue 15: >= 0.8). Stops only the processes it started.

  SILENT_NAS_BIN=path/to/silent-nas bench/objstore.py [SIZE_MIB]

Without SILENT_NAS_BIN it builds a release binary of this checkout. rclone and boto3 come
from ~/.cache/silent-nas/venv (scripts/test installs them).
"""
import os, shutil, socket, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.expanduser("~/.cache/silent-nas/venv/bin")
KEY, SECRET = "bench-access", "bench-secret-key"
ADMIN_PW = "bench-admin-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"{what} exited")
            time.sleep(0.1)
    sys.exit(f"{what} did not listen")


def rclone_s3(work, procs):
    """Starts `rclone serve s3` on a free loopback port over `work/s3` (bucket `bkt`), adds
    it to `procs`, and returns (its port, its root folder)."""
    root = os.path.join(work, "s3")
    os.makedirs(os.path.join(root, "bkt"))
    port = free_port()
    rclone = shutil.which("rclone") or os.path.join(VENV, "rclone")
    procs.append(subprocess.Popen(
        [rclone, "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key", f"{KEY},{SECRET}",
         "--etag-hash", "MD5", "--config", "/dev/null", root],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(port, procs[-1], "rclone serve s3")
    return port, root


def serve_tier(nas, work, port, extra, procs):
    """Starts `silent-nas serve` on `work/data` with `[blobs]` on the rclone at `port` plus
    `extra` (more keys, or sections), adds it to `procs`; returns (process, base URL)."""
    cfg = os.path.join(work, "nas.toml")
    with open(cfg, "w") as f:
        f.write(f'[blobs]\nremote = "s3://bkt/nas"\nendpoint = "http://127.0.0.1:{port}"\n'
                f'access_key_id = "{KEY}"\nsecret_access_key = "{SECRET}"\n{extra}')
    env = dict(os.environ, SILENT_NAS_ADMIN_PASSWORD=ADMIN_PW, RUST_LOG="warn")
    web = free_port()
    srv = subprocess.Popen([nas, "serve", "--data", os.path.join(work, "data"), "--config", cfg,
                            "--listen", f"127.0.0.1:{web}"], env=env,
                           stdout=open(os.path.join(work, "serve.log"), "w"), stderr=subprocess.STDOUT)
    procs.append(srv)
    wait_port(web, srv, "silent-nas serve")
    return srv, f"http://127.0.0.1:{web}"


def binary():
    if os.environ.get("SILENT_NAS_BIN"):
        return os.environ["SILENT_NAS_BIN"]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "silent-nas"], cwd=REPO, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target, "release", "silent-nas")


def timed_read(nas, data, env, work, size):
    """Starts `silent-nas serve` on `data`, times one REST download of big.bin, stops it."""
    srv_log = open(os.path.join(work, "serve.log"), "w+")
    srv = subprocess.Popen([nas, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                           env=env, stdout=srv_log, stderr=subprocess.STDOUT)
    try:
        addr = None
        for _ in range(300):
            srv_log.seek(0)
            for line in srv_log:
                if line.startswith("listening on http://"):
                    addr = line.split("//", 1)[1].split("/", 1)[0]
            if addr:
                break
            time.sleep(0.1)
        if not addr:
            sys.exit("silent-nas serve did not listen")
        # curl to /dev/null: the client costs as little as it can (a Python reader would
        # be the bottleneck of a single stream)
        t = time.time()
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}",
                              "-u", f"admin:{ADMIN_PW}",
                              f"http://{addr}/api/v1/download/big.bin"],
                             capture_output=True, text=True, check=True).stdout
        got = int(out.strip() or 0)
        took = time.time() - t
        if got != size:
            sys.exit(f"read {got} bytes, expected {size}")
        return took
    finally:
        srv.kill()
        srv.wait()


def main():
    size = int(sys.argv[1]) << 20 if len(sys.argv) > 1 else 1 << 30
    sys.path.insert(0, os.path.dirname(VENV))
    import boto3
    from boto3.s3.transfer import TransferConfig

    nas = binary()
    work = tempfile.mkdtemp(prefix="objstore-bench-")
    procs = []
    try:
        port, root = rclone_s3(work, procs)
        endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ, SILENT_NAS_BLOBS_REMOTE="s3://bkt/nas",
                   SILENT_NAS_BLOBS_ENDPOINT=endpoint, SILENT_NAS_BLOBS_ACCESS_KEY_ID=KEY,
                   SILENT_NAS_BLOBS_SECRET_ACCESS_KEY=SECRET, SILENT_NAS_ADMIN_PASSWORD=ADMIN_PW)
        data = os.path.join(work, "data")
        t = time.time()
        put = subprocess.Popen([nas, "put", "--data", data, "--home", "admin", "big.bin"],
                               stdin=subprocess.PIPE, env=env)
        left = size
        while left:
            n = min(left, 8 << 20)
            put.stdin.write(os.urandom(n))
            left -= n
        put.stdin.close()
        if put.wait() != 0:
            sys.exit("silent-nas put failed")
        print(f"wrote {size >> 20} MiB in {time.time() - t:.1f} s", file=sys.stderr)
        # the same download with the packs still local: the ceiling of the door's pipeline
        local = timed_read(nas, data, env, work, size)
        t = time.time()
        out = subprocess.run([nas, "tier", "evict", "--wait", "3600", "--data", data], env=env,
                             check=True, capture_output=True, text=True).stdout
        print(f"uploaded and evicted in {time.time() - t:.1f} s:\n{out}", file=sys.stderr)

        ours = timed_read(nas, data, env, work, size)

        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY,
                          aws_secret_access_key=SECRET, region_name="us-east-1")
        keys = [(o["Key"], o["Size"]) for o in
                s3.list_objects_v2(Bucket="bkt", Prefix="nas/packs/").get("Contents", [])]
        total = sum(k[1] for k in keys)

        class Sink:
            def write(self, b):
                return len(b)

        t = time.time()
        for k, _ in keys:
            s3.download_fileobj("bkt", k, Sink(), Config=TransferConfig())
        base = time.time() - t
        r_ours, r_base = size / ours / 1e6, total / base / 1e6
        print(f"local read through silent-nas (REST)  {size >> 20} MiB  {local:6.2f} s  {size / local / 1e6:8.1f} MB/s")
        print(f"cold read through silent-nas (REST)   {size >> 20} MiB  {ours:6.2f} s  {r_ours:8.1f} MB/s")
        print(f"boto3 ranged download of the packs    {total >> 20} MiB  {base:6.2f} s  {r_base:8.1f} MB/s")
        print(f"ratio {r_ours / r_base:.2f} (target >= 0.8)")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
