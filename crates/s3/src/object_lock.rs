//! S3 Object Lock at the bucket: whether a bucket has it (CreateBucket with
//! `x-amz-bucket-object-lock-enabled: true`, or PutObjectLockConfiguration with
//! `ObjectLockEnabled`), and its default retention (a mode and `Days` or `Years`, given to
//! every new object version written without a retention of its own, through any door: the
//! engine applies it, `nas_engine`'s `folder_lock`; an upload's lock headers wait in its
//! attributes for its completion). Kept as
//! the bucket folder's dead property `object-lock` (as the ACL and lifecycle rules are):
//! `Enabled`, or `Enabled GOVERNANCE 30d` / `Enabled COMPLIANCE 1y`. A bucket with object
//! lock keeps versioning `Enabled` (it cannot be suspended). The lock itself — what may
//! not be deleted, and who may bypass a governance retention — is the engine's rule
//! (`nas_engine`'s `object_lock`); the object-level operations are in `retention`.

use crate::keys::{blocking, bucket_path};
use crate::public::{read_setting, store_setting};
use crate::service::{NasS3, need_bucket};
use nas_engine::{EngineError, Home, ObjectLock, Retention, RetentionMode};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Dead-property name of a bucket's object lock configuration.
pub const PROP: &str = nas_engine::FOLDER_LOCK_PROP;

/// Longest default retention accepted (AWS's limit: 100 years).
const MAX_DAYS: u32 = 36_500;

/// A bucket's default retention (the engine's: it applies it to every write, whatever
/// the door).
pub type DefaultRule = nas_engine::DefaultRetention;

/// A bucket with object lock enabled, and its default retention, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketLock {
    /// Applied to new versions that name no retention of their own.
    pub default: Option<DefaultRule>,
}

/// S3's name of a mode.
pub fn mode_name(m: RetentionMode) -> &'static str {
    match m {
        RetentionMode::Governance => ObjectLockRetentionMode::GOVERNANCE,
        RetentionMode::Compliance => ObjectLockRetentionMode::COMPLIANCE,
    }
}

/// The mode a client named; `InvalidArgument` for anything else.
pub fn parse_mode(s: &str) -> S3Result<RetentionMode> {
    match s {
        ObjectLockRetentionMode::GOVERNANCE => Ok(RetentionMode::Governance),
        ObjectLockRetentionMode::COMPLIANCE => Ok(RetentionMode::Compliance),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Unknown object lock mode {s:?}: GOVERNANCE or COMPLIANCE"),
        )),
    }
}

fn encode(b: &BucketLock) -> String {
    nas_engine::encode_folder_lock(b.default.as_ref())
}

fn decode(s: &str) -> Option<BucketLock> {
    nas_engine::parse_folder_lock(s).map(|default| BucketLock { default })
}

/// The object lock configuration of `bucket` (blocking): `None` when it has none.
pub fn bucket_lock(home: &Home, bucket: &str) -> Result<Option<BucketLock>, EngineError> {
    let p = bucket_path(bucket).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
    Ok(read_setting(home, &p, PROP)?.as_deref().and_then(decode))
}

/// Turns object lock on for a new bucket (blocking).
pub fn enable(home: &Home, bucket: &str) -> Result<(), EngineError> {
    let p = bucket_path(bucket).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
    store_setting(home, &p, PROP, Some(&encode(&BucketLock::default())))
}

/// `InvalidRequest` for lock settings on a bucket without object lock (AWS's text).
pub fn not_enabled() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidRequest,
        "Bucket is missing Object Lock Configuration",
    )
}

/// A moment as nanoseconds since the Unix epoch.
pub fn ns_of(t: &Timestamp) -> i64 {
    let t = OffsetDateTime::from(t.clone());
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// A moment given in nanoseconds since the Unix epoch, as S3 shows it.
pub fn timestamp_of(ns: i64) -> Timestamp {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // S3 answers whole milliseconds at most
    Timestamp::from(
        t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(t),
    )
}

/// The lock headers of a write (PutObject, CopyObject, CreateMultipartUpload).
#[derive(Debug, Clone, Default)]
pub struct LockHeaders {
    /// `x-amz-object-lock-mode`.
    pub mode: Option<String>,
    /// `x-amz-object-lock-retain-until-date`.
    pub until: Option<Timestamp>,
    /// `x-amz-object-lock-legal-hold` (`ON`/`OFF`).
    pub legal_hold: Option<String>,
}

impl LockHeaders {
    /// The three headers as s3s hands them over (PutObject, CopyObject and
    /// CreateMultipartUpload all carry the same fields).
    pub fn of(
        mode: Option<&ObjectLockMode>,
        until: Option<&Timestamp>,
        legal_hold: Option<&ObjectLockLegalHoldStatus>,
    ) -> LockHeaders {
        LockHeaders {
            mode: mode.map(|m| m.as_str().to_owned()),
            until: until.cloned(),
            legal_hold: legal_hold.map(|s| s.as_str().to_owned()),
        }
    }

    /// Whether the request named any lock setting.
    pub fn any(&self) -> bool {
        self.mode.is_some() || self.until.is_some() || self.legal_hold.is_some()
    }
}

/// The lock a new version of an object in a bucket with configuration `bucket` starts
/// with, as of `now_ns`: what the headers say, else the bucket's default retention.
/// Headers on a bucket without object lock: `InvalidRequest`; a mode without a date or a
/// date without a mode: `InvalidArgument`; a date not in the future: `InvalidArgument`
/// (AWS's texts).
pub fn lock_for_write(
    bucket: Option<&BucketLock>,
    h: &LockHeaders,
    now_ns: i64,
) -> S3Result<ObjectLock> {
    if bucket.is_none() {
        return if h.any() {
            Err(not_enabled())
        } else {
            Ok(ObjectLock::default())
        };
    }
    let legal_hold = match h.legal_hold.as_deref() {
        None | Some(ObjectLockLegalHoldStatus::OFF) => false,
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(other) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Unknown legal hold status {other:?}: ON or OFF"),
            ));
        }
    };
    let retention = match (&h.mode, &h.until) {
        (Some(m), Some(u)) => {
            let until_ns = ns_of(u);
            if until_ns <= now_ns {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "The retain until date must be in the future!",
                ));
            }
            Some(Retention {
                mode: parse_mode(m)?,
                until_ns,
            })
        }
        // the bucket's default retention is the engine's to apply (`folder_lock`)
        (None, None) => None,
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    Ok(ObjectLock {
        retention,
        legal_hold,
    })
}

/// Upload-marker attribute: the retention CreateMultipartUpload named (`GOVERNANCE NS`).
pub const UPLOAD_RETENTION_KEY: &str = "s3:lock-retention";
/// Upload-marker attribute: the legal hold CreateMultipartUpload put on (`ON`).
pub const UPLOAD_HOLD_KEY: &str = "s3:lock-hold";

/// CreateMultipartUpload's lock headers, checked as a PutObject's (`InvalidRequest` on a
/// bucket without object lock, `InvalidArgument` for a mode without a date or a date not
/// in the future) and kept in the upload's attributes for its completion.
pub fn keep_for_upload(
    bucket: Option<&BucketLock>,
    h: &LockHeaders,
    now_ns: i64,
    attrs: &mut BTreeMap<String, String>,
) -> S3Result<()> {
    if !h.any() {
        return Ok(());
    }
    let l = lock_for_write(bucket, h, now_ns)?;
    if let (Some(r), Some(_)) = (l.retention, &h.mode) {
        let v = format!("{} {}", mode_name(r.mode), r.until_ns);
        attrs.insert(UPLOAD_RETENTION_KEY.into(), v);
    }
    if l.legal_hold {
        attrs.insert(UPLOAD_HOLD_KEY.into(), ObjectLockLegalHoldStatus::ON.into());
    }
    Ok(())
}

/// The lock the version an upload's completion commits starts with: what its creation
/// named (taken out of `attrs`); without a retention, the engine gives it the bucket's
/// default as it commits.
pub fn lock_for_completion(attrs: &mut BTreeMap<String, String>) -> ObjectLock {
    let named = attrs.remove(UPLOAD_RETENTION_KEY).and_then(|v| {
        let (mode, until) = v.split_once(' ')?;
        Some(Retention {
            mode: parse_mode(mode).ok()?,
            until_ns: until.parse().ok()?,
        })
    });
    let legal_hold = attrs.remove(UPLOAD_HOLD_KEY).is_some();
    ObjectLock {
        retention: named,
        legal_hold,
    }
}

/// The default rule of a PutObjectLockConfiguration, checked as AWS does.
fn rule_of(conf: &ObjectLockConfiguration) -> S3Result<Option<DefaultRule>> {
    let Some(d) = conf
        .rule
        .as_ref()
        .and_then(|r| r.default_retention.as_ref())
    else {
        return Ok(None);
    };
    let malformed = |m: &str| S3Error::with_message(S3ErrorCode::MalformedXML, m.to_owned());
    let mode = d
        .mode
        .as_ref()
        .ok_or_else(|| malformed("DefaultRetention needs a Mode"))?;
    let mode = parse_mode(mode.as_str())?;
    let (n, years) = match (d.days, d.years) {
        (Some(n), None) => (n, false),
        (None, Some(n)) => (n, true),
        _ => {
            return Err(malformed(
                "DefaultRetention needs either Days or Years, not both",
            ));
        }
    };
    let rule = DefaultRule {
        mode,
        count: u32::try_from(n).unwrap_or(0),
        years,
    };
    if n <= 0 || rule.days() > MAX_DAYS {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Default retention period must be a positive integer value (at most 100 years)",
        ));
    }
    Ok(Some(rule))
}

pub async fn put_configuration(
    s3: &NasS3,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let (home, _) = s3.writer(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let conf = req.input.object_lock_configuration.unwrap_or_default();
    if conf.object_lock_enabled.as_ref().map(|e| e.as_str()) != Some(ObjectLockEnabled::ENABLED) {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "ObjectLockEnabled must be Enabled",
        ));
    }
    let lock = BucketLock {
        default: rule_of(&conf)?,
    };
    let bucket = req.input.bucket;
    blocking(move || {
        if crate::versioning::suspended(&home, &bucket)? {
            return Ok(Err(S3Error::with_message(
                S3ErrorCode::InvalidBucketState,
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            )));
        }
        let p = bucket_path(&bucket).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        store_setting(&home, &p, PROP, Some(&encode(&lock)))?;
        Ok(Ok(()))
    })
    .await??;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

pub async fn get_configuration(
    s3: &NasS3,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let (home, _) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let bucket = req.input.bucket;
    let Some(lock) = blocking(move || bucket_lock(&home, &bucket)).await? else {
        return Err(S3Error::with_message(
            S3ErrorCode::ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket",
        ));
    };
    let rule = lock.default.map(|d| ObjectLockRule {
        default_retention: Some(DefaultRetention {
            mode: Some(ObjectLockRetentionMode::from_static(mode_name(d.mode))),
            days: (!d.years).then_some(d.count as i32),
            years: d.years.then_some(d.count as i32),
        }),
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_round_trip_through_the_property() {
        let with = BucketLock {
            default: Some(DefaultRule {
                mode: RetentionMode::Compliance,
                count: 2,
                years: true,
            }),
        };
        for b in [BucketLock::default(), with] {
            assert_eq!(decode(&encode(&b)), Some(b));
        }
        assert_eq!(decode("Disabled"), None);
    }

    #[test]
    fn headers_on_a_bucket_without_lock_are_refused() {
        let h = LockHeaders {
            legal_hold: Some("ON".into()),
            ..LockHeaders::default()
        };
        assert!(lock_for_write(None, &h, 0).is_err());
        assert_eq!(
            lock_for_write(None, &LockHeaders::default(), 0).ok(),
            Some(ObjectLock::default())
        );
    }

    #[test]
    fn the_default_is_left_to_the_engine_when_no_header_names_a_retention() {
        let b = BucketLock {
            default: Some(DefaultRule {
                mode: RetentionMode::Governance,
                count: 1,
                years: false,
            }),
        };
        let l = lock_for_write(Some(&b), &LockHeaders::default(), 5).ok();
        assert_eq!(l, Some(ObjectLock::default()));
    }
}
