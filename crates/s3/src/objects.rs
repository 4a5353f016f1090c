//! Object operations: PUT (streamed through the engine's write pipeline, MD5 computed on
//! the way for the S3 ETag), GET/HEAD (ranges, verified reads), DELETE (to the trash),
//! COPY (shares chunks: no data copied).

use crate::conditions::{check_read, check_write};
use crate::keys::{blocking, object_path, s3_err};
use crate::service::{NasS3, need_bucket, timestamp};
use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use nas_engine::{AsyncHome, EngineError, Entry, FileAttrs, NodeKind, WriteOptions};
use nas_types::ByteRange;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;

/// User-metadata key under which the MD5 of the content is kept (the S3 ETag). Keys with
/// the `s3:` prefix are reserved and never returned as `x-amz-meta-*`.
const MD5_KEY: &str = "s3:md5";

/// The ETag listings show (the same as GET's).
pub fn etag_for_list(e: &Entry) -> ETag {
    etag_of(e)
}

fn etag_of(e: &Entry) -> ETag {
    match e.attrs.user.get(MD5_KEY) {
        Some(m) => ETag::Strong(m.clone()),
        None => ETag::Strong(
            e.hash
                .map(|h| h.to_hex()[..32].to_owned())
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

enum Part {
    Data(Bytes),
    End(FileAttrs),
}

/// PutObject. A refused request still has its body read (up to a bound), so the client's
/// next request on the same connection is not parsed from the middle of this one's body.
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
    if input.if_match.is_some() || input.if_none_match.is_some() {
        // checked when the upload starts (not atomically with its commit)
        let (h, p) = (home.clone(), path.clone());
        let current = tokio::task::spawn_blocking(move || h.stat(&p))
            .await
            .map_err(|_| s3_error!(InternalError))?;
        let tag = match current {
            Ok(e) if e.kind == NodeKind::File => Some(etag_of(&e).value().to_owned()),
            Ok(_) | Err(EngineError::NotFound(_)) => None,
            Err(e) => return Err(s3_err(e)),
        };
        check_write(
            tag.as_deref(),
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;
    }
    let quota = who.quota;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Part>(4);
    let (h, p) = (home.clone(), path.clone());
    let writer = tokio::task::spawn_blocking(move || -> Result<Entry, EngineError> {
        if let Some(parent) = p.parent() {
            h.mkdir_all(&parent)?;
        }
        let base = match quota {
            Some(_) => h
                .used_bytes()?
                .saturating_sub(h.stat(&p).map(|e| e.size).unwrap_or(0)),
            None => 0,
        };
        let mut w = h.writer(&p, WriteOptions::default())?;
        loop {
            match rx.blocking_recv() {
                Some(Part::Data(b)) => {
                    if quota.is_some_and(|q| base + w.written() + b.len() as u64 > q) {
                        return Err(EngineError::Invalid("quota exceeded".into()));
                    }
                    w.write(&b)?;
                }
                Some(Part::End(attrs)) => {
                    w.set_attrs(attrs);
                    w.commit()?;
                    return h.stat(&p);
                }
                None => {
                    return Err(EngineError::Invalid(
                        "upload ended before its last byte".into(),
                    ));
                }
            }
        }
    });
    let mut md5 = Md5::new();
    let mut failed = None;
    if let Some(b) = body.as_mut() {
        while let Some(chunk) = b.next().await {
            match chunk {
                Ok(bytes) => {
                    md5.update(&bytes);
                    if tx.send(Part::Data(bytes)).await.is_err() {
                        break; // the writer stopped: its error is reported below
                    }
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
    }
    let md5_hex = hex::encode(md5.finalize());
    if let Some(e) = failed {
        drop(tx); // the writer sees no end: nothing is committed
        let _ = writer.await;
        return Err(S3Error::with_message(S3ErrorCode::IncompleteBody, e));
    }
    let mut user: BTreeMap<String, String> =
        input.metadata.unwrap_or_default().into_iter().collect();
    user.retain(|k, _| !k.starts_with("s3:"));
    user.insert(MD5_KEY.into(), md5_hex.clone());
    let _ = tx
        .send(Part::End(FileAttrs {
            content_type: input.content_type.map(|c| c.to_string()),
            user,
        }))
        .await;
    drop(tx);
    match writer.await {
        Ok(Ok(_)) => Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(md5_hex)),
            ..Default::default()
        })),
        Ok(Err(EngineError::Invalid(m))) if m == "quota exceeded" => Err(S3Error::with_message(
            S3ErrorCode::Custom("QuotaExceeded".into()),
            "the user's quota would be exceeded; nothing was stored",
        )),
        Ok(Err(e)) => Err(s3_err(e)),
        Err(_) => Err(s3_error!(InternalError)),
    }
}

/// Reads and discards a request body we refuse (up to 64 MiB; a larger one is left to the
/// connection being closed).
async fn drain(body: &mut Option<StreamingBlob>) {
    if let Some(b) = body.as_mut() {
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = b.next().await {
            seen += chunk.len();
            if seen > 64 << 20 {
                break;
            }
        }
    }
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

/// The file a GET or HEAD names, once its preconditions hold (both inputs have the same
/// condition fields).
macro_rules! readable {
    ($s3:expr, $home:expr, $input:expr) => {{
        let e = file_entry($s3, $home, &$input.bucket, &$input.key).await?;
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

pub async fn get(
    s3: &NasS3,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    let e = readable!(s3, &home, input);
    let (range, content_range) = match &input.range {
        Some(r) => {
            let rr = r.check(e.size).map_err(|_| s3_error!(InvalidRange))?;
            let cr = format!("bytes {}-{}/{}", rr.start, rr.end.saturating_sub(1), e.size);
            (
                ByteRange {
                    start: rr.start,
                    end: rr.end,
                },
                Some(cr),
            )
        }
        None => (ByteRange::full(e.size), None),
    };
    let (_, rx) = AsyncHome::new(home)
        .read(e.path.clone(), e.version, Some(range))
        .await
        .map_err(s3_err)?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await? {
            Ok(buf) => Some((Ok::<_, std::io::Error>(Bytes::from(buf)), rx)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), rx)),
        }
    });
    Ok(S3Response::new(GetObjectOutput {
        body: Some(StreamingBlob::wrap(stream)),
        content_length: Some(range.len() as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        e_tag: Some(etag_of(&e)),
        last_modified: Some(timestamp(e.mtime_ns)),
        content_type: e.attrs.content_type.clone().and_then(|c| c.parse().ok()),
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
    Ok(S3Response::new(HeadObjectOutput {
        content_length: Some(e.size as i64),
        accept_ranges: Some("bytes".into()),
        e_tag: Some(etag_of(&e)),
        last_modified: Some(timestamp(e.mtime_ns)),
        content_type: e.attrs.content_type.clone().and_then(|c| c.parse().ok()),
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
