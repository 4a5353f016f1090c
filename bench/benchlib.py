#!/usr/bin/env python3
"""Small helpers for bench/compare.sh (stdlib only).

    benchlib.py field NAME [NAME...]   read a JSON object on stdin, print the fields (one a line)
    benchlib.py tree DIR               print "FILES BYTES" of the regular files under DIR
    benchlib.py flip FILE OFFSET       invert the byte at OFFSET in place (clamped to the middle)
    benchlib.py summary RESULTS        print the comparison table from RESULTS (key<TAB>value
                                       lines written by compare.sh)
"""
import json
import os
import sys

from tsv import load


def field(names):
    obj = json.load(sys.stdin)
    for n in names:
        print(obj[n])


def tree(root):
    files = total = 0
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files += 1
                total += os.path.getsize(p)
    print(files, total)


def flip(path, offset):
    size = os.path.getsize(path)
    offset = min(int(offset), size // 2)
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))
    print(offset)


def mib(b):
    return f"{b / 1048576:.1f} MiB"


def kib(b):
    return f"{b / 1024:.1f} KiB"


def summary(results_path):
    r = load(results_path)
    rows = []  # (label, ours, ref, ratio, goal, verdict)

    def row(label, ours, ref, ratio=None, goal="", ok=None):
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        rows.append((label, ours, ref, "" if ratio is None else f"{ratio:.2f}", goal, verdict))

    def has(*keys):
        return all(k in r for k in keys)

    # ---- multi-version corpus -------------------------------------------------------------
    if has("corpus_bytes", "sn_lz4_secs", "restic_secs", "borg_secs", "sn_zstd_secs"):
        nv = int(r.get("corpus_versions", 0))
        mb = lambda k: r["corpus_bytes"] / 1e6 / r[k]
        lz4, zstd, restic, borg = mb("sn_lz4_secs"), mb("sn_zstd_secs"), mb("restic_secs"), mb("borg_secs")
        head = f"{nv} versions, {mib(r['corpus_bytes'])} total"
        row(f"throughput LZ4 vs restic ({head})", f"{lz4:.1f} MB/s", f"{restic:.1f} MB/s",
            lz4 / restic, ">= 4.0", lz4 / restic >= 4.0)
        row("throughput LZ4 vs borg (zstd,3)", f"{lz4:.1f} MB/s", f"{borg:.1f} MB/s", lz4 / borg, "info")
        row("throughput zstd vs restic", f"{zstd:.1f} MB/s", f"{restic:.1f} MB/s", zstd / restic, "info")
        row("throughput zstd vs borg (zstd,3)", f"{zstd:.1f} MB/s", f"{borg:.1f} MB/s", zstd / borg, "info")

        ref = min(r["restic_du"], r["borg_du"])
        refname = "restic" if r["restic_du"] <= r["borg_du"] else "borg"
        for mode, limit in (("zstd", 1.0), ("lz4", 1.5)):
            M = mode.upper()
            for key, what in (("stored", "stats stored_bytes"), ("ondisk", "pack+meta"), ("du", "du -sb")):
                ours = r[f"sn_{mode}_{key}"]
                row(f"stored {M} ({what}) vs min(restic,borg du)={refname}", mib(ours), mib(ref),
                    ours / ref, f"<= {limit}", ours / ref <= limit)
        row("  (restic repo du / borg repo du)", mib(r["restic_du"]), mib(r["borg_du"]),
            r["restic_du"] / r["borg_du"], "info")
        for mode in ("lz4", "zstd"):
            ours = r[f"sn_{mode}_rss_kb"] * 1024
            row(f"peak RSS {mode.upper()} import vs restic", mib(ours), mib(r["restic_rss_kb"] * 1024),
                ours / (r["restic_rss_kb"] * 1024), "info")
            row(f"peak RSS {mode.upper()} import vs borg", mib(ours), mib(r["borg_rss_kb"] * 1024),
                ours / (r["borg_rss_kb"] * 1024), "info")

    # ---- small files ----------------------------------------------------------------------
    if has("small_files", "small_bytes", "sn_small_secs", "restic_small_secs"):
        n, b = r["small_files"], r["small_bytes"]
        ours_fps, ref_fps = n / r["sn_small_secs"], n / r["restic_small_secs"]
        row(f"small files ({int(n)} files, {mib(b)}) files/s vs restic", f"{ours_fps:.0f} files/s",
            f"{ref_fps:.0f} files/s", ours_fps / ref_fps, "info")
        ours_mb, ref_mb = b / 1e6 / r["sn_small_secs"], b / 1e6 / r["restic_small_secs"]
        row("small files MB/s vs restic", f"{ours_mb:.2f} MB/s", f"{ref_mb:.2f} MB/s", ours_mb / ref_mb, "info")

    # ---- 1-byte edit ----------------------------------------------------------------------
    if has("edit_stored_growth"):
        goal = 100 * 1024
        for key, what in (("stored", "stats stored_bytes"), ("ondisk", "pack+meta"), ("du", "du -sb")):
            g = r[f"edit_{key}_growth"]
            row(f"1-byte edit of 64 MiB image.bin: growth ({what})", kib(g), "100 KiB", g / goal,
                "<= 1.0", g <= goal)

    # ---- big files ------------------------------------------------------------------------
    if has("dd_mbps", "sn_big_mbps"):
        ratio = r["sn_big_mbps"] / r["dd_mbps"]
        row(f"import {mib(r['big_bytes'])} random file vs dd conv=fsync", f"{r['sn_big_mbps']:.1f} MB/s",
            f"{r['dd_mbps']:.1f} MB/s", ratio, ">= 0.8", ratio >= 0.8)
    if has("cat_gbps"):
        ref = f"1 GB/s (page-cache cat {r['pagecache_gbps']:.2f} GB/s)" if "pagecache_gbps" in r else "1 GB/s"
        row(f"read old version ({mib(r['big_bytes'])}), 2nd run", f"{r['cat_gbps']:.2f} GB/s", ref,
            r["cat_gbps"] / 1.0, ">= 1.0", r["cat_gbps"] >= 1.0)
    if has("four_rss_kb"):
        ours = r["four_rss_kb"] * 1024
        row(f"peak RSS importing {mib(r['four_bytes'])} file", mib(ours), "64 MiB", ours / (64 << 20),
            "<= 1.0", ours <= 64 << 20)
        if "four_mbps" in r:
            row("  (import MB/s of that file)", f"{r['four_mbps']:.1f} MB/s", "", None, "info")
    if has("restore_secs"):
        row(f"restore old version of {mib(r['gig_bytes'])} file", f"{r['restore_secs']:.3f} s", "1 s",
            r["restore_secs"] / 1.0, "<= 1.0", r["restore_secs"] <= 1.0)

    widths = [max(len(str(x[i])) for x in rows + [("figure", "ours", "reference", "ratio", "goal", "")])
              for i in range(6)]
    lines = []
    hdr = ("figure", "ours", "reference", "ratio", "goal", "")
    fmt = lambda t: "  ".join(str(c).ljust(w) if i in (0, 1, 2, 4) else str(c).rjust(w)
                              for i, (c, w) in enumerate(zip(t, widths))).rstrip()
    lines.append(fmt(hdr))
    lines.append("-" * len(lines[0]))
    for t in rows:
        lines.append(fmt(t))
    fails = sum(1 for t in rows if t[5] == "FAIL")
    passes = sum(1 for t in rows if t[5] == "PASS")
    lines.append("")
    lines.append(f"{passes} goals met, {fails} missed")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "field":
        field(args)
    elif cmd == "tree":
        tree(args[0])
    elif cmd == "flip":
        flip(args[0], args[1])
    elif cmd == "summary":
        summary(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
