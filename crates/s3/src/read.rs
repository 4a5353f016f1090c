//! Reading objects: GET and HEAD (ranges, `versionId`, `partNumber`, preconditions,
//! checksums with `x-amz-checksum-mode`), every chunk verified by the engine as it is read.

use crate::checksums;
use crate::conditions::check_read;
use crate::keys::{blocking, object_path, s3_err};
use crate::objects::{PARTS_KEY, Standard, etag_of, user_metadata};
use crate::service::{NasS3, need_bucket, timestamp};
use bytes::Bytes;
use nas_engine::{AsyncHome, Entry, Home, NodeKind};
use nas_types::ByteRange;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

/// A GET or HEAD answer: the fields both outputs share, from the entry and the answer,
/// plus the output's own.
macro_rules! read_output {
    ($ty:ident, $e:expr, $a:expr, { $($own:tt)* }) => {{
        let (e, a) = ($e, $a);
        let c = a.checksum;
        $ty {
            $($own)*
            content_length: Some(a.range.len() as i64),
            content_range: a.content_range,
            parts_count: a.parts_count,
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag_of(&e)),
            last_modified: Some(timestamp(e.mtime_ns)),
            version_id: e.version.map(|v| v.to_string()),
            content_type: e.attrs.content_type.clone().and_then(|c| c.parse().ok()),
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
pub(crate) async fn file_entry(req_home: &Home, bucket: &str, key: &str) -> S3Result<Entry> {
    need_bucket(req_home, bucket).await?;
    if key.ends_with('/') {
        return Err(s3_error!(NoSuchKey));
    }
    let p = object_path(bucket, key)?;
    let h = req_home.clone();
    let e = blocking(move || h.stat(&p)).await?;
    if e.kind != NodeKind::File {
        return Err(s3_error!(NoSuchKey));
    }
    Ok(e)
}

/// Version `id` of the object `e` (its current version when `id` is `None`). Version ids
/// are the engine's version numbers.
async fn at_version(home: &Home, mut e: Entry, id: Option<&str>) -> S3Result<Entry> {
    let Some(id) = id else {
        return Ok(e);
    };
    let num = crate::version_id::existing(id)?;
    let (h, p) = (home.clone(), e.path.clone());
    let all = blocking(move || h.versions(&p)).await?;
    let v = all
        .into_iter()
        .find(|v| v.num == num)
        .ok_or_else(|| crate::version_id::no_such_version(id))?;
    e.version = Some(v.num);
    e.size = v.size;
    e.mtime_ns = v.mtime_ns;
    e.hash = Some(v.hash);
    e.attrs = v.attrs;
    Ok(e)
}

/// The file a GET or HEAD names, at the version asked for, once its preconditions hold
/// (both inputs have the same fields).
macro_rules! readable {
    ($home:expr, $input:expr) => {{
        let e = file_entry($home, &$input.bucket, &$input.key).await?;
        let e = at_version($home, e, $input.version_id.as_deref()).await?;
        check_read(
            etag_of(&e).value(),
            e.mtime_ns,
            $input.if_match.as_ref(),
            $input.if_none_match.as_ref(),
            $input.if_modified_since.as_ref(),
            $input.if_unmodified_since.as_ref(),
        )?;
        e
    }};
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
            let rr = r.check(e.size).map_err(|_| s3_error!(InvalidRange))?;
            let cr = format!("bytes {}-{}/{}", rr.start, rr.end.saturating_sub(1), e.size);
            (
                ByteRange {
                    start: rr.start,
                    end: rr.end,
                },
                Some(cr),
                None,
            )
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
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    let e = readable!(&home, input);
    let a = answer(
        &e,
        input.range.as_ref(),
        input.part_number,
        input.checksum_mode.as_ref(),
    )?;
    let (_, rx) = AsyncHome::new(home)
        .read(e.path.clone(), e.version, Some(a.range))
        .await
        .map_err(s3_err)?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await? {
            Ok(buf) => Some((Ok::<_, std::io::Error>(Bytes::from(buf)), rx)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), rx)),
        }
    });
    Ok(S3Response::new(read_output!(GetObjectOutput, e, a, {
        body: Some(StreamingBlob::wrap(stream)),
    })))
}

pub async fn head(
    s3: &NasS3,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    let e = readable!(&home, input);
    let a = answer(
        &e,
        input.range.as_ref(),
        input.part_number,
        input.checksum_mode.as_ref(),
    )?;
    Ok(S3Response::new(read_output!(HeadObjectOutput, e, a, {})))
}
