//! Security of the S3 door (issue 18) against the real server: stale, replayed and
//! long-lived signatures, Signature V2, regions, XML body size and depth, CORS isolation
//! between owners, version ids that must act on exactly their version, quota answers, and
//! routine refusals that must not log errors. Requests are signed by hand in Python (so a
//! test can pick the date, the region and the form) or made with boto3.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::process::Command;

/// What every script starts with: argv = endpoint, access key, secret, extra…;
/// `sign_v4`, `presign_v4`, `sign_v2` (hand-made signatures with any date or region),
/// `send`/`signed` (one request on its own connection: status, body, lowercase headers),
/// `code` (the S3 error code of an answer), `s3` (a boto3 client) and `boto_code`.
const SIG: &str = r#"
import sys, hashlib, hmac, datetime, http.client, base64, urllib.parse
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
EP, AK, SK = sys.argv[1], sys.argv[2], sys.argv[3]
HOST = EP.split("//")[1]
NOW = lambda: datetime.datetime.now(datetime.timezone.utc)
def hm(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
def q(s): return urllib.parse.quote(s, safe="-_.~")
def canon_query(params): return "&".join(f"{q(k)}={q(v)}" for k, v in sorted(params))
def skey(sk, day, region): return hm(hm(hm(hm(("AWS4" + sk).encode(), day), region), "s3"), "aws4_request")
def sign_v4(method, path, params=(), headers=None, body=b"", when=None, region="us-east-1", ak=None, sk=None):
    ak, sk, now = ak or AK, sk or SK, when or NOW()
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    h = {"host": HOST, **{k.lower(): v for k, v in (headers or {}).items()}}
    h["x-amz-date"], h["x-amz-content-sha256"] = amz, hashlib.sha256(body).hexdigest()
    names = sorted(h)
    creq = "\n".join([method, q(path).replace("%2F", "/"), canon_query(params),
                      "".join(f"{n}:{h[n].strip()}\n" for n in names), ";".join(names), h["x-amz-content-sha256"]])
    scope = f"{day}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(skey(sk, day, region), sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return h
def presign_v4(method, path, expires, when=None, region="us-east-1", ak=None, sk=None):
    ak, sk, now = ak or AK, sk or SK, when or NOW()
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    p = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", f"{ak}/{scope}"), ("X-Amz-Date", amz),
         ("X-Amz-Expires", str(expires)), ("X-Amz-SignedHeaders", "host")]
    creq = "\n".join([method, q(path).replace("%2F", "/"), canon_query(p), f"host:{HOST}\n", "host", "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    p.append(("X-Amz-Signature", hmac.new(skey(sk, day, region), sts.encode(), hashlib.sha256).hexdigest()))
    return path + "?" + canon_query(p)
def sign_v2(method, path, date):
    sts = f"{method}\n\n\n{date}\n{path}"
    sig = base64.b64encode(hmac.new(SK.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return {"date": date, "authorization": f"AWS {AK}:{sig}"}
def send(method, target, headers=None, body=b""):
    c = http.client.HTTPConnection(HOST, timeout=120)
    c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    hs = {"host": HOST, **(headers or {})}
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in hs):
        hs["content-length"] = str(len(body))
    for k, v in hs.items():
        c.putheader(k, v)
    c.endheaders()
    if body:
        c.send(body)
    r = c.getresponse()
    out = (r.status, r.read(), {k.lower(): v for k, v in r.getheaders()})
    c.close()
    return out
def signed(method, path, params=(), headers=None, body=b"", **kw):
    target = path + ("?" + canon_query(params) if params else "")
    return send(method, target, sign_v4(method, path, params, headers, body, **kw), body)
def md5h(b): return {"content-md5": base64.b64encode(hashlib.md5(b).digest()).decode()}
def code(resp):
    b = resp[1].decode(errors="replace")
    return b.split("<Code>")[1].split("</Code>")[0] if "<Code>" in b else ""
def client(ak, sk):
    return boto3.client("s3", endpoint_url=EP, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
s3 = client(AK, SK)
def boto_code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return "OK", 200
"#;

/// Runs `SIG + script` with the server's endpoint, `ak`, `sk` and `extra` arguments; the
/// test fails, showing the output, unless the script succeeds.
fn py(s: &Server, ak: &str, sk: &str, extra: &[&str], script: &str) {
    let endpoint = format!("http://{}", s.s3_addr.as_ref().unwrap());
    let out = Command::new("python3")
        .args([
            "-c",
            &format!("{SIG}\n{script}\nprint('ok')\n"),
            &endpoint,
            ak,
            sk,
        ])
        .args(extra)
        .output()
        .expect("python3 with boto3");
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout)
                .trim_end()
                .ends_with("ok"),
        "script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s3_server(t: &tempfile::TempDir) -> Server {
    Server::start_with(&t.path().join("data"), &["--s3-listen", "127.0.0.1:0"])
}

#[test]
fn stale_skewed_and_long_lived_signatures_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let s = s3_server(&t);
    let (ak, sk) = s.s3_key("admin");
    py(
        &s,
        &ak,
        &sk,
        &[],
        r#"
s3.create_bucket(Bucket="sig")
s3.put_object(Bucket="sig", Key="k.txt", Body=b"kept")
later, earlier = NOW() + datetime.timedelta(minutes=20), NOW() - datetime.timedelta(minutes=20)
# SigV4 in headers: 15 minutes either way, as AWS
assert signed("GET", "/sig/k.txt")[0] == 200
for when in (earlier, later, NOW() - datetime.timedelta(days=400)):
    r = signed("GET", "/sig/k.txt", when=when)
    assert (r[0], code(r)) == (403, "RequestTimeTooSkewed"), (when, r)
    r = signed("DELETE", "/sig/k.txt", when=when)
    assert (r[0], code(r)) == (403, "RequestTimeTooSkewed"), r
# a captured request replays only inside the window: the same headers, an hour on, are refused
old = sign_v4("PUT", "/sig/k.txt", body=b"replayed", when=NOW() - datetime.timedelta(hours=1))
r = send("PUT", "/sig/k.txt", old, b"replayed")
assert (r[0], code(r)) == (403, "RequestTimeTooSkewed"), r
# presigned URLs: at most 7 days, expired ones refused, a date in the future too
r = send("GET", presign_v4("GET", "/sig/k.txt", 604800))
assert (r[0], r[1]) == (200, b"kept"), r
for secs in (604801, 10 * 365 * 86400, -1, "abc"):
    r = send("GET", presign_v4("GET", "/sig/k.txt", secs))
    assert (r[0], code(r)) == (400, "AuthorizationQueryParametersError"), (secs, r)
r = send("GET", presign_v4("GET", "/sig/k.txt", 60, when=earlier))
assert (r[0], code(r)) == (403, "AccessDenied") and b"expired" in r[1], r
r = send("GET", presign_v4("GET", "/sig/k.txt", 3600, when=later))
assert (r[0], code(r)) == (403, "RequestTimeTooSkewed"), r
# Signature Version 2 (boto3 still presigns with it): the same rules
http_date = lambda t: t.strftime("%a, %d %b %Y %H:%M:%S GMT")
r = send("GET", "/sig/k.txt", sign_v2("GET", "/sig/k.txt", http_date(NOW())))
assert (r[0], r[1]) == (200, b"kept"), r
for when in (earlier, later, NOW() - datetime.timedelta(days=400)):
    for method in ("GET", "DELETE"):
        r = send(method, "/sig/k.txt", sign_v2(method, "/sig/k.txt", http_date(when)))
        assert (r[0], code(r)) == (403, "RequestTimeTooSkewed"), (method, when, r)
    r = send("PUT", "/sig/k.txt", sign_v2("PUT", "/sig/k.txt", http_date(when)), b"replayed")
    assert (r[0], code(r)) == (403, "RequestTimeTooSkewed"), r
r = send("GET", "/sig/k.txt", {"authorization": sign_v2("GET", "/sig/k.txt", "x")["authorization"]})
assert (r[0], code(r)) == (403, "AccessDenied"), "a SigV2 request without a date"
url = s3.generate_presigned_url("get_object", Params={"Bucket": "sig", "Key": "k.txt"}, ExpiresIn=600)
assert "Signature=" in url and "X-Amz-Signature" not in url, url
r = send("GET", url[len(EP):])
assert (r[0], r[1]) == (200, b"kept"), r
for secs in (8 * 86400, 10 * 365 * 86400):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "sig", "Key": "k.txt"}, ExpiresIn=secs)
    r = send("GET", url[len(EP):])
    assert (r[0], code(r)) == (400, "AuthorizationQueryParametersError"), (secs, r)
expired = int(NOW().timestamp()) - 60
sig = base64.b64encode(hmac.new(SK.encode(), f"GET\n\n\n{expired}\n/sig/k.txt".encode(), hashlib.sha1).digest()).decode()
r = send("GET", f"/sig/k.txt?AWSAccessKeyId={AK}&Expires={expired}&Signature={q(sig)}")
assert (r[0], code(r)) == (403, "AccessDenied"), r
# a browser POST upload without a file or a signed policy stores nothing (aws_post_upload.py)
form = b"--x\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\np.txt\r\n--x--\r\n"
r = send("POST", "/sig", {"content-type": "multipart/form-data; boundary=x"}, form)
assert (r[0], code(r)) == (400, "MalformedPOSTRequest"), r
form = b"--x\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\np.txt\r\n--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nnew\r\n--x--\r\n"
r = send("POST", "/sig", {"content-type": "multipart/form-data; boundary=x"}, form)
assert (r[0], code(r)) == (403, "AccessDenied"), r
assert s3.get_object(Bucket="sig", Key="k.txt")["Body"].read() == b"kept", "nothing was replayed"
assert [o["Key"] for o in s3.list_objects_v2(Bucket="sig")["Contents"]] == ["k.txt"]
"#,
    );
}

#[test]
fn a_wrong_or_empty_region_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let s = s3_server(&t);
    let (ak, sk) = s.s3_key("admin");
    py(
        &s,
        &ak,
        &sk,
        &[],
        r#"
s3.create_bucket(Bucket="reg")
assert signed("GET", "/reg")[0] == 200
for region in ("eu-west-1", "", "US", "us-east-2"):
    r = signed("GET", "/reg", region=region)
    assert (r[0], code(r)) == (400, "AuthorizationHeaderMalformed"), (region, r)
    assert b"expecting 'us-east-1'" in r[1], r[1]
    r = send("GET", presign_v4("GET", "/reg", 60, region=region))
    assert (r[0], code(r)) == (400, "AuthorizationQueryParametersError"), (region, r)
    assert b"expecting 'us-east-1'" in r[1], r[1]
wrong = boto3.client("s3", endpoint_url=EP, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="eu-central-1",
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
c, status = boto_code(wrong.put_object, Bucket="reg", Key="x", Body=b"x")
assert (c, status) == ("AuthorizationHeaderMalformed", 400), (c, status)
assert "Contents" not in s3.list_objects_v2(Bucket="reg"), "nothing was written"
"#,
    );
}

#[test]
fn xml_bodies_have_size_caps_and_delete_objects_a_key_cap() {
    let t = tempfile::tempdir().unwrap();
    let s = s3_server(&t);
    let (ak, sk) = s.s3_key("admin");
    py(
        &s,
        &ak,
        &sk,
        &[],
        r#"
s3.create_bucket(Bucket="caps")
s3.put_object(Bucket="caps", Key="k0", Body=b"x")
up = s3.create_multipart_upload(Bucket="caps", Key="mp")["UploadId"]
big_delete = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 800000 + b"</Delete>"  # 23 MB
big_complete = b"<CompleteMultipartUpload>" + b"<Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>" * 450000 + b"</CompleteMultipartUpload>"
big_cors = (b"<CORSConfiguration>" + b"<CORSRule><AllowedOrigin>https://a.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>" * 800
            + b"</CORSConfiguration>")  # 80 KB: over AWS's 64 KB
assert len(big_delete) > 23_000_000 and len(big_complete) > 23_000_000 and len(big_cors) > 65536
for name, method, path, params, body in [
    ("DeleteObjects", "POST", "/caps", [("delete", "")], big_delete),
    ("CompleteMultipartUpload", "POST", "/caps/mp", [("uploadId", up)], big_complete),
    ("PutBucketCors", "PUT", "/caps", [("cors", "")], big_cors),
]:
    r = signed(method, path, params, md5h(body), body)
    assert (r[0], code(r)) == (400, "MaxMessageLengthExceeded"), (name, r[0], r[1][:300])
    # without a declared length (chunked), the cap holds as well
    h = sign_v4(method, path, params, dict(md5h(body), **{"transfer-encoding": "chunked"}), body)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                       for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    r = send(method, path + "?" + canon_query(params), h, chunked)
    assert (r[0], code(r)) == (400, "MaxMessageLengthExceeded"), (name, r[0], r[1][:300])
# DeleteObjects: at most 1,000 keys, as AWS
keys = lambda n: [{"Key": f"k{i}"} for i in range(n)]
c, status = boto_code(s3.delete_objects, Bucket="caps", Delete={"Objects": keys(1001)})
assert (c, status) == ("MalformedXML", 400), (c, status)
assert s3.get_object(Bucket="caps", Key="k0")["Body"].read() == b"x", "nothing deleted"
assert len(s3.delete_objects(Bucket="caps", Delete={"Objects": keys(1000)})["Deleted"]) == 1000
# a body broken in its chunked framing is the client's error, never a 5xx
import socket
h = sign_v4("POST", "/caps", [("delete", "")], dict(md5h(b"x"), **{"transfer-encoding": "chunked"}), b"x")
for target, hdrs in (("/caps?delete=", h), ("/caps/zz.txt", sign_v4("PUT", "/caps/zz.txt", headers={"transfer-encoding": "chunked"}))):
    sock = socket.create_connection((HOST.split(":")[0], int(HOST.split(":")[1])))
    method = "POST" if "delete" in target else "PUT"
    sock.sendall((f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
                  + "\r\nZZ\r\nhello\r\n0\r\n\r\n").encode())
    status = int(sock.recv(65536).split(b" ")[1])
    sock.close()
    assert 400 <= status < 500, (target, status)
s3.abort_multipart_upload(Bucket="caps", Key="mp", UploadId=up)
assert signed("GET", "/caps")[0] == 200, "the server keeps serving"
"#,
    );
}

#[test]
fn deep_xml_bodies_are_refused_and_the_server_keeps_serving() {
    let t = tempfile::tempdir().unwrap();
    let s = s3_server(&t);
    let (ak, sk) = s.s3_key("admin");
    py(
        &s,
        &ak,
        &sk,
        &[],
        r#"
s3.create_bucket(Bucket="deep")
s3.put_object(Bucket="deep", Key="k", Body=b"x")
up = s3.create_multipart_upload(Bucket="deep", Key="mp")["UploadId"]
nest = lambda root, inner, n: (f"<{root}>{inner}" + "<a>" * n + "</a>" * n + f"</{root}>").encode()
bodies = [
    ("DeleteObjects", "POST", "/deep", [("delete", "")], nest("Delete", "<Object><Key>k</Key></Object>", 10000)),
    ("CompleteMultipartUpload", "POST", "/deep/mp", [("uploadId", up)], nest("CompleteMultipartUpload", "", 10000)),
    ("PutBucketCors", "PUT", "/deep", [("cors", "")], nest("CORSConfiguration", "", 5000)),  # under its 64 KB cap
    ("PutBucketVersioning", "PUT", "/deep", [("versioning", "")], nest("VersioningConfiguration", "<Status>Enabled</Status>", 10000)),
    ("PutBucketTagging", "PUT", "/deep", [("tagging", "")], nest("Tagging", "", 10000)),
    ("PutObjectTagging", "PUT", "/deep/k", [("tagging", "")], nest("Tagging", "", 10000)),
    ("PutBucketLifecycleConfiguration", "PUT", "/deep", [("lifecycle", "")], nest("LifecycleConfiguration", "", 10000)),
    ("CreateBucket", "PUT", "/deep2", [], nest("CreateBucketConfiguration", "", 10000)),
    ("DeleteObjects at 33 levels", "POST", "/deep", [("delete", "")], nest("Delete", "<Object><Key>k</Key></Object>", 32)),
]
for name, method, path, params, body in bodies:
    r = signed(method, path, params, md5h(body), body)
    assert (r[0], code(r)) == (400, "MalformedXML"), (name, r[0], r[1][:300])
    assert signed("GET", "/deep/k")[0] == 200, f"still serving after {name}"
# a document type declaration (entity tricks) is refused too
bomb = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "eeee">]><Delete><Object><Key>&e;</Key></Object></Delete>'
r = signed("POST", "/deep", [("delete", "")], md5h(bomb), bomb)
assert (r[0], code(r)) == (400, "MalformedXML"), r
# an unsigned XML body is refused unparsed (every operation taking one needs a signature)
r = send("POST", "/deep?delete=", {}, bodies[0][4])
assert (r[0], code(r)) == (403, "AccessDenied"), r
# bodies within the limits still work
assert s3.get_bucket_versioning(Bucket="deep")["Status"] == "Enabled"
assert s3.delete_objects(Bucket="deep", Delete={"Objects": [{"Key": "k"}]})["Deleted"][0]["Key"] == "k"
s3.abort_multipart_upload(Bucket="deep", Key="mp", UploadId=up)
"#,
    );
}

#[test]
fn cors_rules_apply_to_their_owners_bucket_only() {
    let t = tempfile::tempdir().unwrap();
    let s = s3_server(&t);
    s.add_user("alice", "alice-password-1", &[]);
    s.add_user("bob", "bob-password-1", &[]);
    let (aak, ask) = s.s3_key("alice");
    let (bak, bsk) = s.s3_key("bob");
    py(
        &s,
        &aak,
        &ask,
        &[&bak, &bsk],
        r#"
BAK, BSK = sys.argv[4], sys.argv[5]
alice, bob = s3, client(BAK, BSK)
for c in (alice, bob):
    for b in ("bbucket", "cbucket"):
        c.create_bucket(Bucket=b)
        c.put_object(Bucket=b, Key="o.txt", Body=b"data")
rule = lambda origins, methods: {"CORSRules": [{"AllowedOrigins": origins, "AllowedMethods": methods, "AllowedHeaders": ["*"]}]}
# bbucket: alice allows every origin, bob has no rules
alice.put_bucket_cors(Bucket="bbucket", CORSConfiguration=rule(["*"], ["GET", "PUT"]))
evil = "https://evil.example"
r = signed("GET", "/bbucket/o.txt", headers={"origin": evil}, ak=BAK, sk=BSK)
assert r[0] == 200 and r[1] == b"data", r
assert "access-control-allow-origin" not in r[2], f"alice's rule answered for bob's bucket: {r[2]}"
r = signed("GET", "/bbucket/o.txt", headers={"origin": evil})
assert r[0] == 200 and r[2].get("access-control-allow-origin") == "*", r[2]
# cbucket: alice is strict, bob allows his own site
alice.put_bucket_cors(Bucket="cbucket", CORSConfiguration=rule(["https://alice.example"], ["GET"]))
bob.put_bucket_cors(Bucket="cbucket", CORSConfiguration=rule(["https://bob.example"], ["GET", "PUT"]))
pre = lambda origin, method="PUT": {"origin": origin, "access-control-request-method": method,
                                    "access-control-request-headers": "content-type"}
r = send("OPTIONS", "/cbucket/o.txt", pre("https://bob.example"))
assert r[0] == 200 and r[2]["access-control-allow-origin"] == "https://bob.example", r
r = send("OPTIONS", "/cbucket/o.txt", pre("https://alice.example", "GET"))
assert r[0] == 200, r
assert send("OPTIONS", "/cbucket/o.txt", pre(evil))[0] == 403
# a presigned URL names its owner: only that owner's rules answer its preflight
url = presign_v4("PUT", "/cbucket/o.txt", 600, ak=BAK, sk=BSK)
assert send("OPTIONS", url, pre("https://bob.example"))[0] == 200
assert send("OPTIONS", url, pre("https://alice.example", "GET"))[0] == 403
# the real requests get their signer's rules only
r = signed("GET", "/cbucket/o.txt", headers={"origin": "https://bob.example"}, ak=BAK, sk=BSK)
assert r[2].get("access-control-allow-origin") == "https://bob.example", r[2]
r = signed("GET", "/cbucket/o.txt", headers={"origin": "https://alice.example"}, ak=BAK, sk=BSK)
assert "access-control-allow-origin" not in r[2], r[2]
r = signed("GET", "/cbucket/o.txt", headers={"origin": "https://bob.example"})
assert "access-control-allow-origin" not in r[2], r[2]
# each owner reads back only their own rules
assert bob.get_bucket_cors(Bucket="cbucket")["CORSRules"][0]["AllowedOrigins"] == ["https://bob.example"]
c, _ = boto_code(bob.get_bucket_cors, Bucket="bbucket")
assert c == "NoSuchCORSConfiguration", c
"#,
    );
}

#[test]
fn a_version_id_acts_on_that_version_or_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let s = s3_server(&t);
    let (ak, sk) = s.s3_key("admin");
    py(
        &s,
        &ak,
        &sk,
        &[],
        r#"
s3.create_bucket(Bucket="ver")
put = lambda key, body: s3.put_object(Bucket="ver", Key=key, Body=body)["VersionId"]
get = lambda key, **kw: s3.get_object(Bucket="ver", Key=key, **kw)["Body"].read()
ids = lambda key: [v["VersionId"] for v in s3.list_object_versions(Bucket="ver", Prefix=key).get("Versions", [])]
v1, v2, v3 = put("v.txt", b"one"), put("v.txt", b"two"), put("v.txt", b"three")
# DeleteObject with a versionId removes exactly that version
r = s3.delete_object(Bucket="ver", Key="v.txt", VersionId=v1)
assert r["VersionId"] == v1, r
assert get("v.txt") == b"three" and ids("v.txt") == [v3, v2], ids("v.txt")
assert boto_code(s3.get_object, Bucket="ver", Key="v.txt", VersionId=v1) == ("NoSuchVersion", 404)
# the newest: the previous one becomes current
s3.delete_object(Bucket="ver", Key="v.txt", VersionId=v3)
assert get("v.txt") == b"two" and ids("v.txt") == [v2]
# unknown and "null" ids remove nothing (deletes are idempotent); malformed ones are refused
for vid in ("999", "null"):
    assert boto_code(s3.delete_object, Bucket="ver", Key="v.txt", VersionId=vid) == ("OK", 200)
for vid in ("abc", "0", "-1", "1.5"):
    assert boto_code(s3.delete_object, Bucket="ver", Key="v.txt", VersionId=vid) == ("InvalidArgument", 400), vid
    assert boto_code(s3.get_object, Bucket="ver", Key="v.txt", VersionId=vid) == ("InvalidArgument", 400), vid
    assert boto_code(s3.head_object, Bucket="ver", Key="v.txt", VersionId=vid)[1] == 400, vid
assert get("v.txt") == b"two" and ids("v.txt") == [v2], "nothing else was touched"
for vid in ("999", "null"):
    assert boto_code(s3.get_object, Bucket="ver", Key="v.txt", VersionId=vid) == ("NoSuchVersion", 404), vid
    assert boto_code(s3.head_object, Bucket="ver", Key="v.txt", VersionId=vid)[1] == 404, vid
# CopyObject from a source version copies that version
v4 = put("v.txt", b"four")
s3.copy_object(Bucket="ver", Key="copy.txt", CopySource={"Bucket": "ver", "Key": "v.txt", "VersionId": v2})
assert get("copy.txt") == b"two"
s3.copy_object(Bucket="ver", Key="copy.txt", CopySource={"Bucket": "ver", "Key": "v.txt"})
assert get("copy.txt") == b"four"
for vid, want in (("999", ("NoSuchVersion", 404)), ("abc", ("InvalidArgument", 400))):
    assert boto_code(s3.copy_object, Bucket="ver", Key="copy.txt",
                     CopySource={"Bucket": "ver", "Key": "v.txt", "VersionId": vid}) == want, vid
assert get("copy.txt") == b"four"
# UploadPartCopy from a source version copies that version
up = s3.create_multipart_upload(Bucket="ver", Key="mp.txt")["UploadId"]
p = s3.upload_part_copy(Bucket="ver", Key="mp.txt", UploadId=up, PartNumber=1,
                        CopySource={"Bucket": "ver", "Key": "v.txt", "VersionId": v2})
assert boto_code(s3.upload_part_copy, Bucket="ver", Key="mp.txt", UploadId=up, PartNumber=2,
                 CopySource={"Bucket": "ver", "Key": "v.txt", "VersionId": "999"}) == ("NoSuchVersion", 404)
assert boto_code(s3.upload_part_copy, Bucket="ver", Key="mp.txt", UploadId=up, PartNumber=2,
                 CopySource={"Bucket": "ver", "Key": "v.txt", "VersionId": "abc"}) == ("InvalidArgument", 400)
s3.complete_multipart_upload(Bucket="ver", Key="mp.txt", UploadId=up, MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": p["CopyPartResult"]["ETag"]}]})
assert get("mp.txt") == b"two"
# DeleteObjects entries with a VersionId remove exactly those versions
v5 = put("v.txt", b"five")
r = s3.delete_objects(Bucket="ver", Delete={"Objects": [{"Key": "v.txt", "VersionId": v4}, {"Key": "v.txt", "VersionId": "abc"}]})
assert [(d["Key"], d["VersionId"]) for d in r["Deleted"]] == [("v.txt", v4)], r
assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("v.txt", "InvalidArgument")], r
assert get("v.txt") == b"five" and ids("v.txt") == [v5, v2]
# a write never names a version: PUT ?versionId is refused and changes nothing
r = signed("PUT", "/ver/v.txt", [("versionId", v2)], body=b"overwrite?")
assert (r[0], code(r)) == (400, "InvalidArgument"), r
assert get("v.txt") == b"five" and get("v.txt", VersionId=v2) == b"two"
# a malformed version marker is refused, not read as "from the start"
assert boto_code(s3.list_object_versions, Bucket="ver", KeyMarker="v.txt", VersionIdMarker="abc") == ("InvalidArgument", 400)
# removing the last version removes the object
s3.delete_object(Bucket="ver", Key="v.txt", VersionId=v5)
s3.delete_object(Bucket="ver", Key="v.txt", VersionId=v2)
assert boto_code(s3.head_object, Bucket="ver", Key="v.txt")[1] == 404
assert get("copy.txt") == b"four" and get("mp.txt") == b"two", "other keys untouched"
"#,
    );
}

#[test]
fn copies_over_quota_are_refused_like_put_object() {
    let t = tempfile::tempdir().unwrap();
    let s = s3_server(&t);
    s.add_user("small", "small-password-1", &["--quota", "8M"]);
    let (ak, sk) = s.s3_key("small");
    py(
        &s,
        &ak,
        &sk,
        &[],
        r#"
s3.create_bucket(Bucket="quota")
s3.put_object(Bucket="quota", Key="src.bin", Body=b"s" * (3 << 20))
assert boto_code(s3.put_object, Bucket="quota", Key="big.bin", Body=b"b" * (6 << 20)) == ("QuotaExceeded", 403)
up = s3.create_multipart_upload(Bucket="quota", Key="mp.bin")["UploadId"]
src = {"Bucket": "quota", "Key": "src.bin"}
s3.upload_part_copy(Bucket="quota", Key="mp.bin", UploadId=up, PartNumber=1, CopySource=src)
# 3 MiB stored + 3 MiB staged + 3 MiB more > 8 MiB: the same answer as PutObject's
c = boto_code(s3.upload_part_copy, Bucket="quota", Key="mp.bin", UploadId=up, PartNumber=2, CopySource=src)
assert c == ("QuotaExceeded", 403), c
assert [p["PartNumber"] for p in s3.list_parts(Bucket="quota", Key="mp.bin", UploadId=up)["Parts"]] == [1]
s3.abort_multipart_upload(Bucket="quota", Key="mp.bin", UploadId=up)
# CopyObject shares chunks but counts against the quota like any write
s3.copy_object(Bucket="quota", Key="copy1.bin", CopySource=src)
assert boto_code(s3.copy_object, Bucket="quota", Key="copy2.bin", CopySource=src) == ("QuotaExceeded", 403)
assert boto_code(s3.head_object, Bucket="quota", Key="copy2.bin")[1] == 404, "nothing stored"
s3.copy_object(Bucket="quota", Key="copy1.bin", CopySource=src)  # replacing counts the difference
"#,
    );
}

#[test]
fn routine_refusals_log_no_errors_and_are_counted() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("server.log");
    let s = Server::start_logged(
        &t.path().join("data"),
        &["--s3-listen", "127.0.0.1:0"],
        "info",
        Some(std::fs::File::create(&log).unwrap()),
    );
    let (ak, sk) = s.s3_key("admin");
    py(
        &s,
        &ak,
        &sk,
        &[],
        r#"
s3.create_bucket(Bucket="quiet")
for i in range(5):
    assert send("GET", f"/quiet/k{i}")[0] == 403, "unsigned"
assert signed("GET", "/quiet", sk="wrong-secret")[0] == 403, "bad signature"
assert signed("GET", "/quiet", ak="AKNOTAKEY")[0] == 403, "unknown key"
assert boto_code(s3.get_bucket_website, Bucket="quiet")[0] == "NotImplemented"
bad = b"<Delete><Object><Key>k</Key></Object"
assert code(signed("POST", "/quiet", [("delete", "")], md5h(bad), bad)) == "MalformedXML"
"#,
    );
    let m = common::scrape_as_admin(&s, "/metrics");
    let text = String::from_utf8_lossy(&m.body);
    let refused = sample(
        &text,
        "silent_nas_audit_events_total{door=\"s3\",kind=\"auth_failure\"}",
    );
    assert!(
        refused.is_some_and(|n| n >= 7.0),
        "refusals counted: {refused:?}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    let errors: Vec<&str> = logged.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.is_empty(),
        "routine refusals logged as errors:\n{}",
        errors.join("\n")
    );
}

#[test]
fn object_metadata_is_held_to_aws_limits() {
    let t = tempfile::tempdir().unwrap();
    let s = s3_server(&t);
    let (ak, sk) = s.s3_key("admin");
    py(
        &s,
        &ak,
        &sk,
        &[],
        r#"
s3.create_bucket(Bucket="meta")
s3.put_object(Bucket="meta", Key="ok", Body=b"x", Metadata={"k": "v" * 2000})
assert s3.head_object(Bucket="meta", Key="ok")["Metadata"]["k"] == "v" * 2000
big = {"k": "v" * 2100}
for fn, kw in [
    (s3.put_object, dict(Bucket="meta", Key="a", Body=b"x", Metadata=big)),
    (s3.put_object, dict(Bucket="meta", Key="a", Body=b"x", CacheControl="c" * 9000)),
    (s3.create_multipart_upload, dict(Bucket="meta", Key="a", Metadata=big)),
    (s3.copy_object, dict(Bucket="meta", Key="a", CopySource="meta/ok", MetadataDirective="REPLACE", Metadata=big)),
]:
    assert boto_code(fn, **kw) == ("MetadataTooLarge", 400), fn.__name__
assert [o["Key"] for o in s3.list_objects_v2(Bucket="meta")["Contents"]] == ["ok"], "nothing stored"
assert "Uploads" not in s3.list_multipart_uploads(Bucket="meta")
"#,
    );
}
