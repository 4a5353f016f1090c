#!/usr/bin/env python3
"""Checks the crate graph against the layering in ARCHITECTURE.md (run by .ci/run).

Each workspace crate may depend only on the workspace crates listed for it here. A door
(webdav, s3, rest) must never depend on meta, blob, chunker or codec. nas-md5 is a leaf
(a hash function, no I/O) the S3 and REST doors use for what clients check.
"""
import json
import subprocess
import sys

ALLOWED = {
    "nas-types": set(),
    "nas-chunker": set(),
    "nas-md5": set(),
    "nas-codec": {"nas-types"},
    "nas-blob": {"nas-types"},
    "nas-meta": {"nas-types", "nas-blob"},
    "nas-engine": {"nas-types", "nas-chunker", "nas-codec", "nas-blob", "nas-meta"},
    "nas-auth": {"nas-engine"},
    "nas-webdav": {"nas-engine", "nas-auth", "nas-types"},
    "nas-s3": {"nas-engine", "nas-auth", "nas-types", "nas-md5"},
    "nas-rest": {"nas-engine", "nas-auth", "nas-types", "nas-md5"},
    "nas-observe": {"nas-engine", "nas-auth"},
    "nas-web": {"nas-engine", "nas-auth", "nas-types"},
    "nas-cluster": {"nas-engine", "nas-types"},
    "silent-nas": {"nas-engine", "nas-types", "nas-auth", "nas-webdav", "nas-s3", "nas-rest",
                   "nas-observe", "nas-web", "nas-cluster"},
    "nas-testkit": {"nas-engine", "nas-types"},
    "nas-loadgen": set(),
}
DOORS = {"nas-webdav", "nas-s3", "nas-rest", "nas-web"}
DOOR_FORBIDDEN = {"nas-meta", "nas-blob", "nas-chunker", "nas-codec"}

meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"]))
names = {p["name"] for p in meta["packages"]}
bad = []
for p in meta["packages"]:
    deps = {d["name"] for d in p["dependencies"] if d["name"] in names and d["kind"] is None}
    allowed = ALLOWED.get(p["name"])
    if allowed is None:
        if p["name"].startswith("nas-door-") or p["name"] in {"nas-webdav", "nas-s3", "nas-rest"}:
            allowed = {"nas-engine", "nas-types", "nas-auth"}
        else:
            bad.append(f"{p['name']}: not in the layer table of scripts/check-layers.py")
            continue
    extra = deps - allowed
    if extra:
        bad.append(f"{p['name']} depends on {sorted(extra)}, outside its layer")
    if (p["name"] in DOORS or p["name"] not in ALLOWED) and deps & DOOR_FORBIDDEN:
        bad.append(f"door {p['name']} reaches below the engine: {sorted(deps & DOOR_FORBIDDEN)}")
if bad:
    print("layering violations:\n  " + "\n  ".join(bad))
    sys.exit(1)
print(f"layers ok ({len(names)} crates)")
