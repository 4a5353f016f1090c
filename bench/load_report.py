#!/usr/bin/env python3
"""The table of bench/load.sh: oha's JSON results of each stream, us and the peers.

    load_report.py OPEN_OURS OPEN_PEER CLOSED RATE CONNS SECS RESULTS_TSV LOADAVG COSTS_TSV

An error is any answer that is not 2xx (207 counts for PROPFIND) and any failed request,
except those oha aborted at the deadline (in flight when the run ended). COSTS_TSV has a row
per stream (name, server and loadgen CPU microseconds per answer, answers, the rate it was
measured at) measured alone:
with the mix's shares it gives the rate this machine's cores can carry at most.
"""

import glob
import json
import os
import statistics
import sys

STREAMS = [
    ("dav_get_small", "WebDAV GET 4 KiB (alice)"),
    ("dav_get_small_2", "WebDAV GET 4 KiB (bob)"),
    ("dav_get_256k", "WebDAV GET 256 KiB"),
    ("dav_put_small", "WebDAV PUT 4 KiB, new names (carol)"),
    ("dav_propfind", "WebDAV PROPFIND Depth 1, 100 entries"),
    ("s3_get_small", "S3 GetObject 4 KiB"),
    ("s3_put_small", "S3 PutObject 4 KiB, new keys"),
    ("s3_list", "S3 ListObjectsV2, 100 keys"),
]

from load_plan import MIX as SHARES  # noqa: E402 (the shares the plan gave each stream)


def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None


def stats(d):
    if d is None:
        return None
    codes = {int(k): v for k, v in (d.get("statusCodeDistribution") or {}).items()}
    ok = sum(v for k, v in codes.items() if 200 <= k < 300)
    bad = sum(v for k, v in codes.items() if not 200 <= k < 300)
    errs = {k: v for k, v in (d.get("errorDistribution") or {}).items() if "deadline" not in k}
    p = d.get("latencyPercentiles") or {}
    ms = lambda k: (p.get(k) or 0) * 1000
    return {
        "ok": ok,
        "errors": bad + sum(errs.values()),
        "codes": codes,
        "error_kinds": errs,
        "rps": d["summary"].get("requestsPerSec") or 0,
        "p50": ms("p50"),
        "p99": ms("p99"),
        "max": (d["summary"].get("slowest") or 0) * 1000,
    }


def cost_table(path, result):
    """CPU per request of each stream alone, and the mix's ceiling on this machine's cores."""
    try:
        rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
    except OSError:
        return
    shares = dict(SHARES)
    labels = dict(STREAMS)
    print()
    print("CPU per answer, each stream alone (8 s at the rate shown, 50 connections), in microseconds:")
    print()
    print("| stream | share | requests/s | silent-nas | loadgen |")
    print("|---|---|---|---|---|")
    mix_server = mix_gen = 0.0
    for name, server, gen, _n, at in rows:
        share = shares.get(name, 0) / 100
        mix_server += share * float(server)
        mix_gen += share * float(gen)
        print(f"| {labels.get(name, name)} | {shares.get(name, 0)} % | {at} | {server} | {gen} |")
        result(f"cost_{name}_us", server)
    cores = os.cpu_count() or 1
    if mix_server + mix_gen > 0:
        ceiling = cores * 1e6 / (mix_server + mix_gen)
        print(f"| the mix | 100 % | | {mix_server:.0f} | {mix_gen:.0f} |")
        print()
        print(f"So {cores} cores carry at most about **{ceiling:,.0f} requests/s** of this mix with the "
              f"generator on the same machine ({cores * 1e6 / mix_server:,.0f} with the server alone).")
        result("mix_ceiling_rps", round(ceiling))


def main():
    ours_dir, peer_dir, closed, rate, conns, secs, results, loadavg, costs = sys.argv[1:10]
    out = open(results, "a")

    def result(k, v):
        out.write(f"{k}\t{v}\n")

    print()
    print(f"Open loop: {rate} requests/s offered over {conns} connections for {secs} s "
          f"(latency from when each request was due); load average at the end {loadavg}.")
    print()
    print("| stream | share | silent-nas: ok / errors | req/s | p50 / p99 / max (ms) | rclone: ok / errors | req/s | p50 / p99 / max (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    totals = {"ours": [0, 0, 0.0], "peer": [0, 0, 0.0]}
    for name, label in STREAMS:
        o = stats(load(os.path.join(ours_dir, f"{name}.json")))
        r = stats(load(os.path.join(peer_dir, f"{name}.json")))
        cells = []
        for who, s in (("ours", o), ("peer", r)):
            if s is None:
                cells += ["failed to run", "", ""]
                continue
            totals[who][0] += s["ok"]
            totals[who][1] += s["errors"]
            totals[who][2] += s["rps"]
            extra = f" {s['error_kinds'] or ''}{'' if all(200 <= c < 300 for c in s['codes']) else ' ' + str(s['codes'])}"
            cells += [f"{s['ok']} / {s['errors']}{extra if s['errors'] else ''}", f"{s['rps']:.0f}",
                      f"{s['p50']:.1f} / {s['p99']:.1f} / {s['max']:.0f}"]
        print(f"| {label} | | " + " | ".join(cells) + " |")
        if o:
            result(f"open_{name}_p99_ms_ours", round(o["p99"], 2))
            result(f"open_{name}_errors_ours", o["errors"])
        if r:
            result(f"open_{name}_p99_ms_rclone", round(r["p99"], 2))
    print(f"| all | 100 % | {totals['ours'][0]} / {totals['ours'][1]} | {totals['ours'][2]:.0f} | | "
          f"{totals['peer'][0]} / {totals['peer'][1]} | {totals['peer'][2]:.0f} | |")
    result("open_rps_ours", round(totals["ours"][2]))
    result("open_errors_ours", totals["ours"][1])
    result("open_rps_rclone", round(totals["peer"][2]))
    result("open_errors_rclone", totals["peer"][1])

    cost_table(costs, result)

    rounds = {"silent-nas": [], "rclone": []}
    for f in sorted(glob.glob(os.path.join(closed, "*.json"))):
        who = os.path.basename(f).rsplit("-", 1)[0]
        s = stats(load(f))
        if s:
            rounds[who].append(s)
    if rounds["silent-nas"] and rounds["rclone"]:
        o = statistics.median(s["rps"] for s in rounds["silent-nas"])
        r = statistics.median(s["rps"] for s in rounds["rclone"])
        print()
        print(f"Closed loop: {conns} connections of small authenticated WebDAV GETs, 15 s a round, "
              f"{len(rounds['silent-nas'])} rounds each, alternating (medians).")
        print()
        print("| | silent-nas | rclone serve webdav | ratio |")
        print("|---|---|---|---|")
        print(f"| requests/s | {o:.0f} | {r:.0f} | {o / r:.2f}× |")
        po = statistics.median(s["p99"] for s in rounds["silent-nas"])
        pr = statistics.median(s["p99"] for s in rounds["rclone"])
        print(f"| p99 (ms) | {po:.0f} | {pr:.0f} | |")
        eo = sum(s["errors"] for s in rounds["silent-nas"])
        er = sum(s["errors"] for s in rounds["rclone"])
        print(f"| errors | {eo} | {er} | |")
        result("closed_rps_ours", round(o))
        result("closed_rps_rclone", round(r))
        result("closed_ratio", round(o / r, 3))
        result("closed_errors_ours", eo)


if __name__ == "__main__":
    main()
