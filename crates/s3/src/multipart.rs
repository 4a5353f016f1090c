//! Multipart uploads: Create, UploadPart (idempotent per part number), UploadPartCopy
//! (`part_copy`), Complete (`complete`), Abort (`NoSuchUpload` when not in progress), ListParts,
//! ListMultipartUploads. Staging layout and locking: `staging`. Completion checks the part list (ascending, present, ETags match,
//! every part but the last at least 5 MiB), composes the object from the parts' chunks
//! (no data copied) and answers the S3 multipart ETag `md5-of-md5s-N`.

use crate::checksums::{self, Claims};
use crate::keys::{blocking, object_path, s3_err};
use crate::objects::{MD5_KEY, Standard, object_attrs};
use crate::service::{NasS3, need_bucket, timestamp};
use crate::staging::{
    ALGORITHM_KEY, BUCKET_KEY, CHECKSUM_TYPE_KEY, MAX_PART, OBJECT_KEY, is_done, marker,
    new_upload_id, part_number, part_path, upload_dir,
};
use crate::upload::{Body, Target, receive};
use nas_engine::{EngineError, Entry, FileAttrs, Home, WriteOptions};
use nas_types::NasPath;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

/// Smallest size of every part but the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// The upload `id` of `bucket`/`key` in `staging`, in progress: its folder and marker.
/// An upload that completed is `NoSuchUpload` here, as on AWS.
pub(crate) fn find_upload(
    staging: &Home,
    id: &str,
    bucket: &str,
    key: &str,
) -> Result<(NasPath, Entry), S3Error> {
    let dir = upload_dir(id).ok_or_else(|| s3_error!(NoSuchUpload))?;
    let m = match staging.stat(&marker(&dir)) {
        Ok(m) => m,
        Err(EngineError::NotFound(_)) => return Err(s3_error!(NoSuchUpload)),
        Err(e) => return Err(s3_err(e)),
    };
    let user = &m.attrs.user;
    if user.get(BUCKET_KEY).map(String::as_str) != Some(bucket)
        || user.get(OBJECT_KEY).map(String::as_str) != Some(key)
    {
        return Err(s3_error!(NoSuchUpload));
    }
    if is_done(&m) {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchUpload,
            "the upload was completed",
        ));
    }
    Ok((dir, m))
}

pub(crate) fn part_in_range(n: i32) -> S3Result<()> {
    if (1..=MAX_PART).contains(&n) {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("part number must be an integer between 1 and {MAX_PART}"),
        ))
    }
}

pub async fn create(
    s3: &NasS3,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let (home, who) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    object_path(&input.bucket, &input.key)?; // the key must map onto the tree
    if input.key.ends_with('/') {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "a key ending in '/' names a folder and takes no data",
        ));
    }
    let algo = match &input.checksum_algorithm {
        Some(a) => Some(checksums::algo_named(a.as_str()).ok_or_else(|| {
            S3Error::with_message(S3ErrorCode::InvalidRequest, "unknown checksum algorithm")
        })?),
        None => None,
    };
    let ctype = match (&input.checksum_type, algo) {
        (Some(t), _) => Some(t.as_str().to_owned()),
        (None, Some("crc64nvme")) => Some(ChecksumType::FULL_OBJECT.to_owned()),
        (None, Some(_)) => Some(ChecksumType::COMPOSITE.to_owned()),
        (None, None) => None,
    };
    if ctype.as_deref() == Some(ChecksumType::FULL_OBJECT)
        && algo.is_some_and(|a| a.starts_with("sha"))
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "FULL_OBJECT checksums are defined for the CRC algorithms only",
        ));
    }
    let std = Standard {
        cache_control: input.cache_control.clone(),
        content_disposition: input.content_disposition.clone(),
        content_encoding: input.content_encoding.clone(),
        content_language: input.content_language.clone(),
        expires: crate::objects::expires_text(input.expires.as_ref()),
    };
    let mut attrs = object_attrs(
        input.content_type.as_ref().map(|c| c.to_string()),
        &std,
        input.metadata.clone(),
    )?;
    if let Some(t) = &input.tagging {
        crate::tagging::set(&mut attrs, &crate::tagging::from_header(t)?);
    }
    if let Some(a) = &input.acl {
        let s = crate::acl::bucket_settings(&home, &input.bucket).await?;
        if let Some(c) = crate::acl::requested(Some(a.as_str()), &s)? {
            c.set_in(&mut attrs);
        }
    }
    // lock headers are checked now (an upload that could not complete is refused at
    // once) and kept for the version the completion commits
    let headers = crate::object_lock::LockHeaders::of(
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    );
    if headers.any() {
        let (h, b) = (home.clone(), input.bucket.clone());
        let conf = blocking(move || crate::object_lock::bucket_lock(&h, &b)).await?;
        crate::object_lock::keep_for_upload(
            conf.as_ref(),
            &headers,
            nas_engine::now_ns(),
            &mut attrs.user,
        )?;
    }
    attrs.user.insert(BUCKET_KEY.into(), input.bucket.clone());
    attrs.user.insert(OBJECT_KEY.into(), input.key.clone());
    if let Some(a) = algo {
        attrs.user.insert(ALGORITHM_KEY.into(), a.to_owned());
    }
    if let Some(t) = &ctype {
        attrs.user.insert(CHECKSUM_TYPE_KEY.into(), t.clone());
    }
    let id = new_upload_id();
    let staging = s3.staging(&who).await?;
    let dir = upload_dir(&id).ok_or_else(|| s3_error!(InternalError))?;
    blocking(move || {
        staging.mkdir(&dir)?;
        let opts = WriteOptions {
            attrs,
            ..WriteOptions::default()
        };
        staging.write_all(&marker(&dir), b"", opts).map(|_| ())
    })
    .await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(id),
        checksum_algorithm: algo.map(|a| ChecksumAlgorithm::from(a.to_ascii_uppercase())),
        checksum_type: ctype.map(ChecksumType::from),
        ..Default::default()
    }))
}

pub async fn upload_part(
    s3: &NasS3,
    mut req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let mut body = Body::new(req.input.body.take(), &req.headers);
    let r = upload_part_body(s3, req, &mut body).await;
    if r.is_err() {
        body.settle().await;
    }
    r
}

async fn upload_part_body(
    s3: &NasS3,
    req: S3Request<UploadPartInput>,
    body: &mut Body,
) -> S3Result<S3Response<UploadPartOutput>> {
    let (_, who) = s3.writer(&req).await?;
    let trailers = req.trailing_headers.clone();
    let headers = req.headers;
    let input = req.input;
    part_in_range(input.part_number)?;
    let staging = s3.staging(&who).await?;
    let (dir, _) = {
        let (s, id, b, k) = (
            staging.clone(),
            input.upload_id.clone(),
            input.bucket.clone(),
            input.key.clone(),
        );
        tokio::task::spawn_blocking(move || find_upload(&s, &id, &b, &k))
            .await
            .map_err(|_| s3_error!(InternalError))??
    };
    let claims = Claims::from_request(
        &headers,
        input.content_md5.clone(),
        checksums::claimed!(input),
    )?;
    let path = part_path(&dir, input.part_number);
    let target = Target {
        home: staging,
        path,
        mkdirs: false,
        bucket: None,
        expect: None,
        lock: None,
    };
    let got = receive(target, body.start(), &claims, trailers, |md5, sums| {
        let mut attrs = FileAttrs::default();
        attrs.user.insert(MD5_KEY.into(), md5.to_owned());
        checksums::to_attrs(sums, &mut attrs.user);
        attrs
    })
    .await
    .map_err(|e| match e.code() {
        // the folder went away under the part: the upload was aborted or completed
        S3ErrorCode::NoSuchKey => s3_error!(NoSuchUpload),
        _ => e,
    })?;
    let c = got.checksum;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(ETag::Strong(got.md5_hex)),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_crc64nvme: c.checksum_crc64nvme,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        ..Default::default()
    }))
}

pub async fn abort(
    s3: &NasS3,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let (_, who) = s3.writer(&req).await?;
    let input = req.input;
    let staging = s3.staging(&who).await?;
    let s3c = s3.clone();
    tokio::task::spawn_blocking(move || -> S3Result<()> {
        let _held = s3c.upload_locks().lock(&input.upload_id).map_err(s3_err)?;
        // an upload never issued, already aborted or completed is NoSuchUpload (404), as
        // on AWS: a completed upload's record stays, for a retried Complete
        let (dir, _) = find_upload(&staging, &input.upload_id, &input.bucket, &input.key)?;
        staging.purge(&dir).map_err(s3_err)
    })
    .await
    .map_err(|_| s3_error!(InternalError))??;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

/// The staged parts of upload folder `dir`, by part number.
pub(crate) fn staged_parts(
    staging: &Home,
    dir: &NasPath,
) -> Result<Vec<(i32, Entry)>, EngineError> {
    let mut parts = Vec::new();
    let mut after = None;
    loop {
        let page = staging.list(dir, after.as_deref(), 1000)?;
        parts.extend(
            page.entries
                .into_iter()
                .filter_map(|e| Some((part_number(&e)?, e))),
        );
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    parts.sort_by_key(|(n, _)| *n);
    Ok(parts)
}

fn part_etag(e: &Entry) -> String {
    e.attrs.user.get(MD5_KEY).cloned().unwrap_or_default()
}

pub async fn list_parts(
    s3: &NasS3,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let (_, who) = s3.caller(&req).await?;
    let input = req.input;
    let staging = s3.staging(&who).await?;
    let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
    let marker_n = input.part_number_marker.unwrap_or(0);
    let (id, b, k) = (
        input.upload_id.clone(),
        input.bucket.clone(),
        input.key.clone(),
    );
    let (m, all) = tokio::task::spawn_blocking(move || -> S3Result<_> {
        let (dir, m) = find_upload(&staging, &id, &b, &k)?;
        Ok((m, staged_parts(&staging, &dir).map_err(s3_err)?))
    })
    .await
    .map_err(|_| s3_error!(InternalError))??;
    let rest: Vec<_> = all.into_iter().filter(|(n, _)| *n > marker_n).collect();
    let truncated = rest.len() > max;
    let page: Vec<_> = rest.into_iter().take(max).collect();
    let next = page.last().map(|(n, _)| *n);
    let parts = page
        .iter()
        .map(|(n, e)| {
            let c = checksums::from_attrs(&e.attrs.user);
            Part {
                part_number: Some(*n),
                e_tag: Some(ETag::Strong(part_etag(e))),
                size: Some(e.size as i64),
                last_modified: Some(timestamp(e.mtime_ns)),
                checksum_crc32: c.checksum_crc32,
                checksum_crc32c: c.checksum_crc32c,
                checksum_crc64nvme: c.checksum_crc64nvme,
                checksum_sha1: c.checksum_sha1,
                checksum_sha256: c.checksum_sha256,
            }
        })
        .collect();
    let user = &m.attrs.user;
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        parts: Some(parts),
        max_parts: Some(max as i32),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: if truncated { next } else { None },
        is_truncated: Some(truncated),
        checksum_algorithm: user
            .get(ALGORITHM_KEY)
            .map(|a| ChecksumAlgorithm::from(a.to_ascii_uppercase())),
        checksum_type: user.get(CHECKSUM_TYPE_KEY).cloned().map(ChecksumType::from),
        ..Default::default()
    }))
}

pub async fn list_uploads(
    s3: &NasS3,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let (home, who) = s3.caller(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let staging = s3.staging(&who).await?;
    let bucket = input.bucket.clone();
    // (key, initiated, id, algorithm)
    let mut all = blocking(move || {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = staging.list(&NasPath::root(), after.as_deref(), 1000)?;
            for dir in &page.entries {
                let Ok(m) = staging.stat(&marker(&dir.path)) else {
                    continue; // a create cut short: expiry removes it
                };
                if m.attrs.user.get(BUCKET_KEY) != Some(&bucket) || is_done(&m) {
                    continue;
                }
                let key = m.attrs.user.get(OBJECT_KEY).cloned().unwrap_or_default();
                let algo = m.attrs.user.get(ALGORITHM_KEY).cloned();
                out.push((key, m.mtime_ns, dir.name().to_owned(), algo));
            }
            match page.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
        Ok(out)
    })
    .await?;
    all.sort();
    let prefix = input.prefix.clone().unwrap_or_default();
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input.upload_id_marker.clone();
    let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut last: Option<(String, String)> = None;
    all.retain(|(key, ..)| key.starts_with(&prefix));
    // the markers name a position in the list (key, then initiation order)
    let start = if key_marker.is_empty() {
        0
    } else {
        let by_id = id_marker.as_ref().and_then(|m| {
            all.iter()
                .position(|(k, _, id, _)| *k == key_marker && id == m)
        });
        match by_id {
            Some(i) => i + 1,
            None => all.partition_point(|(k, ..)| *k <= key_marker),
        }
    };
    for (key, initiated, id, algo) in all.into_iter().skip(start) {
        if let Some(d) = &delimiter
            && let Some(pos) = key[prefix.len()..].find(d.as_str())
        {
            let cp = key[..prefix.len() + pos + d.len()].to_owned();
            if prefixes.last() != Some(&cp) {
                if uploads.len() + prefixes.len() >= max {
                    truncated = true;
                    break;
                }
                prefixes.push(cp);
                last = Some((key.clone(), id.clone()));
            }
            continue;
        }
        if uploads.len() + prefixes.len() >= max {
            truncated = true;
            break;
        }
        last = Some((key.clone(), id.clone()));
        uploads.push(MultipartUpload {
            key: Some(key),
            upload_id: Some(id),
            initiated: Some(timestamp(initiated)),
            checksum_algorithm: algo.map(|a| ChecksumAlgorithm::from(a.to_ascii_uppercase())),
            ..Default::default()
        });
    }
    let (next_key, next_id) = match (truncated, last) {
        (true, Some((k, i))) => (Some(k), Some(i)),
        _ => (None, None),
    };
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        uploads: Some(uploads),
        common_prefixes: Some(
            prefixes
                .into_iter()
                .map(|p| CommonPrefix { prefix: Some(p) })
                .collect(),
        ),
        prefix: input.prefix,
        delimiter: input.delimiter,
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        max_uploads: Some(max as i32),
        is_truncated: Some(truncated),
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        ..Default::default()
    }))
}
