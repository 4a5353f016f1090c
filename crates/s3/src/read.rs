//! Reading objects: GET and HEAD (ranges, `versionId`, `partNumber`, preconditions,
//! checksums with `x-amz-checksum-mode`), every chunk verified by the engine as it is read.
//!
//! Ranges follow the one rule of all doors (`nas_types::RangeRequest`, single-range
//! form, as AWS): one range is served with 206, an unsatisfiable one is 416, and a header
//! with several ranges, more than 200, or a malformed one is ignored — the whole object
//! with 200. s3s parses only single ranges (anything else is its 400), so
//! [`normalize_range`] rewrites the header before s3s sees it — unless the client signed
//! the `Range` header (SigV4 `SignedHeaders`), whose value cannot change without breaking
//! the signature: then s3s's 400 stands (never more bytes than the object either way).

use crate::checksums;
use crate::conditions::check_read;
use crate::keys::{blocking, bucket_path, object_path, s3_err};
use crate::objects::{PARTS_KEY, Standard, etag_of, user_metadata};
use crate::service::{NasS3, is_bucket, timestamp};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use nas_engine::{AsyncHome, Entry, Home, Located, NodeKind, VersionRecord};
use nas_types::{ByteRange, RangeRequest, RangeSpec, TrashId};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

/// A GET or HEAD answer: the fields both outputs share, from the entry and the answer,
/// plus the output's own.
macro_rules! read_output {
    ($ty:ident, $e:expr, $a:expr, { $($own:tt)* }) => {{
        let (e, a) = ($e, $a);
        let c = a.checksum;
        let lock = crate::object_retention::view(&e.lock);
        $ty {
            $($own)*
            object_lock_mode: lock.mode,
            object_lock_retain_until_date: lock.until,
            object_lock_legal_hold_status: lock.legal_hold,
            content_length: Some(a.range.len() as i64),
            content_range: a.content_range,
            parts_count: a.parts_count,
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag_of(&e)),
            last_modified: Some(timestamp(e.mtime_ns)),
            version_id: e.version.map(|v| v.to_string()),
            content_type: e.attrs.content_type.clone().and_then(|c| c.parse().ok()),
            expires: a.std.expires_at(),
            cache_control: a.std.cache_control,
            content_disposition: a.std.content_disposition,
            content_encoding: a.std.content_encoding,
            content_language: a.std.content_language,
            checksum_crc32: c.checksum_crc32,
            checksum_crc32c: c.checksum_crc32c,
            checksum_crc64nvme: c.checksum_crc64nvme,
            checksum_sha1: c.checksum_sha1,
            checksum_sha256: c.checksum_sha256,
            checksum_type: c.checksum_type,
            metadata: user_metadata(&e),
            ..Default::default()
        }
    }};
}

/// The file object `bucket`/`key` names (`NoSuchKey` for folders and missing keys).
/// The bucket and the key are index reads, made inline as the WebDAV door's open does (a
/// WAL reader never waits for a writer): a trip to the blocking pool for them cost more
/// than the reads.
pub(crate) async fn file_entry(req_home: &Home, bucket: &str, key: &str) -> S3Result<Entry> {
    let b = bucket_path(bucket)?;
    if !is_bucket(req_home, &b).map_err(s3_err)? {
        return Err(s3_error!(NoSuchBucket));
    }
    if key.ends_with('/') {
        return Err(s3_error!(NoSuchKey));
    }
    let e = req_home.stat(&object_path(bucket, key)?).map_err(s3_err)?;
    if e.kind != NodeKind::File {
        return Err(s3_error!(NoSuchKey));
    }
    Ok(e)
}

/// The entry `v` describes: a version of the file `e`, or of a file in the trash.
fn entry_of(id: nas_types::NodeId, path: nas_types::NasPath, v: VersionRecord) -> Entry {
    Entry {
        id,
        path,
        kind: NodeKind::File,
        size: v.size,
        mtime_ns: v.mtime_ns,
        version: Some(v.num),
        hash: Some(v.hash),
        attrs: v.attrs,
        lock: v.lock,
    }
}

/// What a GET or HEAD names (`found`: the file at the key now, or why there is none), as
/// S3 answers it. Without a version id: the current version, or 404 `NoSuchKey` with
/// `x-amz-delete-marker` when the key's current state is a delete marker. A marker's id:
/// 405 `MethodNotAllowed` with `x-amz-delete-marker`. A version id: that version of the
/// key's history (`Home::locate_version`) — of the file there now, or of a deleted one
/// behind a delete marker (then the trash entry to read it from comes too).
async fn resolve(
    home: &Home,
    bucket: &str,
    key: &str,
    id: Option<&str>,
    found: S3Result<Entry>,
) -> S3Result<(Entry, Option<TrashId>)> {
    use crate::markers::{self, Vid};
    let vid = id.map(markers::parse).transpose()?;
    let missing = match &found {
        Ok(_) => false,
        Err(e) if *e.code() == S3ErrorCode::NoSuchKey && !key.ends_with('/') => true,
        Err(_) => return found.map(|e| (e, None)), // no bucket, a folder's key
    };
    let p = object_path(bucket, key)?;
    let h = home.clone();
    match vid {
        None if !missing => found.map(|e| (e, None)),
        None => match blocking(move || markers::current(&h, &p)).await? {
            Some(t) => Err(markers::no_such_key(&t)),
            None => found.map(|e| (e, None)),
        },
        Some(Vid::Marker(m)) => match blocking(move || markers::named(&h, &p, m)).await? {
            Some(t) => Err(markers::not_allowed(&t)),
            None => Err(crate::version_id::no_such_version(id.unwrap_or(""))),
        },
        Some(Vid::Version(None)) => Err(crate::version_id::no_such_version("null")),
        Some(Vid::Version(Some(num))) => {
            let p2 = p.clone();
            match blocking(move || h.locate_version(&p2, num)).await? {
                Some(Located::Live(v)) => match found {
                    Ok(e) => Ok((entry_of(e.id, e.path, v), None)),
                    Err(e) => Err(e), // the file went meanwhile
                },
                Some(Located::Trashed(t, v)) => Ok((entry_of(t.node, p, v), Some(t.id))),
                // a key never written (nor deleted) is no key; one with a history
                // lacks that version
                None if missing => {
                    let h = home.clone();
                    match blocking(move || markers::current(&h, &p)).await? {
                        Some(_) => Err(crate::version_id::no_such_version(id.unwrap_or(""))),
                        None => found.map(|e| (e, None)),
                    }
                }
                None => Err(crate::version_id::no_such_version(id.unwrap_or(""))),
            }
        }
    }
}

/// The version a request names by key and `versionId`, as GET answers it (`resolve`):
/// the current one without an id, else that version of the key's history, also behind a
/// delete marker (then with the trash entry it is in). Tagging, ACL, object lock and
/// attribute calls act on exactly this version.
pub(crate) async fn named_version(
    home: &Home,
    bucket: &str,
    key: &str,
    id: Option<&str>,
) -> S3Result<(Entry, Option<TrashId>)> {
    let found = file_entry(home, bucket, key).await;
    resolve(home, bucket, key, id, found).await
}

/// The file a GET or HEAD names, at the version asked for, once its preconditions hold
/// (both inputs have the same fields), and the trash entry it is read from if deleted.
macro_rules! readable {
    ($home:expr, $input:expr) => {{
        let e = file_entry($home, &$input.bucket, &$input.key).await;
        let (e, trashed) = resolve(
            $home,
            &$input.bucket,
            &$input.key,
            $input.version_id.as_deref(),
            e,
        )
        .await?;
        check_read(
            etag_of(&e).value(),
            e.mtime_ns,
            $input.if_match.as_ref(),
            $input.if_none_match.as_ref(),
            $input.if_modified_since.as_ref(),
            $input.if_unmodified_since.as_ref(),
        )
        .map_err(|err| crate::conditions::not_modified_headers(err, &etag_of(&e), e.mtime_ns))?;
        (e, trashed)
    }};
}

/// An anonymous read serves only a version its grants cover (checked on the very
/// version served: it may have changed since the owner was found).
fn public_may_read(public: Option<&crate::public::Settings>, e: &Entry) -> S3Result<()> {
    match public {
        Some(s) if !s.may_read(&e.attrs) => Err(crate::public::denied()),
        _ => Ok(()),
    }
}

/// Sizes of the parts a multipart object was assembled from (one part for others).
fn part_sizes(e: &Entry) -> Vec<u64> {
    match e.attrs.user.get(PARTS_KEY) {
        Some(list) => list.split(',').filter_map(|s| s.parse().ok()).collect(),
        None => vec![e.size],
    }
}

/// The byte range of part `n` (1-based) and the number of parts.
fn part_range(e: &Entry, n: i32) -> S3Result<(ByteRange, usize)> {
    let sizes = part_sizes(e);
    let idx = usize::try_from(n)
        .ok()
        .filter(|i| (1..=sizes.len()).contains(i));
    let Some(idx) = idx else {
        let mut err = S3Error::with_message(
            S3ErrorCode::Custom("InvalidPartNumber".into()),
            "the requested part number is not satisfiable",
        );
        err.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        return Err(err);
    };
    let start: u64 = sizes[..idx - 1].iter().sum();
    Ok((
        ByteRange {
            start,
            end: start + sizes[idx - 1],
        },
        sizes.len(),
    ))
}

/// Applies the single-range rule to a request's `Range` before s3s parses it (see the
/// module doc): an ignored or multi-range header is removed, a single one is written in
/// the form s3s reads; a signed `Range` header is left alone.
pub(crate) fn normalize_range(headers: &mut HeaderMap, query: Option<&str>) {
    let Some(raw) = headers.get(header::RANGE) else {
        return;
    };
    if range_is_signed(headers, query) {
        return;
    }
    let single = raw
        .to_str()
        .ok()
        .and_then(RangeRequest::parse)
        .and_then(|r| match r.specs() {
            [RangeSpec::FromTo(a, b)] => Some(format!("bytes={a}-{b}")),
            [RangeSpec::From(a)] => Some(format!("bytes={a}-")),
            [RangeSpec::Suffix(n)] => Some(format!("bytes=-{n}")),
            _ => None, // several ranges: the whole object (RangePlan::Whole)
        });
    match single.and_then(|v| HeaderValue::from_str(&v).ok()) {
        Some(v) => {
            headers.insert(header::RANGE, v);
        }
        None => {
            headers.remove(header::RANGE);
        }
    }
}

/// Whether a SigV4 signature (header or presigned query) covers the `Range` header.
fn range_is_signed(headers: &HeaderMap, query: Option<&str>) -> bool {
    let listed = |list: &str| {
        list.split(';')
            .any(|h| h.trim().eq_ignore_ascii_case("range"))
    };
    let in_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split_once("SignedHeaders="))
        .is_some_and(|(_, rest)| listed(rest.split([',', ' ']).next().unwrap_or("")));
    let in_query = query.unwrap_or("").split('&').any(|kv| {
        kv.split_once('=').is_some_and(|(k, v)| {
            k.eq_ignore_ascii_case("X-Amz-SignedHeaders")
                && listed(&v.replace("%3B", ";").replace("%3b", ";"))
        })
    });
    in_header || in_query
}

/// What a GET or HEAD answers with besides the body: range, headers, checksums.
struct Answer {
    range: ByteRange,
    content_range: Option<String>,
    parts_count: Option<i32>,
    std: Standard,
    checksum: Checksum,
}

fn answer(
    e: &Entry,
    range: Option<&Range>,
    part: Option<i32>,
    checksum_mode: Option<&ChecksumMode>,
) -> S3Result<Answer> {
    let (range, content_range, parts_count) = match (range, part) {
        (Some(_), Some(_)) => {
            return Err(s3_error!(
                InvalidRequest,
                "Range and partNumber cannot be used together"
            ));
        }
        (Some(r), None) => {
            let spec = match *r {
                Range::Int { first, last: None } => RangeSpec::From(first),
                Range::Int {
                    first,
                    last: Some(last),
                } => RangeSpec::FromTo(first, last),
                Range::Suffix { length } => RangeSpec::Suffix(length),
            };
            let rr = spec
                .resolve(e.size)
                .ok_or_else(|| s3_error!(InvalidRange))?;
            let cr = format!("bytes {}-{}/{}", rr.start, rr.end.saturating_sub(1), e.size);
            (rr, Some(cr), None)
        }
        (None, Some(n)) => {
            let (r, count) = part_range(e, n)?;
            let cr = (count > 1 && !r.is_empty())
                .then(|| format!("bytes {}-{}/{}", r.start, r.end - 1, e.size));
            (r, cr, Some(count as i32))
        }
        (None, None) => (ByteRange::full(e.size), None, None),
    };
    let full = range.len() == e.size;
    let checksum = if checksum_mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED) && full {
        checksums::from_attrs(&e.attrs.user)
    } else {
        Checksum::default()
    };
    Ok(Answer {
        range,
        content_range,
        parts_count,
        std: Standard::of(e),
        checksum,
    })
}

pub async fn get(
    s3: &NasS3,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let versioned = req.input.version_id.is_some();
    let r = s3
        .reader(&req, &req.input.bucket, Some(&req.input.key), versioned)
        .await?;
    let home = r.home;
    let input = req.input;
    let (e, trashed) = readable!(&home, input);
    public_may_read(r.public.as_ref(), &e)?;
    let a = answer(
        &e,
        input.range.as_ref(),
        input.part_number,
        input.checksum_mode.as_ref(),
    )?;
    let h = AsyncHome::new(home);
    let (_, rx) = match trashed {
        None => h.read(e.path.clone(), e.version, Some(a.range)).await,
        Some(t) => h.read_trashed(t, e.version, Some(a.range)).await,
    }
    .map_err(s3_err)?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await? {
            Ok(buf) => Some((Ok::<_, std::io::Error>(Bytes::from(buf)), rx)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), rx)),
        }
    });
    let tag_count = crate::tagging::count(&e.attrs);
    Ok(S3Response::new(read_output!(GetObjectOutput, e, a, {
        body: Some(StreamingBlob::wrap(stream)),
        tag_count,
    })))
}

pub async fn head(
    s3: &NasS3,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let versioned = req.input.version_id.is_some();
    let r = s3
        .reader(&req, &req.input.bucket, Some(&req.input.key), versioned)
        .await?;
    let home = r.home;
    let input = req.input;
    let (e, _) = readable!(&home, input);
    public_may_read(r.public.as_ref(), &e)?;
    let a = answer(
        &e,
        input.range.as_ref(),
        input.part_number,
        input.checksum_mode.as_ref(),
    )?;
    let tag_count = crate::tagging::count(&e.attrs);
    let mut resp = S3Response::new(read_output!(HeadObjectOutput, e, a, {}));
    // not in HeadObject's model, but AWS sends it and clients read it
    if let Some(n) = tag_count {
        resp.headers
            .insert("x-amz-tagging-count", HeaderValue::from(n));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(range: &str, auth: Option<&str>, query: Option<&str>) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        normalize_range(&mut h, query);
        h.get(header::RANGE).map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn ranges_are_normalized_unless_signed() {
        assert_eq!(
            normalized("bytes=1-2", None, None).as_deref(),
            Some("bytes=1-2")
        );
        assert_eq!(
            normalized("bytes = 5-", None, None).as_deref(),
            Some("bytes=5-")
        );
        assert_eq!(
            normalized("bytes=-3", None, None).as_deref(),
            Some("bytes=-3")
        );
        assert_eq!(normalized("bytes=0-1,5-6", None, None), None);
        assert_eq!(normalized("bytes=x", None, None), None);
        let sig =
            "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;range;x-amz-date, Signature=c";
        assert_eq!(
            normalized("bytes=0-1,5-6", Some(sig), None).as_deref(),
            Some("bytes=0-1,5-6")
        );
        let unsigned =
            "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;x-amz-date, Signature=c";
        assert_eq!(normalized("bytes=0-1,5-6", Some(unsigned), None), None);
        assert_eq!(
            normalized(
                "bytes=0-1,5-6",
                None,
                Some("X-Amz-SignedHeaders=host%3Brange")
            )
            .as_deref(),
            Some("bytes=0-1,5-6")
        );
    }
}
