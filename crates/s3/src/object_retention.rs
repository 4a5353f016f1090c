//! S3 Object Lock on object versions: Put/GetObjectRetention and Put/GetObjectLegalHold
//! (the current version, or the one `versionId` names, also behind a delete marker), and
//! the lock headers GET and HEAD answer. Changing a lock is the engine's
//! `Home::set_version_lock` (`Home::trash_set_version_lock` behind a marker), which holds the
//! rules: a compliance retention only lengthens; a governance one is shortened or removed
//! only with `x-amz-bypass-governance-retention: true` (the permission: the request is
//! signed by the bucket's owner with a key that may write); a legal hold is set or lifted
//! by anyone who may write. A bucket without object lock answers `InvalidRequest`.

use crate::keys::{blocking, object_path};
use crate::object_lock::{bucket_lock, mode_name, not_enabled, ns_of, parse_mode, timestamp_of};
use crate::read::named_version;
use crate::service::NasS3;
use crate::version_id;
use nas_engine::{Home, LockChange, ObjectLock, Retention};
use nas_types::{TrashId, VersionNum};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// A version an object lock call acts on.
struct Target {
    num: VersionNum,
    lock: ObjectLock,
    /// The trash entry of a version behind a delete marker.
    trashed: Option<TrashId>,
}

/// The version a request names (the current one without `versionId`, else that version,
/// also one behind a delete marker), in a bucket that must have object lock.
async fn target(home: &Home, bucket: &str, key: &str, id: Option<&str>) -> S3Result<Target> {
    let (h, b) = (home.clone(), bucket.to_owned());
    if blocking(move || bucket_lock(&h, &b)).await?.is_none() {
        return Err(not_enabled());
    }
    let (e, trashed) = named_version(home, bucket, key, id).await?;
    let num = e.version.ok_or_else(|| s3s::s3_error!(NoSuchKey))?;
    Ok(Target {
        num,
        lock: e.lock,
        trashed,
    })
}

/// The lock headers of GET and HEAD for a version's lock.
pub struct LockView {
    /// `x-amz-object-lock-mode`.
    pub mode: Option<ObjectLockMode>,
    /// `x-amz-object-lock-retain-until-date`.
    pub until: Option<Timestamp>,
    /// `x-amz-object-lock-legal-hold`.
    pub legal_hold: Option<ObjectLockLegalHoldStatus>,
}

/// What GET and HEAD answer for `lock` (nothing for a version never locked).
pub fn view(lock: &ObjectLock) -> LockView {
    LockView {
        mode: lock
            .retention
            .map(|r| ObjectLockMode::from_static(mode_name(r.mode))),
        until: lock.retention.map(|r| timestamp_of(r.until_ns)),
        legal_hold: lock
            .legal_hold
            .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
    }
}

pub async fn put_retention(
    s3: &NasS3,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    let bypass = input.bypass_governance_retention.unwrap_or(false);
    let v = target(
        &home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
    )
    .await?;
    let retention = match input.retention {
        None => None,
        Some(ObjectLockRetention {
            mode: None,
            retain_until_date: None,
        }) => None,
        Some(ObjectLockRetention {
            mode: Some(m),
            retain_until_date: Some(u),
        }) => Some(Retention {
            mode: parse_mode(m.as_str())?,
            until_ns: ns_of(&u),
        }),
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "a Retention needs both Mode and RetainUntilDate",
            ));
        }
    };
    if retention.is_some_and(|r| r.until_ns <= nas_engine::now_ns()) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The retain until date must be in the future!",
        ));
    }
    let p = object_path(&input.bucket, &input.key)?;
    let change = LockChange::Retention(retention);
    blocking(move || version_id::set_lock(&home, &p, v.num, v.trashed, change, bypass)).await?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub async fn get_retention(
    s3: &NasS3,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    let v = target(
        &home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
    )
    .await?;
    let Some(r) = v.lock.retention else {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration",
        ));
    };
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from_static(mode_name(r.mode))),
            retain_until_date: Some(timestamp_of(r.until_ns)),
        }),
    }))
}

pub async fn put_legal_hold(
    s3: &NasS3,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    let on = match input
        .legal_hold
        .as_ref()
        .and_then(|h| h.status.as_ref())
        .map(|s| s.as_str())
    {
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(ObjectLockLegalHoldStatus::OFF) => false,
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "a LegalHold needs a Status of ON or OFF",
            ));
        }
    };
    let v = target(
        &home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
    )
    .await?;
    let p = object_path(&input.bucket, &input.key)?;
    let change = LockChange::LegalHold(on);
    blocking(move || version_id::set_lock(&home, &p, v.num, v.trashed, change, false)).await?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

pub async fn get_legal_hold(
    s3: &NasS3,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    let v = target(
        &home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
    )
    .await?;
    let status = if v.lock.legal_hold {
        ObjectLockLegalHoldStatus::ON
    } else {
        ObjectLockLegalHoldStatus::OFF
    };
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from_static(status)),
        }),
    }))
}
