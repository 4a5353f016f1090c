#!/usr/bin/env python3
"""The table of bench/delta.sh: `delta_summary.py RESULTS` (key<TAB>value lines)."""
import sys


def main(path):
    r = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            r[k] = float(v)
    mib = lambda b: f"{b / 2**20:.1f} MiB"
    kib = lambda b: f"{b / 1024:.1f} KiB"
    on, off, borg = r["tar_on_stored"], r["tar_off_stored"], r["borg_csize"]
    zon, zoff = r["tar_zon_stored"], r["tar_zoff_stored"]
    n = int(r["versions"])
    grow = lambda m: (r[f"tar_{m}_stored_v{n - 1}"] - r[f"tar_{m}_stored_v0"]) / max(n - 1, 1)
    rows = [
        ("tar series", f"{n} versions, {mib(r['tar_bytes'])} of tars"),
        ("  stored, delta on (LZ4)", f"{mib(on)}"),
        ("  stored, delta off (LZ4)", f"{mib(off)}   on/off = {on / off:.2f} (goal <= 0.5)"),
        ("  stored, delta on (zstd:3)", f"{mib(zon)}"),
        ("  stored, delta off (zstd:3)", f"{mib(zoff)}   on/off = {zon / zoff:.2f}"),
        ("  borg zstd,3 (unique csize)", f"{mib(borg)}   on/borg = {on / borg:.2f} (LZ4), "
         f"{zon / borg:.2f} (zstd:3) (goal <= 0.5, stretch 0.33)"),
        ("  growth per version on / off", f"{kib(grow('on'))} / {kib(grow('off'))} (LZ4), "
         f"{kib(grow('zon'))} / {kib(grow('zoff'))} (zstd:3)"),
        ("  borg repo on disk", mib(r["borg_stored"])),
        ("  import MB/s off / on (wall)", f"{r['tar_off_mbps']:.0f} / {r['tar_on_mbps']:.0f}"
         f"   on/off = {r['tar_on_mbps'] / r['tar_off_mbps']:.2f} (goal >= 0.8)"),
        ("  import MB/s off / on (per CPU s)", f"{r['tar_off_cpu_mbps']:.0f} / {r['tar_on_cpu_mbps']:.0f}"
         f"   on/off = {r['tar_on_cpu_mbps'] / r['tar_off_cpu_mbps']:.2f}"),
        ("  read newest / oldest MB/s", f"{r['read_newest_mbps']:.0f} / {r['read_oldest_mbps']:.0f}"
         f"   delta off: {r['read_newest_plain_mbps']:.0f} / {r['read_oldest_plain_mbps']:.0f}"
         " (`cat` incl. process start; goal >= 1000)"),
        ("1-byte edit of image.bin", ""),
        ("  stored growth, delta on", f"{kib(r['edit_on_stored_growth'])} (goal <= 4 KiB)"),
        ("  stored growth, delta off", kib(r["edit_off_stored_growth"])),
        ("  pack growth on / off", f"{kib(r['edit_on_pack_growth'])} / {kib(r['edit_off_pack_growth'])}"),
        ("directory series", ""),
        ("  stored on / off", f"{mib(r['dir_on_stored'])} / {mib(r['dir_off_stored'])}"
         f"   on/off = {r['dir_on_stored'] / r['dir_off_stored']:.3f} (goal <= 1)"),
        ("  import s on / off", f"{r['dir_on_secs']:.1f} / {r['dir_off_secs']:.1f}"),
    ]
    w = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"{a:<{w}}  {b}")


if __name__ == "__main__":
    main(sys.argv[1])
