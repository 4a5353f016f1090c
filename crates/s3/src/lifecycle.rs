//! Put/Get/DeleteBucketLifecycleConfiguration: the rules the engine can honour become the
//! bucket folder's lifecycle rules (`nas_engine::LifecycleRule`, applied by the engine's
//! `lifecycle` worker; `AbortIncompleteMultipartUpload` by this door's upload worker,
//! `staging`). Expiration `Days`, NoncurrentVersionExpiration `NoncurrentDays` and
//! `NewerNoncurrentVersions`, AbortIncompleteMultipartUpload `DaysAfterInitiation`, a
//! filter by prefix (or none), `Status`. Anything else (transitions, tag and size filters,
//! an expiration date, `ExpiredObjectDeleteMarker`) is refused naming the element, and
//! nothing is stored.

use crate::keys::{blocking, bucket_path};
use crate::service::{NasS3, need_bucket};
use nas_engine::LifecycleRule as Rule;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// Most rules a configuration may hold (AWS's limit).
const MAX_RULES: usize = 1000;

fn unsupported(what: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NotImplemented,
        format!("lifecycle rules with {what} are not supported; nothing was stored"),
    )
}

fn invalid(msg: String) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, msg)
}

fn days(n: Option<i32>, what: &str) -> S3Result<Option<u32>> {
    match n {
        None => Ok(None),
        Some(d) if d > 0 => Ok(Some(d as u32)),
        Some(_) => Err(invalid(format!("'{what}' must be a positive integer"))),
    }
}

/// One rule of a configuration, refused unless every element is one the engine honours.
fn to_rule(r: LifecycleRule) -> S3Result<Rule> {
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(unsupported("Transition"));
    }
    if r.noncurrent_version_transitions
        .as_ref()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(unsupported("NoncurrentVersionTransition"));
    }
    let mut prefix = r.prefix.unwrap_or_default();
    if let Some(f) = r.filter {
        if f.and.is_some() {
            return Err(unsupported("a Filter And"));
        }
        if f.tag.is_some() {
            return Err(unsupported("a Filter Tag"));
        }
        if f.object_size_greater_than.is_some() {
            return Err(unsupported("ObjectSizeGreaterThan"));
        }
        if f.object_size_less_than.is_some() {
            return Err(unsupported("ObjectSizeLessThan"));
        }
        if let Some(p) = f.prefix {
            prefix = p;
        }
    }
    let mut expire_days = None;
    if let Some(e) = r.expiration {
        if e.date.is_some() {
            return Err(unsupported("an Expiration Date"));
        }
        if e.expired_object_delete_marker.is_some() {
            return Err(unsupported("ExpiredObjectDeleteMarker"));
        }
        expire_days = days(e.days, "Days")?;
        if expire_days.is_none() {
            return Err(invalid("an Expiration needs Days".into()));
        }
    }
    let (mut noncurrent_days, mut newer_noncurrent) = (None, None);
    if let Some(n) = r.noncurrent_version_expiration {
        noncurrent_days = days(n.noncurrent_days, "NoncurrentDays")?;
        newer_noncurrent = match n.newer_noncurrent_versions {
            None => None,
            Some(v) if (1..=100).contains(&v) => Some(v as u32),
            Some(_) => {
                return Err(invalid(
                    "'NewerNoncurrentVersions' must be between 1 and 100".into(),
                ));
            }
        };
        if noncurrent_days.is_none() {
            return Err(invalid(
                "a NoncurrentVersionExpiration needs NoncurrentDays".into(),
            ));
        }
    }
    let abort_upload_days = match r.abort_incomplete_multipart_upload {
        Some(a) => match days(a.days_after_initiation, "DaysAfterInitiation")? {
            Some(d) => Some(d),
            None => {
                return Err(invalid(
                    "an AbortIncompleteMultipartUpload needs DaysAfterInitiation".into(),
                ));
            }
        },
        None => None,
    };
    if expire_days.is_none() && noncurrent_days.is_none() && abort_upload_days.is_none() {
        return Err(invalid(
            "at least one action needs to be specified in a rule".into(),
        ));
    }
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        other => {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                format!("unknown rule Status {other:?}: Enabled or Disabled"),
            ));
        }
    };
    if r.id.as_ref().is_some_and(|id| id.len() > 255) {
        return Err(invalid("a rule ID is at most 255 characters".into()));
    }
    Ok(Rule {
        id: r.id,
        prefix,
        enabled,
        expire_days,
        noncurrent_days,
        newer_noncurrent,
        abort_upload_days,
    })
}

/// The engine's rules for a configuration, or the refusal of its first unsupported rule.
fn to_rules(conf: Option<BucketLifecycleConfiguration>) -> S3Result<Vec<Rule>> {
    let rules = conf.map(|c| c.rules).unwrap_or_default();
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            format!("a lifecycle configuration holds 1 to {MAX_RULES} rules"),
        ));
    }
    let out: Vec<Rule> = rules.into_iter().map(to_rule).collect::<S3Result<_>>()?;
    let mut ids: Vec<&str> = out.iter().filter_map(|r| r.id.as_deref()).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid("rule IDs must be unique".into()));
    }
    Ok(out)
}

fn from_rule(r: Rule) -> LifecycleRule {
    LifecycleRule {
        id: r.id,
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter: Some(LifecycleRuleFilter {
            prefix: Some(r.prefix),
            ..Default::default()
        }),
        expiration: r.expire_days.map(|d| LifecycleExpiration {
            days: Some(d as i32),
            ..Default::default()
        }),
        noncurrent_version_expiration: r.noncurrent_days.map(|d| NoncurrentVersionExpiration {
            noncurrent_days: Some(d as i32),
            newer_noncurrent_versions: r.newer_noncurrent.map(|n| n as i32),
        }),
        abort_incomplete_multipart_upload: r.abort_upload_days.map(|d| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(d as i32),
            }
        }),
        noncurrent_version_transitions: None,
        prefix: None,
        transitions: None,
    }
}

pub async fn put(
    s3: &NasS3,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let rules = to_rules(input.lifecycle_configuration)?;
    let p = bucket_path(&input.bucket)?;
    blocking(move || home.set_lifecycle(&p, &rules)).await?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub async fn get(
    s3: &NasS3,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let (home, _) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let p = bucket_path(&req.input.bucket)?;
    let rules = blocking(move || home.lifecycle(&p)).await?;
    if rules.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist",
        ));
    }
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(rules.into_iter().map(from_rule).collect()),
        ..Default::default()
    }))
}

pub async fn delete(
    s3: &NasS3,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    let (home, _) = s3.writer(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let p = bucket_path(&req.input.bucket)?;
    blocking(move || home.set_lifecycle(&p, &[])).await?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
}
