#!/usr/bin/env python3
"""bench/run — every benchmark in one command, with one report (issue 16, point 4).

    bench/run [--quick] [--only SUITES] [--compare REV] [--rounds N] [--size MIB]

Builds the release binary once (or takes SILENT_NAS_BIN) and runs the suites side by side
with their peers in the same run, each script measuring us and the peer alternately:

    disk    the disk's own rate: `dd conv=fsync` of 1 GiB (the physical reference)
    engine  bench/compare.sh — import/restore/dedup vs restic and borg
    webdav  bench/webdav.sh  — large and small files, PROPFIND, RSS vs rclone serve webdav
    s3      bench/s3.sh      — the S3 door vs the WebDAV door, boto3/curl, RSS
    small   bench/small.sh   — small files: import vs restic, small PUTs vs rclone
    conns   bench/conns.sh   — 10,000 idle connections, slowloris, vs rclone serve webdav
    load    bench/load.sh    — 1,000 connections: an open-loop mix of WebDAV and S3 at
                               10,000 requests/s and a closed loop of small GETs, vs rclone
                               serve webdav + rclone serve s3 (only if `oha` is installed)
    ui      bench/ui.sh      — the web UI in chromium (only if `node` and chromium exist)

It writes `bench/reports/<date>-<commit>.md` (the machine, each suite's table, the plots:
throughput per peer and the history's trend, as SVG in `bench/reports/<date>-<commit>/`), and appends every figure
to `bench/history.jsonl` (one JSON object a line: date, commit, machine, suite, metric,
value). Progress goes to the terminal.

`--compare REV` builds REV in a worktree (`bench/out/compare-rev`, kept between runs so
the build is incremental; its own target dir) and runs `bench/ab.sh` with
both binaries, alternating A/B/A/B for --rounds rounds (default 5): per path (WebDAV PUT,
GET, S3 PUT) the per-round ratios new/old, their median and spread, and a verdict. A path
is flagged as a regression when the median ratio is below 0.88 and at least three rounds
in four are below 0.95: on this noisy machine single rounds swing ±15 %, a 20 % slowdown
moves the median to ~0.8 (docs/benchmarks.md says how far the rule has been checked).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
T0 = time.time()

SUITES = {
    # name: (script, summary file in bench/out or None for its stdout table, results tsv)
    "engine": ("compare.sh", "summary.txt", "results.tsv"),
    "webdav": ("webdav.sh", "webdav-summary.txt", "webdav-results.tsv"),
    "s3": ("s3.sh", "s3-summary.txt", "s3-results.tsv"),
    "small": ("small.sh", "small-summary.txt", "small-results.tsv"),
    "conns": ("conns.sh", None, "conns-results.tsv"),
    "load": ("load.sh", None, "load-results.tsv"),
    "ui": ("ui.sh", None, None),
}
DEFAULT = ["disk", "engine", "webdav", "s3", "small", "conns", "load", "ui"]

# (suite, metric, label, unit, higher_is_better) pairs drawn as "us vs the peer"
PEER_BARS = [
    ("webdav", "up_ours", "up_rclone", "WebDAV upload", "MB/s"),
    ("webdav", "down_ours", "down_rclone", "WebDAV download", "MB/s"),
    ("webdav", "small_ours", "small_rclone", "WebDAV small PUTs", "files/s"),
    ("conns", "idle_rss_held_mib_ours", "idle_rss_held_mib_rclone", "RSS, idle connections (lower is better)", "MiB"),
    ("load", "closed_rps_ours", "closed_rps_rclone", "1,000 connections, small GETs", "req/s"),
    ("load", "open_dav_get_small_p99_ms_ours", "open_dav_get_small_p99_ms_rclone", "open loop, small GET p99 (lower is better)", "ms"),
]
# figures followed over commits in the trend plot
TREND = [
    ("webdav", "up_ours", "WebDAV upload MB/s"),
    ("webdav", "down_ours", "WebDAV download MB/s"),
    ("disk", "dd_fsync_mbs", "disk dd conv=fsync MB/s"),
]


def log(msg):
    print(f"[{time.time() - T0:6.0f}s] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout.strip()


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu": model,
        "mem_mib": mem,
        "kernel": platform.release(),
        "load": open("/proc/loadavg").read().split()[:3],
    }


def build(repo, target):
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    log(f"building the release binary of {repo} (target {target})")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "silent-nas"], cwd=repo, env=env, check=True)
    return os.path.join(target, "release", "silent-nas")


def disk_rate(work):
    """MB/s of `dd` writing 1 GiB with conv=fsync into the work folder's file system."""
    path = os.path.join(work, "dd.bin")
    t = time.time()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", "count=1024", "conv=fsync"],
                   check=True, capture_output=True)
    secs = time.time() - t
    os.remove(path)
    return (1 << 30) / secs / 1e6


def load_tsv(path):
    out = {}
    if path and os.path.exists(path):
        for line in open(path):
            k, _, v = line.rstrip("\n").partition("\t")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def run_suite(name, quick, env):
    script, summary, results = SUITES[name]
    args = [os.path.join(HERE, script)]
    if quick and name in ("engine", "webdav", "s3", "small"):
        args.append("--quick")
    if quick and name == "conns":
        args += ["2000", "200"]
    if quick and name == "load":
        args += ["2000", "200", "10", "1"]
    if quick and name == "ui":
        args += ["256", "1"]
    log(f"{name}: {' '.join(os.path.basename(a) for a in args)}")
    t = time.time()
    p = subprocess.run(args, env=env, text=True, stdout=subprocess.PIPE, stderr=None)
    secs = time.time() - t
    table = p.stdout
    if summary and os.path.exists(os.path.join(OUT, summary)):
        table = open(os.path.join(OUT, summary)).read()
    else:
        table = "\n".join(l for l in p.stdout.splitlines() if l.startswith("|"))
    figures = load_tsv(os.path.join(OUT, results) if results else None)
    log(f"{name}: {'ok' if p.returncode == 0 else 'FAILED (exit %d)' % p.returncode} in {secs:.0f}s")
    return {"ok": p.returncode == 0, "secs": secs, "table": table.strip(), "figures": figures}


def svg_bars(bars, path, title):
    """Grouped bars: [(label, ours, peer, peer_name, unit)] → an SVG file."""
    w, row = 640, 46
    h = 40 + row * len(bars)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<text x="10" y="20" font-size="14">{title}</text>']
    for i, (label, ours, peer, peer_name, unit) in enumerate(bars):
        top = 34 + i * row
        m = max(ours, peer, 1e-9)
        for j, (v, who, color) in enumerate(((ours, "silent-nas", "#2b6cb0"), (peer, peer_name, "#a0aec0"))):
            y = top + j * 18
            bw = 300 * v / m
            out.append(f'<text x="10" y="{y + 12}">{label if j == 0 else ""}</text>')
            out.append(f'<rect x="180" y="{y}" width="{bw:.1f}" height="15" fill="{color}"/>')
            out.append(f'<text x="{185 + bw:.1f}" y="{y + 12}">{v:.1f} {unit} ({who})</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


def svg_trend(history, metric, path, title):
    pts = [(h["date"], h["value"]) for h in history if (h["suite"], h["metric"]) == metric]
    if len(pts) < 2:
        return False
    w, h = 640, 220
    vals = [v for _, v in pts]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1
    xs = [60 + 560 * i / (len(pts) - 1) for i in range(len(pts))]
    ys = [190 - 150 * (v - lo) / span for v in vals]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<text x="10" y="18" font-size="14">{title}</text>',
           f'<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="{line}"/>',
           f'<text x="5" y="44">{hi:.0f}</text><text x="5" y="194">{lo:.0f}</text>',
           f'<text x="60" y="212">{pts[0][0][:10]}</text><text x="540" y="212">{pts[-1][0][:10]}</text>']
    out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2b6cb0"/>' for x, y in zip(xs, ys)]
    out.append("</svg>")
    open(path, "w").write("\n".join(out))
    return True


AB_LINE = re.compile(r"round (\d+) ([ab]): PUT (\d+) MB/s, GET (\d+) MB/s, S3 PUT (\d+) MB/s")


def verdict(ratios):
    med = statistics.median(ratios)
    slow = sum(r < 0.95 for r in ratios)
    if med < 0.88 and slow * 4 >= 3 * len(ratios):
        return med, "REGRESSION"
    fast = sum(r > 1.05 for r in ratios)
    if med > 1.12 and fast * 4 >= 3 * len(ratios):
        return med, "faster"
    return med, "same (within the noise)"


def compare(rev, new_bin, rounds, size, work):
    """A = the other commit, B = this one: ratios are new/old."""
    # one worktree, kept between runs and moved with `git checkout`: cargo decides what to
    # rebuild by path and modification time, so a fresh checkout (new files) rebuilds every
    # crate of the workspace (~4 min here) while a checkout in place touches only the files
    # that differ between the two commits
    wt = os.path.join(OUT, "compare-rev")
    sha = sh(["git", "-C", REPO, "rev-parse", "--short", rev])
    moved = os.path.isdir(wt) and subprocess.run(
        ["git", "-C", wt, "checkout", "-q", "--force", "--detach", sha],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    if not moved:
        shutil.rmtree(wt, ignore_errors=True)
        subprocess.run(["git", "-C", REPO, "worktree", "prune"], check=False)
        subprocess.run(["git", "-C", REPO, "worktree", "add", "-q", "--detach", wt, sha], check=True)
    old_bin = build(wt, os.path.join(os.path.expanduser("~/.cache/silent-nas"), "target-compare"))
    kept = os.path.join(work, "old-silent-nas")
    shutil.copy(old_bin, kept)
    log(f"compare: {rounds} rounds of {size} MiB, A = {rev} ({sha}), B = this build, alternating")
    p = subprocess.run([os.path.join(HERE, "ab.sh"), kept, new_bin, str(size), str(rounds)],
                       text=True, capture_output=True)
    if p.returncode != 0:
        raise SystemExit(f"bench/ab.sh failed:\n{p.stderr}")
    per = {}
    for line in p.stdout.splitlines():
        m = AB_LINE.match(line)
        if m:
            r, who = int(m.group(1)), m.group(2)
            per.setdefault(r, {})[who] = [float(m.group(i)) for i in (3, 4, 5)]
            log("compare: " + line)
    rows = []
    for i, path in enumerate(("WebDAV PUT", "WebDAV GET", "S3 PUT")):
        ratios = [v["b"][i] / v["a"][i] for v in per.values() if "a" in v and "b" in v and v["a"][i]]
        med, word = verdict(ratios)
        rows.append((path, ratios, med, word))
    return sha, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the suites' quick sizes")
    ap.add_argument("--only", default=",".join(DEFAULT), help="comma-separated suites")
    ap.add_argument("--compare", metavar="REV", help="A/B against another commit")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size", type=int, default=1024, help="MiB per A/B transfer")
    a = ap.parse_args()
    only = [s for s in a.only.split(",") if s]
    for s in only:
        if s != "disk" and s not in SUITES:
            raise SystemExit(f"unknown suite {s}; known: disk, {', '.join(SUITES)}")
    commit = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    dirty = bool(sh(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"]))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    mach = machine()
    work = tempfile.mkdtemp(prefix="bench-run-", dir=os.path.join(HERE, "out") if os.path.isdir(OUT) else None)
    os.makedirs(OUT, exist_ok=True)
    try:
        binary = os.environ.get("SILENT_NAS_BIN") or build(
            REPO, os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")))
        env = dict(os.environ, SILENT_NAS_BIN=binary)
        results = {}
        history = []
        if "disk" in only:
            log("disk: dd of 1 GiB with conv=fsync")
            rate = disk_rate(work)
            results["disk"] = {"ok": True, "secs": 0, "table": f"| disk write, `dd bs=1M count=1024 conv=fsync` | {rate:.0f} MB/s |",
                               "figures": {"dd_fsync_mbs": rate}}
            log(f"disk: {rate:.0f} MB/s")
        for s in only:
            if s == "disk":
                continue
            if s == "ui" and not (shutil.which("node") and os.path.exists("/usr/bin/chromium")):
                log("ui: skipped (needs node and /usr/bin/chromium)")
                continue
            oha = os.path.expanduser("~/.cache/silent-nas/tools/bin/oha")
            if s == "load" and not (shutil.which("oha") or os.path.exists(oha)):
                log("load: skipped (needs oha: cargo install oha --locked --root ~/.cache/silent-nas/tools)")
                continue
            results[s] = run_suite(s, a.quick, env)
        cmp_rows = None
        if a.compare:
            cmp_sha, cmp_rows = compare(a.compare, binary, a.rounds, a.size, work)
        # the report
        name = f"{date[:10]}-{commit}{'-dirty' if dirty else ''}"
        rdir = os.path.join(HERE, "reports", name)
        os.makedirs(rdir, exist_ok=True)
        for s, r in results.items():
            for k, v in r["figures"].items():
                history.append({"date": date, "commit": commit, "machine": mach["host"], "cpus": mach["cpus"],
                                "suite": s, "metric": k, "value": v, "quick": a.quick})
        hist_path = os.path.join(HERE, "history.jsonl")
        with open(hist_path, "a") as f:
            for h in history:
                f.write(json.dumps(h) + "\n")
        all_hist = [json.loads(l) for l in open(hist_path) if l.strip()]
        md = [f"# Benchmark report {name}", "",
              f"`bench/run {' '.join(sys.argv[1:])}` at {date}, commit {commit}{' (uncommitted changes)' if dirty else ''}.", "",
              f"Machine: {mach['cpus']} CPUs ({mach['cpu']}), {mach['mem_mib']} MiB, Linux {mach['kernel']}; "
              f"load average at the start {' '.join(mach['load'])}, at the end {' '.join(open('/proc/loadavg').read().split()[:3])}.", ""]
        bars = []
        for suite, ours, peer, label, unit in PEER_BARS:
            f = results.get(suite, {}).get("figures", {})
            if ours in f and peer in f:
                bars.append((label, f[ours], f[peer], "restic" if "restic" in peer else "rclone", unit))
        if bars:
            svg_bars(bars, os.path.join(rdir, "peers.svg"), "Throughput per peer (same run)")
            md += [f"![throughput per peer]({name}/peers.svg)", ""]
        for metric_suite, metric, title in TREND:
            fn = f"trend-{metric_suite}-{metric}.svg"
            if svg_trend(all_hist, (metric_suite, metric), os.path.join(rdir, fn), f"{title}, every run in bench/history.jsonl"):
                md += [f"![{title}]({name}/{fn})", ""]
        for s, r in results.items():
            md += [f"## {s}{'' if r['ok'] else ' — FAILED'}", "", r["table"] or "(no table)", ""]
        if cmp_rows:
            md += [f"## Compared with {a.compare} ({cmp_sha}), {a.rounds} rounds A/B alternating, {a.size} MiB", "",
                   "| path | ratios new/old, per round | median | verdict |", "|---|---|---|---|"]
            for path, ratios, med, word in cmp_rows:
                md.append(f"| {path} | {', '.join(f'{x:.2f}' for x in ratios)} | {med:.2f} | {word} |")
            md.append("")
        report = rdir + ".md"
        open(report, "w").write("\n".join(md))
        log(f"report: {os.path.relpath(report, REPO)}; {len(history)} figures appended to bench/history.jsonl")
        print("\n".join(md))
        failed = [s for s, r in results.items() if not r["ok"]]
        regress = [p for p, _, _, w in (cmp_rows or []) if w == "REGRESSION"]
        if failed:
            log(f"failed suites: {', '.join(failed)}")
        if regress:
            log(f"regressions: {', '.join(regress)}")
        sys.exit(1 if failed or regress else 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
