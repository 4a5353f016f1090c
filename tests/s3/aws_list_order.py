#!/usr/bin/env python3
"""Listing order is UTF-8 binary order of the whole key (a folder `foo` sorts as `foo/`, after
`foo+1` and `foo.txt`); paging one key at a time with v1 markers, v2 continuation tokens and
start-after returns every key (and common prefix) exactly once, in that order."""
from aws_common import client

s3 = client()
s3.create_bucket(Bucket="order")
keys = ["foo/bar", "foo+1/bar", "quux ab/x", "foo.txt", "foo", "foo-a/b/c", "foo-a/b+/c",
        "foo-a/b.c", "foo-a/b0", "a b/c", "a+b/c", "a/b", "a!", "a", "z/é/1", "z/e/1", "z/e+/1",
        "z/f", "é", "e+", "e/x", "e.x/y", "x y/z", "x!y", "x/y!/z", "x/y/z", "x/y.z"]
# a key and a folder of the same name cannot both exist: "foo" and "a" are files, so drop
# the keys that would need them to be folders
keys = [k for k in keys if not (k.startswith("foo/") or k.startswith("a/"))]
keys += ["fop/1"]
for k in keys:
    s3.put_object(Bucket="order", Key=k, Body=k.encode())
want = sorted(keys, key=lambda k: k.encode())


def v2_pages(bucket="order", **kw):
    seen, token = [], None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, **kw, **extra)
        got = [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        assert len(got) <= 1 and r["KeyCount"] == len(got), r
        seen += got
        if not r["IsTruncated"]:
            return seen
        token = r["NextContinuationToken"]


def v1_pages(**kw):
    seen, marker = [], ""
    while True:
        r = s3.list_objects(Bucket="order", MaxKeys=1, Marker=marker, **kw)
        got = [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        seen += got
        if not r["IsTruncated"]:
            return seen
        marker = r["NextMarker"]


# whole listing, one page and one key at a time
assert [o["Key"] for o in s3.list_objects_v2(Bucket="order")["Contents"]] == want
assert v2_pages() == want, v2_pages()
assert v1_pages() == want, v1_pages()
# start-after any key (and between keys) resumes right after it
for i, k in enumerate(want):
    r = s3.list_objects_v2(Bucket="order", StartAfter=k)
    assert [o["Key"] for o in r.get("Contents", [])] == want[i + 1:], (k, r.get("Contents"))
for probe in ["foo+", "foo/", "foo-a/b", "foo-a/b/", "z/e", "z/e/", "x/y/", "fo", "zz", " "]:
    r = s3.list_objects_v2(Bucket="order", StartAfter=probe)
    rest = [k for k in want if k.encode() > probe.encode()]
    assert [o["Key"] for o in r.get("Contents", [])] == rest, (probe, r.get("Contents"))

# common prefixes with "/": binary order, and paged once each
top = s3.list_objects_v2(Bucket="order", Delimiter="/")
listed = [o["Key"] for o in top.get("Contents", [])] + [p["Prefix"] for p in top.get("CommonPrefixes", [])]
want_top = sorted({k if "/" not in k else k.split("/")[0] + "/" for k in keys}, key=lambda k: k.encode())
assert sorted(listed, key=lambda k: k.encode()) == want_top, listed
assert [p["Prefix"] for p in top["CommonPrefixes"]] == [k for k in want_top if k.endswith("/")], top
assert v2_pages(Delimiter="/") == want_top, v2_pages(Delimiter="/")
assert v1_pages(Delimiter="/") == want_top, v1_pages(Delimiter="/")
sub = s3.list_objects_v2(Bucket="order", Delimiter="/", Prefix="z/")
assert [p["Prefix"] for p in sub["CommonPrefixes"]] == ["z/e+/", "z/e/", "z/é/"], sub
assert v2_pages(Delimiter="/", Prefix="foo-a/") == ["foo-a/b+/", "foo-a/b.c", "foo-a/b/", "foo-a/b0"]

# the issue's own example, in a bucket of its own
s3.create_bucket(Bucket="issue")
for k in ["foo/bar", "foo+1/bar", "quux ab/x"]:
    s3.put_object(Bucket="issue", Key=k, Body=b"x")
r = s3.list_objects_v2(Bucket="issue", Delimiter="/")
assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["foo+1/", "foo/", "quux ab/"], r
r = s3.list_objects_v2(Bucket="issue", StartAfter="foo+1/bar")
assert [o["Key"] for o in r["Contents"]] == ["foo/bar", "quux ab/x"], r
# other delimiters group in the same order and page without repeats
assert v2_pages("issue", Delimiter="+") == ["foo+", "foo/bar", "quux ab/x"]
# ListObjectVersions walks in the same order
vs = s3.list_object_versions(Bucket="issue")
assert [v["Key"] for v in vs["Versions"]] == ["foo+1/bar", "foo/bar", "quux ab/x"], vs
print("ok")
