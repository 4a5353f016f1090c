//! A bucket's versioning status. The engine keeps a version of every write, so a bucket
//! is `Enabled` unless set otherwise (also one that was never set: its old versions are
//! there). `Suspended` is kept as the bucket folder's dead property `versioning` (as the
//! ACL and policy are) and means, as close to AWS as versions that are never lost allow:
//! each object write while suspended (PutObject, CopyObject, CompleteMultipartUpload)
//! **replaces** the previous version written while suspended (marked `s3:null` in its
//! attributes), so a suspended bucket keeps one such version per key, as AWS keeps one
//! `null` version; versions written while `Enabled` are kept. Version ids stay the
//! engine's numbers (AWS would answer `null`). Deletes are the same in both states
//! (`markers`). Writes through WebDAV or REST always add a version.

use crate::keys::{blocking, bucket_path};
use crate::public::{read_setting, store_setting};
use crate::service::{NasS3, need_bucket};
use nas_engine::{EngineError, FileAttrs, Home};
use nas_types::{NasPath, VersionNum};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// Dead-property name of a bucket's versioning status (only `Suspended` is stored).
const PROP: &str = "versioning";
/// Attribute key marking a version written while its bucket was suspended.
pub const NULL_KEY: &str = "s3:null";

/// True when the bucket is `Suspended` (blocking).
pub fn suspended(home: &Home, bucket: &str) -> Result<bool, EngineError> {
    let p = bucket_path(bucket).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
    Ok(read_setting(home, &p, PROP)?.as_deref() == Some(BucketVersioningStatus::SUSPENDED))
}

/// After version `num` (with `attrs`) of the object at `p` was written: in a suspended
/// bucket, marks it and removes every other version written while suspended; elsewhere
/// makes sure it carries no mark (a copy of a marked version) (blocking). A failure
/// leaves an extra version, never a lost one.
pub fn after_write(
    home: &Home,
    bucket: &str,
    p: &NasPath,
    num: VersionNum,
    attrs: &FileAttrs,
) -> Result<(), EngineError> {
    if !suspended(home, bucket)? {
        if attrs.user.contains_key(NULL_KEY) {
            let mut a = attrs.clone();
            a.user.remove(NULL_KEY);
            home.set_version_attrs(p, num, &a)?;
        }
        return Ok(());
    }
    let mut a = attrs.clone();
    a.user.insert(NULL_KEY.into(), "1".into());
    home.set_version_attrs(p, num, &a)?;
    for old in home.versions(p)? {
        if old.num == num || !old.attrs.user.contains_key(NULL_KEY) {
            continue;
        }
        match home.delete_version(p, old.num) {
            Ok(()) | Err(EngineError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub async fn get(
    s3: &NasS3,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let (home, _) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let bucket = req.input.bucket;
    let status = if blocking(move || suspended(&home, &bucket)).await? {
        BucketVersioningStatus::SUSPENDED
    } else {
        BucketVersioningStatus::ENABLED
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        status: Some(BucketVersioningStatus::from_static(status)),
        ..Default::default()
    }))
}

pub async fn put(
    s3: &NasS3,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let (home, _) = s3.writer(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let conf = req.input.versioning_configuration;
    if conf
        .mfa_delete
        .as_ref()
        .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "MfaDelete is not supported",
        ));
    }
    let stored = match conf.status.as_ref().map(|s| s.as_str()) {
        Some(BucketVersioningStatus::ENABLED) => None,
        Some(BucketVersioningStatus::SUSPENDED) => Some(BucketVersioningStatus::SUSPENDED),
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "the versioning Status must be Enabled or Suspended",
            ));
        }
    };
    let p = bucket_path(&req.input.bucket)?;
    let bucket = req.input.bucket;
    blocking(move || {
        // a bucket with object lock keeps every version: it cannot be suspended
        if stored.is_some() && crate::object_lock::bucket_lock(&home, &bucket)?.is_some() {
            return Ok(Err(S3Error::with_message(
                S3ErrorCode::InvalidBucketState,
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
            )));
        }
        store_setting(&home, &p, PROP, stored).map(Ok)
    })
    .await??;
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}
