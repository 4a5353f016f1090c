//! UploadPartCopy: a part of a multipart upload copied from a range of an object —
//! its current version, or the one the copy source's `versionId` names (also one behind
//! a delete marker). The bytes are read (verified) and written as the part's file in the
//! upload's staging folder, so the part has its own MD5 ETag as an uploaded one does.

use crate::keys::s3_err;
use crate::multipart::{find_upload, part_in_range};
use crate::objects::MD5_KEY;
use crate::service::{NasS3, need_bucket, timestamp};
use crate::staging::part_path;
use nas_engine::{EngineError, FileAttrs, FileReader, Home, Located, WriteOptions};
use nas_md5::Md5;
use nas_types::{ByteRange, NasPath, VersionNum};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::io::Read;

/// `bytes=first-last` of a copy source (both inclusive, both required, as S3 says).
fn copy_range(spec: Option<&str>, size: u64) -> S3Result<ByteRange> {
    let Some(spec) = spec else {
        return Ok(ByteRange::full(size));
    };
    let bad = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "x-amz-copy-source-range must be bytes=first-last within the source object",
        )
    };
    let (a, b) = spec
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let (start, last): (u64, u64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if start > last || last >= size {
        return Err(s3_error!(InvalidRange));
    }
    Ok(ByteRange {
        start,
        end: last + 1,
    })
}

/// The source of a part copy: the version named — of the object at the key now, or one
/// behind a delete marker (read from its trash entry, as GET reads it) — else the head.
fn open_source(
    home: &Home,
    from: &NasPath,
    version: Option<VersionNum>,
    id: &str,
) -> S3Result<FileReader> {
    let Some(num) = version else {
        return home.open(from, None).map_err(s3_err);
    };
    let missing = |e| match e {
        EngineError::NotFound(_) => crate::version_id::no_such_version(id),
        e => s3_err(e),
    };
    match home.locate_version(from, num).map_err(s3_err)? {
        Some(Located::Trashed(t, v)) => home.trash_open(t.id, Some(v.num)).map_err(missing),
        Some(Located::Live(v)) => home.open(from, Some(v.num)).map_err(missing),
        None => Err(crate::version_id::no_such_version(id)),
    }
}

pub async fn upload_part_copy(
    s3: &NasS3,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let (home, who) = s3.writer(&req).await?;
    let input = req.input;
    part_in_range(input.part_number)?;
    let source = crate::version_id::copy_from(&input.copy_source)?;
    need_bucket(&home, source.bucket).await?;
    let (from, version) = (source.path, source.version);
    let vid = source.version_id.unwrap_or_default().to_owned();
    let staging = s3.staging(&who).await?;
    let (id, b, k) = (
        input.upload_id.clone(),
        input.bucket.clone(),
        input.key.clone(),
    );
    let range_spec = input.copy_source_range.clone();
    let n = input.part_number;
    let (md5_hex, mtime) = tokio::task::spawn_blocking(move || -> S3Result<(String, i64)> {
        let (dir, _) = find_upload(&staging, &id, &b, &k)?;
        let src = open_source(&home, &from, version, &vid)?;
        let range = copy_range(range_spec.as_deref(), src.version().size)?;
        let path = part_path(&dir, n);
        let mut w = staging
            .writer(&path, WriteOptions::default())
            .map_err(s3_err)?;
        let mut r = src.range(range);
        let mut md5 = Md5::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let got = r.read(&mut buf).map_err(|_| s3_error!(InternalError))?;
            if got == 0 {
                break;
            }
            md5.update(&buf[..got]);
            w.write(&buf[..got]).map_err(s3_err)?;
        }
        let md5_hex = hex::encode(md5.finalize());
        let mut attrs = FileAttrs::default();
        attrs.user.insert(MD5_KEY.into(), md5_hex.clone());
        w.set_attrs(attrs);
        let v = w.commit().map_err(|e| match e {
            EngineError::NotFound(_) => s3_error!(NoSuchUpload),
            other => s3_err(other),
        })?;
        Ok((md5_hex, v.mtime_ns))
    })
    .await
    .map_err(|_| s3_error!(InternalError))??;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(ETag::Strong(md5_hex)),
            last_modified: Some(timestamp(mtime)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}
