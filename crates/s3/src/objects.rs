//! Object operations: PUT (streamed through the engine's write pipeline, MD5 computed on
//! the way for the S3 ETag), GET/HEAD (ranges, verified reads), DELETE (to the trash),
//! COPY (shares chunks: no data copied).

use crate::checksums::{self, Claims};
use crate::conditions::{check_read, check_write};
use crate::keys::{blocking, object_path, s3_err};
use crate::service::{NasS3, need_bucket, timestamp};
use crate::upload::{QuotaBase, Target, drain, receive};
use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use nas_engine::{AsyncHome, EngineError, Entry, Expect, FileAttrs, Home, NodeKind};
use nas_types::{ByteRange, ContentHash};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;

/// User-metadata key under which the MD5 of the content is kept (the S3 ETag). Keys with
/// the `s3:` prefix are reserved and never returned as `x-amz-meta-*`.
pub const MD5_KEY: &str = "s3:md5";

/// User-metadata key listing the part sizes of an object assembled by a multipart upload.
pub const PARTS_KEY: &str = "s3:parts";

/// The ETag listings show (the same as GET's).
pub fn etag_for_list(e: &Entry) -> ETag {
    etag_of(e)
}

fn etag_of(e: &Entry) -> ETag {
    etag_of_version(&e.attrs, e.hash.as_ref())
}

/// The ETag of a version: the MD5 S3 computed when it was written, or (for content
/// written by another door) the first 128 bits of its BLAKE3.
pub fn etag_of_version(attrs: &FileAttrs, hash: Option<&ContentHash>) -> ETag {
    match attrs.user.get(MD5_KEY) {
        Some(m) => ETag::Strong(m.clone()),
        None => ETag::Strong(
            hash.map(|h| h.to_hex()[..32].to_owned())
                .unwrap_or_default(),
        ),
    }
}

fn user_metadata(e: &Entry) -> Option<Metadata> {
    let m: Metadata = e
        .attrs
        .user
        .iter()
        .filter(|(k, _)| !k.starts_with("s3:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!m.is_empty()).then_some(m)
}

/// Standard headers kept with an object, under reserved `s3:` keys.
const STANDARD: [&str; 4] = [
    "s3:cache-control",
    "s3:content-disposition",
    "s3:content-encoding",
    "s3:content-language",
];

/// The headers S3 stores with an object besides its type and `x-amz-meta-*`.
#[derive(Debug, Default, Clone)]
pub struct Standard {
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
}

impl Standard {
    fn values(&self) -> [&Option<String>; 4] {
        [
            &self.cache_control,
            &self.content_disposition,
            &self.content_encoding,
            &self.content_language,
        ]
    }

    pub fn of(e: &Entry) -> Standard {
        let get = |i: usize| e.attrs.user.get(STANDARD[i]).cloned();
        Standard {
            cache_control: get(0),
            content_disposition: get(1),
            content_encoding: get(2),
            content_language: get(3),
        }
    }
}

/// The attributes of a new object: its type, standard headers and user metadata (keys
/// under the reserved `s3:` prefix are dropped).
pub fn object_attrs(
    content_type: Option<String>,
    std: &Standard,
    metadata: Option<Metadata>,
) -> FileAttrs {
    let mut user: BTreeMap<String, String> = metadata.unwrap_or_default().into_iter().collect();
    user.retain(|k, _| !k.starts_with("s3:"));
    for (k, v) in STANDARD.iter().zip(std.values()) {
        if let Some(v) = v {
            user.insert((*k).to_owned(), v.clone());
        }
    }
    FileAttrs { content_type, user }
}

/// PutObject.
pub async fn put(
    s3: &NasS3,
    mut req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let mut body = req.input.body.take();
    let r = put_body(s3, req, &mut body).await;
    if r.is_err() {
        drain(&mut body).await;
    }
    r
}

async fn put_body(
    s3: &NasS3,
    req: S3Request<PutObjectInput>,
    body: &mut Option<StreamingBlob>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let (home, who) = s3.writer(&req).await?;
    let trailers = req.trailing_headers.clone();
    let headers = req.headers;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let path = object_path(&input.bucket, &input.key)?;
    if input.key.ends_with('/') {
        // a "folder" marker: the folder itself
        if let Some(b) = body.as_mut() {
            while let Some(chunk) = b.next().await {
                if !chunk.map_err(|_| s3_error!(IncompleteBody))?.is_empty() {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        "a key ending in '/' names a folder and takes no data",
                    ));
                }
            }
        }
        let h = home.clone();
        blocking(move || h.mkdir_all(&path)).await?;
        return Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(hex::encode(Md5::digest(b"")))),
            ..Default::default()
        }));
    }
    let mut expect = None;
    if input.if_match.is_some() || input.if_none_match.is_some() {
        // checked now (a refused upload sends no data), then again atomically with the
        // commit: the version seen here must still be the current one
        let (h, p) = (home.clone(), path.clone());
        let current = tokio::task::spawn_blocking(move || h.stat(&p))
            .await
            .map_err(|_| s3_error!(InternalError))?;
        let current = match current {
            Ok(e) if e.kind == NodeKind::File => Some(e),
            Ok(_) | Err(EngineError::NotFound(_)) => None,
            Err(e) => return Err(s3_err(e)),
        };
        check_write(
            current
                .as_ref()
                .map(|e| etag_of(e).value().to_owned())
                .as_deref(),
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;
        expect = Some(match current.and_then(|e| e.version) {
            Some(v) => Expect::Head(v),
            None => Expect::Absent,
        });
    }
    let claims = Claims::from_request(
        &headers,
        input.content_md5.clone(),
        Checksum {
            checksum_crc32: input.checksum_crc32.clone(),
            checksum_crc32c: input.checksum_crc32c.clone(),
            checksum_crc64nvme: input.checksum_crc64nvme.clone(),
            checksum_sha1: input.checksum_sha1.clone(),
            checksum_sha256: input.checksum_sha256.clone(),
            ..Default::default()
        },
    )?;
    let quota = who.quota.map(|q| {
        let (h, p) = (home.clone(), path.clone());
        let base: QuotaBase = Box::new(move || {
            Ok(h.used_bytes()?
                .saturating_sub(h.stat(&p).map(|e| e.size).unwrap_or(0)))
        });
        (q, base)
    });
    let std = Standard {
        cache_control: input.cache_control.clone(),
        content_disposition: input.content_disposition.clone(),
        content_encoding: input.content_encoding.clone(),
        content_language: input.content_language.clone(),
    };
    let mut attrs = object_attrs(
        input.content_type.as_ref().map(|c| c.to_string()),
        &std,
        input.metadata.clone(),
    );
    let target = Target {
        home,
        path,
        mkdirs: true,
        quota,
        expect,
    };
    let got = receive(target, body, &claims, trailers, |md5, sums| {
        attrs.user.insert(MD5_KEY.into(), md5.to_owned());
        checksums::to_attrs(sums, &mut attrs.user);
        attrs
    })
    .await?;
    let c = got.checksum;
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(ETag::Strong(got.md5_hex)),
        version_id: got.entry.version.map(|v| v.to_string()),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_crc64nvme: c.checksum_crc64nvme,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        ..Default::default()
    }))
}

async fn file_entry(
    s3: &NasS3,
    req_home: &nas_engine::Home,
    bucket: &str,
    key: &str,
) -> S3Result<Entry> {
    let _ = s3;
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
    let Some(id) = id.filter(|v| *v != "null") else {
        return Ok(e);
    };
    let num: u64 = id
        .parse()
        .map_err(|_| s3_error!(NoSuchVersion, "no such version"))?;
    let (h, p) = (home.clone(), e.path.clone());
    let all = blocking(move || h.versions(&p)).await?;
    let v = all
        .into_iter()
        .find(|v| v.num.0 == num)
        .ok_or_else(|| s3_error!(NoSuchVersion, "no such version"))?;
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
    ($s3:expr, $home:expr, $input:expr) => {{
        let e = file_entry($s3, $home, &$input.bucket, &$input.key).await?;
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
    let e = readable!(s3, &home, input);
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
    let c = a.checksum;
    Ok(S3Response::new(GetObjectOutput {
        body: Some(StreamingBlob::wrap(stream)),
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
    }))
}

pub async fn head(
    s3: &NasS3,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    let e = readable!(s3, &home, input);
    let a = answer(
        &e,
        input.range.as_ref(),
        input.part_number,
        input.checksum_mode.as_ref(),
    )?;
    let c = a.checksum;
    Ok(S3Response::new(HeadObjectOutput {
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
    }))
}

pub async fn delete(
    s3: &NasS3,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let p = object_path(&input.bucket, &input.key)?;
    // S3 semantics: deleting a missing key succeeds
    blocking(move || match home.delete(&p) {
        Ok(_) | Err(EngineError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    })
    .await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub async fn copy(
    s3: &NasS3,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    let CopySource::Bucket {
        bucket: sb,
        key: sk,
        ..
    } = &input.copy_source
    else {
        return Err(s3_error!(
            NotImplemented,
            "access point copy sources are not supported"
        ));
    };
    file_entry(s3, &home, sb, sk).await?;
    need_bucket(&home, &input.bucket).await?;
    let from = object_path(sb, sk)?;
    let to = object_path(&input.bucket, &input.key)?;
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    let new_attrs = replace.then(|| {
        let mut user: BTreeMap<String, String> = input
            .metadata
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        user.retain(|k, _| !k.starts_with("s3:"));
        FileAttrs {
            content_type: input.content_type.as_ref().map(|c| c.to_string()),
            user,
        }
    });
    let h = home.clone();
    let e = blocking(move || {
        if let Some(parent) = to.parent() {
            h.mkdir_all(&parent)?;
        }
        if from != to {
            h.copy(&from, &to, true)?;
        }
        if let Some(mut attrs) = new_attrs {
            if let Some(md5) = h.stat(&to)?.attrs.user.get(MD5_KEY) {
                attrs.user.insert(MD5_KEY.into(), md5.clone());
            }
            h.set_attrs(&to, &attrs)?;
        }
        h.stat(&to)
    })
    .await?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag_of(&e)),
            last_modified: Some(timestamp(e.mtime_ns)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

pub async fn delete_many(
    s3: &NasS3,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for obj in input.delete.objects {
        let key = obj.key.clone();
        let result = match object_path(&input.bucket, &key) {
            Ok(p) => {
                let h = home.clone();
                blocking(move || match h.delete(&p) {
                    Ok(_) | Err(EngineError::NotFound(_)) => Ok(()),
                    Err(e) => Err(e),
                })
                .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) if !quiet => deleted.push(DeletedObject {
                key: Some(key),
                ..Default::default()
            }),
            Ok(()) => {}
            Err(e) => errors.push(Error {
                key: Some(key),
                code: Some(e.code().as_str().to_owned()),
                message: e.message().map(str::to_owned),
                ..Default::default()
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: if errors.is_empty() {
            None
        } else {
            Some(errors)
        },
        ..Default::default()
    }))
}
