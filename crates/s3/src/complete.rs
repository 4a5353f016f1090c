//! CompleteMultipartUpload: verify the part list against what was staged, compose the
//! object from the parts' chunks (nothing copied; every byte read once to hash and, when
//! asked, to compute a full-object checksum), commit it as the key's newest version, then
//! record the completion on the upload's marker and purge the parts. A retried Complete
//! (a client whose first answer was lost) gets the recorded answer: the same ETag, version
//! and checksums. A crash before the record leaves the upload as it was (a retry composes
//! again); one after it leaves parts that expiry removes.

use crate::checksums::{self, Claims};
use crate::conditions::check_write;
use crate::keys::{object_path, s3_err};
use crate::multipart::MIN_PART_SIZE;
use crate::objects::{MD5_KEY, PARTS_KEY, etag_for_list};
use crate::service::{NasS3, need_bucket};
use crate::staging::{
    ALGORITHM_KEY, BUCKET_KEY, CHECKSUM_TYPE_KEY, DONE_ETAG_KEY, DONE_VERSION_KEY, OBJECT_KEY,
    is_done, marker, part_path, upload_dir,
};
use nas_engine::{EngineError, Expect, FileAttrs, Home, NodeKind, WriteOptions};
use nas_md5::Md5;
use nas_types::NasPath;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

fn invalid_part(msg: String) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidPart, msg)
}

/// The checksum a CompletedPart claims for `algo`.
fn claimed(p: &CompletedPart, algo: &str) -> Option<String> {
    checksums::get(&checksums::claimed!(p), algo).cloned()
}

/// The answer of a completion (recorded on the marker for a retry).
struct Done {
    etag: String,
    checksum: Checksum,
    version: Option<String>,
}

impl Done {
    /// The completion recorded on marker attributes `user`.
    fn recorded(user: &std::collections::BTreeMap<String, String>) -> Option<Done> {
        let mut checksum = checksums::from_attrs(user);
        checksum.checksum_type = user.get(CHECKSUM_TYPE_KEY).cloned().map(ChecksumType::from);
        Some(Done {
            etag: user.get(DONE_ETAG_KEY)?.clone(),
            checksum,
            version: user.get(DONE_VERSION_KEY).cloned(),
        })
    }

    /// Turns the upload's marker into the record of this completion, then purges the
    /// parts (a failure there is left to expiry: the object is committed).
    fn record(&self, staging: &Home, dir: &NasPath, bucket: &str, key: &str) {
        let mut attrs = FileAttrs::default();
        let user = &mut attrs.user;
        user.insert(BUCKET_KEY.into(), bucket.to_owned());
        user.insert(OBJECT_KEY.into(), key.to_owned());
        user.insert(DONE_ETAG_KEY.into(), self.etag.clone());
        if let Some(v) = &self.version {
            user.insert(DONE_VERSION_KEY.into(), v.clone());
        }
        if let Some(t) = &self.checksum.checksum_type {
            user.insert(CHECKSUM_TYPE_KEY.into(), t.as_str().to_owned());
        }
        checksums::to_attrs(&self.checksum, user);
        let opts = WriteOptions {
            attrs,
            ..WriteOptions::default()
        };
        if let Err(e) = staging.write_all(&marker(dir), b"", opts) {
            tracing::warn!("s3: completion of {dir} not recorded: {e}");
        }
        let parts = crate::multipart::staged_parts(staging, dir).unwrap_or_default();
        for (_, p) in parts {
            if let Err(e) = staging.purge(&p.path) {
                tracing::warn!("s3: part {} of a completed upload not purged: {e}", p.path);
            }
        }
    }
}

pub async fn complete(
    s3: &NasS3,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let (home, who) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let dst = object_path(&input.bucket, &input.key)?;
    let staging = s3.staging(&who).await?;
    let s3c = s3.clone();
    let (bucket, key) = (input.bucket.clone(), input.key.clone());
    let done = tokio::task::spawn_blocking(move || -> S3Result<Done> {
        let _held = s3c.upload_locks().lock(&input.upload_id).map_err(s3_err)?;
        let dir = upload_dir(&input.upload_id).ok_or_else(|| s3_error!(NoSuchUpload))?;
        let m = match staging.stat(&marker(&dir)) {
            Ok(m) => m,
            Err(EngineError::NotFound(_)) => return Err(s3_error!(NoSuchUpload)),
            Err(e) => return Err(s3_err(e)),
        };
        let mu = &m.attrs.user;
        if mu.get(BUCKET_KEY) != Some(&input.bucket) || mu.get(OBJECT_KEY) != Some(&input.key) {
            return Err(s3_error!(NoSuchUpload));
        }
        if is_done(&m) {
            // a retry: the answer the first attempt got
            return Done::recorded(mu).ok_or_else(|| s3_error!(NoSuchUpload));
        }
        let mut expect = None;
        if input.if_match.is_some() || input.if_none_match.is_some() {
            let current = match home.stat(&dst) {
                Ok(e) if e.kind == NodeKind::File => Some(e),
                Ok(_) | Err(EngineError::NotFound(_)) => None,
                Err(e) => return Err(s3_err(e)),
            };
            let tag = current
                .as_ref()
                .map(|e| etag_for_list(e).value().to_owned());
            check_write(
                tag.as_deref(),
                input.if_match.as_ref(),
                input.if_none_match.as_ref(),
            )?;
            expect = Some(match current.and_then(|e| e.version) {
                Some(v) => Expect::Head(v),
                None => Expect::Absent,
            });
        }
        let listed = input
            .multipart_upload
            .as_ref()
            .and_then(|u| u.parts.clone())
            .unwrap_or_default();
        if listed.is_empty() {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "the part list is empty",
            ));
        }
        let algo = mu.get(ALGORITHM_KEY).cloned();
        let ctype = mu.get(CHECKSUM_TYPE_KEY).cloned();
        let mut readers = Vec::with_capacity(listed.len());
        let mut md5s = Md5::new();
        let mut part_sums = Vec::new();
        let mut sizes = Vec::new();
        let mut prev = 0;
        for p in &listed {
            let n = p
                .part_number
                .ok_or_else(|| invalid_part("a part has no number".into()))?;
            if n <= prev {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidPartOrder,
                    "the part list is not in ascending order",
                ));
            }
            prev = n;
            let path = part_path(&dir, n);
            let staged = match staging.stat(&path) {
                Ok(e) => e,
                Err(EngineError::NotFound(_)) => {
                    return Err(invalid_part(format!("part {n} was not uploaded")));
                }
                Err(e) => return Err(s3_err(e)),
            };
            let stored = staged.attrs.user.get(MD5_KEY).cloned().unwrap_or_default();
            match &p.e_tag {
                Some(t) if t.value().trim_matches('"') == stored => {}
                _ => {
                    return Err(invalid_part(format!(
                        "part {n}: the ETag does not match the uploaded part"
                    )));
                }
            }
            if let Some(a) = &algo {
                let have = checksums::from_attrs(&staged.attrs.user);
                let have = checksums::get(&have, a).cloned();
                if let Some(c) = claimed(p, a)
                    && Some(&c) != have.as_ref()
                {
                    return Err(invalid_part(format!(
                        "part {n}: the {} does not match the uploaded part",
                        a.to_ascii_uppercase()
                    )));
                }
                part_sums.push(have);
            }
            md5s.update(&hex::decode(&stored).unwrap_or_default());
            sizes.push(staged.size.to_string());
            readers.push(staging.open(&path, staged.version).map_err(s3_err)?);
        }
        // sizes last: a missing or mismatched part is the more useful error
        for (p, r) in listed.iter().zip(&readers).rev().skip(1) {
            if r.version().size < MIN_PART_SIZE {
                return Err(S3Error::with_message(
                    S3ErrorCode::EntityTooSmall,
                    format!(
                        "part {} is smaller than the 5 MiB minimum",
                        p.part_number.unwrap_or_default()
                    ),
                ));
            }
        }
        let etag = format!("{}-{}", hex::encode(md5s.finalize()), listed.len());
        // a full-object checksum is computed from the data while composing
        let full = ctype.as_deref() == Some(ChecksumType::FULL_OBJECT);
        let mut full_hasher = Claims {
            algorithm: algo.clone().filter(|_| full),
            ..Default::default()
        }
        .hasher();
        if let Some(parent) = dst.parent() {
            home.mkdir_all_implicit(&parent).map_err(s3_err)?;
        }
        let composed = home
            .compose(&dst, &readers, &mut |piece| full_hasher.update(piece))
            .map_err(s3_err)?;
        let mut checksum = Checksum::default();
        if let Some(a) = &algo {
            let value = if full {
                checksums::get(&full_hasher.finalize(), a).cloned()
            } else {
                checksums::composite(a, &part_sums)
            };
            if let Some(v) = value {
                checksums::set(&mut checksum, a, v);
                checksum.checksum_type = ctype.clone().map(ChecksumType::from);
            }
        }
        let mut attrs = FileAttrs {
            content_type: m.attrs.content_type.clone(),
            user: m.attrs.user.clone(),
        };
        attrs.user.retain(|k, _| {
            ![BUCKET_KEY, OBJECT_KEY, ALGORITHM_KEY, CHECKSUM_TYPE_KEY].contains(&k.as_str())
        });
        attrs.user.insert(MD5_KEY.into(), etag.clone());
        attrs.user.insert(PARTS_KEY.into(), sizes.join(","));
        checksums::to_attrs(&checksum, &mut attrs.user);
        // the lock CreateMultipartUpload named (the engine adds the bucket's default)
        let lock = crate::object_lock::lock_for_completion(&mut attrs.user);
        let v = composed
            .commit(WriteOptions {
                attrs,
                expect,
                lock,
                ..WriteOptions::default()
            })
            .map_err(s3_err)?;
        drop(readers);
        crate::versioning::after_write(&home, &input.bucket, &dst, v.num, &v.attrs)
            .map_err(s3_err)?;
        let done = Done {
            etag,
            checksum,
            version: Some(v.num.to_string()),
        };
        done.record(&staging, &dir, &input.bucket, &input.key);
        Ok(done)
    })
    .await
    .map_err(|_| s3_error!(InternalError))??;
    let c = done.checksum;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(bucket.clone()),
        key: Some(key.clone()),
        e_tag: Some(ETag::Strong(done.etag)),
        location: Some(format!("/{bucket}/{key}")),
        version_id: done.version,
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_crc64nvme: c.checksum_crc64nvme,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        checksum_type: c.checksum_type,
        ..Default::default()
    }))
}
