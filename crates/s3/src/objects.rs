//! Object operations: PUT (streamed through the engine's write pipeline, MD5 computed on
//! the way for the S3 ETag), COPY (shares chunks: no data copied),
//! and the attributes an object keeps. GET and HEAD: `read`; DELETE: `delete`.

use crate::checksums::{self, Claims};
use crate::conditions::{check_copy_source, check_write};
use crate::keys::{blocking, bucket_path, object_path, s3_err};
use crate::object_lock::LockHeaders;
use crate::read::file_entry;
use crate::service::{NasS3, need_bucket, timestamp};
use crate::upload::{Body, Target, receive};
use crate::{tagging, version_id};
use futures_util::StreamExt;
use nas_engine::{EngineError, Entry, Expect, FileAttrs, Located, NodeKind, WriteOptions};
use nas_md5::Md5;
use nas_types::ContentHash;
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

pub(crate) fn etag_of(e: &Entry) -> ETag {
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

pub(crate) fn user_metadata(e: &Entry) -> Option<Metadata> {
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
const STANDARD: [&str; 5] = [
    "s3:cache-control",
    "s3:content-disposition",
    "s3:content-encoding",
    "s3:content-language",
    "s3:expires",
];

/// The headers S3 stores with an object besides its type and `x-amz-meta-*`.
#[derive(Debug, Default, Clone)]
pub struct Standard {
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    /// `Expires`, as an HTTP date.
    pub expires: Option<String>,
}

/// An `Expires` value as stored (an HTTP date).
pub fn expires_text(t: Option<&Timestamp>) -> Option<String> {
    let mut out = Vec::new();
    t?.format(TimestampFormat::HttpDate, &mut out).ok()?;
    String::from_utf8(out).ok()
}

impl Standard {
    fn values(&self) -> [&Option<String>; 5] {
        [
            &self.cache_control,
            &self.content_disposition,
            &self.content_encoding,
            &self.content_language,
            &self.expires,
        ]
    }

    pub fn of(e: &Entry) -> Standard {
        let get = |i: usize| e.attrs.user.get(STANDARD[i]).cloned();
        Standard {
            cache_control: get(0),
            content_disposition: get(1),
            content_encoding: get(2),
            content_language: get(3),
            expires: get(4),
        }
    }

    /// The stored `Expires`, as a timestamp.
    pub fn expires_at(&self) -> Option<Timestamp> {
        Timestamp::parse(TimestampFormat::HttpDate, self.expires.as_deref()?).ok()
    }
}

/// Most bytes of user metadata (`x-amz-meta-*` keys and values) an object keeps: 2 KB,
/// as AWS.
pub const MAX_USER_METADATA: usize = 2 << 10;

/// Most bytes of everything an object keeps besides its data (type, standard headers,
/// user metadata): 8 KiB, AWS's limit on a request's headers.
pub const MAX_OBJECT_ATTRS: usize = 8 << 10;

/// Refuses attributes over [`MAX_USER_METADATA`] or [`MAX_OBJECT_ATTRS`] with
/// `MetadataTooLarge` (each version stores its own copy, and none counts against quota).
pub fn check_attrs(attrs: &FileAttrs) -> S3Result<()> {
    let size = |pred: &dyn Fn(&str) -> bool| -> usize {
        attrs
            .user
            .iter()
            .filter(|(k, _)| pred(k))
            .map(|(k, v)| k.len() + v.len())
            .sum()
    };
    let user = size(&|k| !k.starts_with("s3:"));
    let all = size(&|_| true) + attrs.content_type.as_ref().map_or(0, String::len);
    if user > MAX_USER_METADATA || all > MAX_OBJECT_ATTRS {
        return Err(S3Error::with_message(
            S3ErrorCode::MetadataTooLarge,
            format!(
                "Your metadata headers exceed the maximum allowed metadata size \
                 ({MAX_USER_METADATA} bytes of x-amz-meta-*, {MAX_OBJECT_ATTRS} in all)"
            ),
        ));
    }
    Ok(())
}

/// The attributes of a new object: its type, standard headers and user metadata (keys
/// under the reserved `s3:` prefix are dropped), within [`check_attrs`]'s limits.
pub fn object_attrs(
    content_type: Option<String>,
    std: &Standard,
    metadata: Option<Metadata>,
) -> S3Result<FileAttrs> {
    let mut user: BTreeMap<String, String> = metadata.unwrap_or_default().into_iter().collect();
    user.retain(|k, _| !k.starts_with("s3:"));
    for (k, v) in STANDARD.iter().zip(std.values()) {
        if let Some(v) = v {
            user.insert((*k).to_owned(), v.clone());
        }
    }
    let attrs = FileAttrs { content_type, user };
    check_attrs(&attrs)?;
    Ok(attrs)
}

/// PutObject.
pub async fn put(
    s3: &NasS3,
    mut req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let mut body = Body::new(req.input.body.take(), &req.headers);
    let r = put_body(s3, req, &mut body).await;
    if r.is_err() {
        body.settle().await;
    }
    r
}

async fn put_body(
    s3: &NasS3,
    req: S3Request<PutObjectInput>,
    body: &mut Body,
) -> S3Result<S3Response<PutObjectOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let trailers = req.trailing_headers.clone();
    let headers = req.headers;
    let input = req.input;
    let path = object_path(&input.bucket, &input.key)?;
    let conditional = input.if_match.is_some() || input.if_none_match.is_some();
    // A body that may be large is not read before its bucket is known to exist (a client
    // waiting on `Expect: 100-continue` then sends nothing); a small plain PUT checks the
    // bucket when it opens the file, one trip to the blocking pool instead of two.
    let small = input
        .content_length
        .is_some_and(|n| (0..=crate::upload::BLOCK as i64).contains(&n));
    let bucket_at_open = small && !conditional && !input.key.ends_with('/');
    if !bucket_at_open {
        need_bucket(&home, &input.bucket).await?;
    }
    if input.key.ends_with('/') {
        // a "folder" marker: the folder itself
        if let Some(b) = body.start().as_mut() {
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
        // an explicit folder: it stays when emptied
        blocking(move || h.keep_folder(&path)).await?;
        return Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(hex::encode(Md5::digest(b"")))),
            ..Default::default()
        }));
    }
    let mut expect = None;
    if conditional {
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
        checksums::claimed!(input),
    )?;
    let std = Standard {
        cache_control: input.cache_control.clone(),
        content_disposition: input.content_disposition.clone(),
        content_encoding: input.content_encoding.clone(),
        content_language: input.content_language.clone(),
        expires: expires_text(input.expires.as_ref()),
    };
    let mut attrs = object_attrs(
        input.content_type.as_ref().map(|c| c.to_string()),
        &std,
        input.metadata.clone(),
    )?;
    if let Some(t) = &input.tagging {
        tagging::set(&mut attrs, &tagging::from_header(t)?);
    }
    if let Some(a) = &input.acl {
        let s = crate::acl::bucket_settings(&home, &input.bucket).await?;
        if let Some(c) = crate::acl::requested(Some(a.as_str()), &s)? {
            c.set_in(&mut attrs);
        }
    }
    let target = Target {
        home: home.clone(),
        path,
        mkdirs: true,
        bucket: bucket_at_open
            .then(|| bucket_path(&input.bucket))
            .transpose()?,
        expect,
        lock: Some((
            input.bucket.clone(),
            LockHeaders::of(
                input.object_lock_mode.as_ref(),
                input.object_lock_retain_until_date.as_ref(),
                input.object_lock_legal_hold_status.as_ref(),
            ),
        )),
    };
    let got = receive(target, body.start(), &claims, trailers, |md5, sums| {
        attrs.user.insert(MD5_KEY.into(), md5.to_owned());
        checksums::to_attrs(sums, &mut attrs.user);
        attrs
    })
    .await
    .map_err(|e| match e.code() {
        // the bucket was checked: the key's folder went (emptied by a racing delete)
        S3ErrorCode::NoSuchKey => {
            let mut e = S3Error::with_message(
                S3ErrorCode::SlowDown,
                "the key's folder was removed while the object was written; retry",
            );
            e.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
            e
        }
        _ => e,
    })?;
    if let Some(num) = got.entry.version {
        let (h, b, p, a) = (
            home.clone(),
            input.bucket.clone(),
            got.entry.path.clone(),
            got.entry.attrs.clone(),
        );
        blocking(move || crate::versioning::after_write(&h, &b, &p, num, &a)).await?;
    }
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

pub async fn copy(
    s3: &NasS3,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    let source = version_id::copy_from(&input.copy_source)?;
    let (sb, sk, version_id) = (source.bucket, source.key, source.version_id);
    let (from, version) = (source.path, source.version);
    // the source: the version named — of the object there now, or one behind a delete
    // marker (its trash entry), as AWS copies any version by id — else the head
    // (NoSuchKey before anything else)
    let (located, src_etag, src_mtime) = match (version, version_id) {
        (Some(num), Some(id)) => {
            need_bucket(&home, sb).await?;
            let (h, p) = (home.clone(), from.clone());
            let found = blocking(move || h.locate_version(&p, num))
                .await?
                .ok_or_else(|| version_id::no_such_version(id))?;
            let v = match &found {
                Located::Live(v) | Located::Trashed(_, v) => v,
            };
            let (etag, mtime) = (etag_of_version(&v.attrs, Some(&v.hash)), v.mtime_ns);
            (Some(found), etag, mtime)
        }
        _ => {
            let head = file_entry(&home, sb, sk).await?;
            (None, etag_of(&head), head.mtime_ns)
        }
    };
    need_bucket(&home, &input.bucket).await?;
    check_copy_source(
        src_etag.value(),
        src_mtime,
        input.copy_source_if_match.as_ref(),
        input.copy_source_if_none_match.as_ref(),
        input.copy_source_if_modified_since.as_ref(),
        input.copy_source_if_unmodified_since.as_ref(),
    )?;
    let to = object_path(&input.bucket, &input.key)?;
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    if from == to && version.is_none() && !replace {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata, storage class, website redirect location \
             or encryption attributes.",
        ));
    }
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
    if let Some(a) = &new_attrs {
        check_attrs(a)?;
    }
    // the copy's ACL: the one asked for, else private (an ACL is not copied, as on AWS)
    let acl = match &input.acl {
        Some(a) => {
            let s = crate::acl::bucket_settings(&home, &input.bucket).await?;
            crate::acl::requested(Some(a.as_str()), &s)?
        }
        None => None,
    }
    .filter(|c| *c != crate::public::Canned::Private);
    let new_tags = match input.tagging_directive.as_ref().map(|d| d.as_str()) {
        Some(TaggingDirective::REPLACE) => Some(tagging::from_header(
            input.tagging.as_deref().unwrap_or_default(),
        )?),
        Some(TaggingDirective::COPY) | None => None,
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Unknown tagging directive: COPY or REPLACE",
            ));
        }
    };
    let (h, dest_bucket) = (home.clone(), input.bucket.clone());
    let lock_headers = LockHeaders::of(
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    );
    let e = blocking(move || {
        // the copy's lock headers, refused before anything is copied (without them the
        // engine gives the copy the destination bucket's default retention)
        let conf = if lock_headers.any() {
            crate::object_lock::bucket_lock(&h, &dest_bucket)?
        } else {
            None
        };
        let lock = match crate::object_lock::lock_for_write(
            conf.as_ref(),
            &lock_headers,
            nas_engine::now_ns(),
        ) {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(parent) = to.parent() {
            h.mkdir_all_implicit(&parent)?;
        }
        // the source (the version named, else its head) as the destination's new version,
        // with its attributes as asked and its lock, in one commit: the copy never exists
        // unlocked or with the source's metadata
        let src = match located {
            Some(Located::Trashed(t, v)) => h.trash_open(t.id, Some(v.num))?,
            _ => h.open(&from, version)?,
        };
        let mut attrs = match new_attrs {
            Some(mut a) => {
                // new metadata keeps the content's MD5 and, unless replaced too, its tags
                for k in [MD5_KEY, tagging::TAGS_KEY] {
                    if let Some(v) = src.version().attrs.user.get(k) {
                        a.user.insert(k.into(), v.clone());
                    }
                }
                a
            }
            None => src.version().attrs.clone(),
        };
        if let Some(t) = &new_tags {
            tagging::set(&mut attrs, t);
        }
        acl.unwrap_or_default().set_in(&mut attrs);
        let v = h.share(&to, &src)?.commit(WriteOptions {
            attrs,
            lock,
            author: src.version().author.clone(),
            ..Default::default()
        })?;
        drop(src);
        crate::versioning::after_write(&h, &dest_bucket, &to, v.num, &v.attrs)?;
        h.stat(&to).map(Ok)
    })
    .await??;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag_of(&e)),
            last_modified: Some(timestamp(e.mtime_ns)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}
