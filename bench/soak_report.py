"""The soak run's verdict and report (see soak.py): the checks, the trend fits, SVG plots
of RSS, open fds and threads over time, the samples as TSV, and a markdown summary."""

import datetime
import os

WARMUP_SHARE = 0.2  # the first fifth of the run (at least 10 minutes) is warm-up
MIN_TREND_S = 600  # shorter runs report their samples, without a trend verdict


class Result:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def slope(points):
    """Least-squares slope of (x, y) points; 0 for fewer than two."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else 0.0


def trends(r):
    """Per series: (slope per hour, growth over the measured window, allowed growth, ok)."""
    samples, dur = r.samples, r.samples[-1][0] if r.samples else 0
    if dur < MIN_TREND_S:
        return None
    start = max(WARMUP_SHARE * dur, min(600, dur / 2))
    window = [s for s in samples if s[0] >= start]
    out = {}
    for i, (name, floor) in enumerate([("RSS MiB", 8.0), ("open fds", 4), ("threads", 2)], 1):
        pts = [(s[0], s[i]) for s in window]
        b = slope(pts)
        span = window[-1][0] - window[0][0] if window else 0
        growth = b * span
        allowed = max(floor, r.args.tolerance * median([p[1] for p in pts]))
        out[name] = (b * 3600, growth, allowed, growth <= allowed)
    return out


def svg(series, title, unit, path):
    """A line plot of (seconds, value) points, hand-written SVG (no plotting library)."""
    w, h, m = 640, 240, 48
    xs, ys = [p[0] for p in series], [p[1] for p in series]
    x1, y0, y1 = max(xs + [1]), 0, max(ys + [1]) * 1.1
    def px(x):
        return m + (w - 2 * m) * x / x1

    def py(y):
        return h - m - (h - 2 * m) * (y - y0) / (y1 - y0)

    pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series)
    ticks = "".join(
        f'<text x="{m - 6}" y="{py(y1 * k / 4):.1f}" text-anchor="end" font-size="10">'
        f"{y1 * k / 4:.0f}</text>" for k in range(5))
    with open(path, "w") as f:
        f.write(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
            f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>'
            f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="#888"/>'
            f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="#888"/>{ticks}'
            f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle" font-size="10">'
            f"minutes (0 – {x1 / 60:.0f}); {unit}</text>"
            f'<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="{pts}"/></svg>')


def write(r):
    """Writes the report into r.args.out; returns whether every check passed."""
    out = r.args.out
    dur = r.samples[-1][0] if r.samples else 0
    errors = [f"{c.name}: {e}" for c in r.clients for e in c.errors]
    counted = {d: (r.sent.get(d, 0), r.served.get(d, 0)) for d in ("webdav", "s3")}
    t = trends(r)
    ran = {w: r.runs.get(w, 0) for w in r.workers}
    due = dur > r.interval_s * 1.5
    checks = [
        ("no client errors", not errors, f"{len(errors)} errors"),
        ("every acknowledged write reads back byte-exact, every delete is gone", not r.lost,
         f"{len(r.lost)} lost or changed"),
        ("/metrics request counters equal the clients' counts",
         all(a == b for a, b in counted.values()),
         ", ".join(f"{d}: clients {a}, server {b}" for d, (a, b) in counted.items())),
        ("the server stopped cleanly (exit 0)", r.exit_code == 0, f"exit {r.exit_code}"),
        ("fsck --verify-data is clean", r.fsck.returncode == 0, f"exit {r.fsck.returncode}"),
        ("every maintenance worker ran" if due else "workers (run too short to require them)",
         (not due) or all(n > 0 for n in ran.values()),
         ", ".join(f"{w} {n}" for w, n in ran.items())),
    ]
    if t:
        for name, (per_h, growth, allowed, ok) in t.items():
            checks.append((f"{name}: no upward trend after warm-up", ok,
                           f"slope {per_h:+.2f}/h, growth {growth:+.2f} over the window "
                           f"(allowed {allowed:.2f})"))
    ok = all(c[1] for c in checks)
    with open(os.path.join(out, "samples.tsv"), "w") as f:
        f.write("seconds\trss_mib\tfds\tthreads\n")
        for s in r.samples:
            f.write(f"{s[0]:.0f}\t{s[1]:.1f}\t{s[2]}\t{s[3]}\n")
    for i, (name, unit, file) in enumerate(
            [("RSS", "MiB", "rss.svg"), ("Open file descriptors", "fds", "fds.svg"),
             ("Threads", "threads", "threads.svg")], 1):
        svg([(s[0], s[i]) for s in r.samples], name, unit, os.path.join(out, file))
    ops = {}
    for c in r.clients:
        for k, v in c.ops.items():
            ops[k] = ops.get(k, 0) + v
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Soak run: {'PASS' if ok else 'FAIL'}",
        "",
        f"{now}, commit {r.args.commit or '?'}, {dur / 60:.1f} minutes of load, "
        f"{len(r.clients)} clients ({r.args.webdav_clients} WebDAV, {r.args.s3_clients} S3), "
        f"workers every {r.args.interval}, samples every {r.args.sample:.0f} s, "
        f"{r.args.rate or 'unlimited'} operations/s per client, at most {r.args.live} "
        "live files each.",
        "",
        "| check | result | detail |",
        "|---|---|---|",
        *[f"| {name} | {'ok' if good else '**FAILED**'} | {detail} |"
          for name, good, detail in checks],
        "",
        "Operations: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())) + ".",
        "",
        "![RSS](rss.svg)", "![fds](fds.svg)", "![threads](threads.svg)",
        "",
    ]
    if not t:
        lines += [f"The run is shorter than {MIN_TREND_S // 60} minutes: no trend verdict.", ""]
    if errors or r.lost:
        lines += ["## Failures", "", *[f"- {e}" for e in (errors + r.lost)[:50]], ""]
    lines += ["## fsck", "", "```", (r.fsck.stdout + r.fsck.stderr).strip()[-2000:], "```", ""]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:len(checks) + 8]), flush=True)
    return ok
