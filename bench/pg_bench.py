#!/usr/bin/env python3
"""Per-request cost of the metadata backend: the same WebDAV workload against two running
servers (SQLite and PostgreSQL metadata), alternated round by round in one run.

    pg_bench.py NAME=HOST:PORT NAME=HOST:PORT [--password PW] [--rounds N]

Measured per server (sequential, one keep-alive connection, WebDAV as admin):
  - small PUT / GET: SMALL (500) files of 4 KiB, latency p50 / p99 (ms)
  - hot GET: the first HOT (50) of them read again, SMALL GETs in all (a working set a
    read cache holds), p50 / p99 (ms)
  - stat: PROPFIND Depth 0 of one file, 500 times, p50 / p99 (ms)
  - list: PROPFIND Depth 1 of a folder of 1,000 files, 20 times, p50 / p99 (ms)
  - large PUT / GET of LARGE_MIB (256) MiB with curl, MB/s
Prints one table: each figure of every server side by side, and the ratio to the first.
"""
import base64, http.client, os, statistics, subprocess, sys, tempfile, time

SMALL, STAT, LIST_N, LIST_REPS, LARGE_MIB = 500, 500, 1000, 20, int(os.environ.get("LARGE_MIB", "256"))
HOT = 50


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Dav:
    def __init__(self, addr, pw):
        self.addr = addr
        self.auth = "Basic " + base64.b64encode(f"admin:{pw}".encode()).decode()
        self.c = http.client.HTTPConnection(addr, timeout=300)

    def req(self, method, path, body=None, headers=None):
        h = {"Authorization": self.auth}
        h.update(headers or {})
        t = time.perf_counter()
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        data = r.read()
        dt = time.perf_counter() - t
        if r.status >= 300 and r.status != 207:
            raise SystemExit(f"{self.addr} {method} {path}: {r.status} {data[:200]!r}")
        return dt, data


def small(d, tag):
    body = os.urandom(4096)
    d.req("MKCOL", f"/dav/{tag}")
    puts = [d.req("PUT", f"/dav/{tag}/f{i}", body)[0] for i in range(SMALL)]
    gets = [d.req("GET", f"/dav/{tag}/f{i}")[0] for i in range(SMALL)]
    # a working set read again: the first HOT files, SMALL GETs in all
    hot = [d.req("GET", f"/dav/{tag}/f{i % HOT}")[0] for i in range(SMALL)]
    return puts, gets, hot


def stat(d, tag):
    return [d.req("PROPFIND", f"/dav/{tag}/f1", headers={"Depth": "0"})[0] for _ in range(STAT)]


def listing(d, tag):
    d.req("MKCOL", f"/dav/{tag}")
    for i in range(LIST_N):
        d.req("PUT", f"/dav/{tag}/e{i:04}", b"x")
    out = []
    for _ in range(LIST_REPS):
        dt, data = d.req("PROPFIND", f"/dav/{tag}/", headers={"Depth": "1"})
        assert data.count(b"<D:response>") + data.count(b"<d:response>") >= LIST_N or len(data) > 100 * LIST_N
        out.append(dt)
    return out


def large(addr, pw, path, tag):
    url = f"http://{addr}/dav/{tag}.bin"
    fmt = "%{time_total}"
    put = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-u", f"admin:{pw}", "-T", path, "-w", fmt, url],
                         check=True, capture_output=True, text=True).stdout
    get = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-u", f"admin:{pw}", "-w", fmt, url],
                         check=True, capture_output=True, text=True).stdout
    n = LARGE_MIB << 20
    return n / float(put) / 1e6, n / float(get) / 1e6


def ops(addr, pw, phase, n):
    """`n` requests of one kind (after the folder and a first file exist): for counting
    what one request costs the database (bench/pg.sh brackets this with its log)."""
    d = Dav(addr, pw)
    if phase == "prepare":
        d.req("MKCOL", "/dav/ops")
        d.req("PUT", "/dav/ops/base", os.urandom(4096))
        return
    for i in range(n):
        if phase == "put":
            d.req("PUT", f"/dav/ops/n{i}", os.urandom(4096))
        elif phase == "get":
            d.req("GET", "/dav/ops/base")
        elif phase == "stat":
            d.req("PROPFIND", "/dav/ops/base", headers={"Depth": "0"})


def main():
    args = sys.argv[1:]
    if args and args[0] == "--ops":
        # --ops PHASE N ADDR PASSWORD
        ops(args[3], args[4], args[1], int(args[2]))
        return
    pw, rounds = "bench-password-1", 2
    if "--password" in args:
        i = args.index("--password"); pw = args[i + 1]; del args[i:i + 2]
    if "--rounds" in args:
        i = args.index("--rounds"); rounds = int(args[i + 1]); del args[i:i + 2]
    servers = [a.split("=", 1) for a in args]
    res = {name: {k: [] for k in ("put", "get", "hot", "stat", "list", "lput", "lget")} for name, _ in servers}
    with tempfile.NamedTemporaryFile(prefix="pgbench", suffix=".bin") as big:
        big.write(os.urandom(LARGE_MIB << 20)); big.flush()
        for r in range(rounds):
            order = servers if r % 2 == 0 else list(reversed(servers))
            for name, addr in order:
                d = Dav(addr, pw)
                # names apart per server: two of them may share one store (cluster nodes)
                p, g, h = small(d, f"{name}-s{r}")
                res[name]["put"] += p; res[name]["get"] += g; res[name]["hot"] += h
                res[name]["stat"] += stat(d, f"{name}-s{r}")
                res[name]["list"] += listing(d, f"{name}-l{r}")
                lp, lg = large(addr, pw, big.name, f"{name}-big{r}")
                res[name]["lput"].append(lp); res[name]["lget"].append(lg)
                print(f"round {r + 1} {name} done", file=sys.stderr)
    names = [n for n, _ in servers]
    rows = []
    for k, label in (("put", "small PUT 4 KiB"), ("get", "small GET 4 KiB"),
                     ("hot", f"hot GET 4 KiB ({HOT} files again)"),
                     ("stat", "stat (PROPFIND depth 0)"), ("list", f"list {LIST_N} (PROPFIND depth 1)")):
        for p in (50, 99):
            vals = [pct(res[n][k], p) * 1000 for n in names]
            rows.append((f"{label} p{p} (ms)", vals))
    for k, label in (("lput", f"large PUT {LARGE_MIB} MiB (MB/s)"), ("lget", f"large GET {LARGE_MIB} MiB (MB/s)")):
        rows.append((label + " median", [statistics.median(res[n][k]) for n in names]))
    print("| measure | " + " | ".join(names) + " | " + " | ".join(f"{n}/{names[0]}" for n in names[1:]) + " |")
    print("|---" * (1 + 2 * len(names) - 1) + "|")
    for label, vals in rows:
        ratios = [f"{v / vals[0]:.2f}" if vals[0] else "-" for v in vals[1:]]
        print(f"| {label} | " + " | ".join(f"{v:.2f}" for v in vals) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
