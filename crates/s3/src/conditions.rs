//! Conditional requests (RFC 9110 §13 as S3 applies them): `If-Match`,
//! `If-Unmodified-Since` → 412; `If-None-Match`, `If-Modified-Since` → 304 on reads;
//! `If-None-Match: *` and `If-Match` on writes → 412; CopyObject's
//! `x-amz-copy-source-if-*` on its source → 412.

use s3s::dto::{ETag, ETagCondition, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

fn secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

fn matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag,
    }
}

/// Preconditions of a GET or HEAD on an existing object.
pub fn check_read(
    etag: &str,
    mtime_ns: i64,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let modified = mtime_ns.div_euclid(1_000_000_000);
    match if_match {
        Some(c) if !matches(c, etag) => return Err(s3_error!(PreconditionFailed)),
        Some(_) => {}
        None => {
            if if_unmodified_since.is_some_and(|t| modified > secs(t)) {
                return Err(s3_error!(PreconditionFailed));
            }
        }
    }
    match if_none_match {
        Some(c) if matches(c, etag) => Err(S3Error::new(S3ErrorCode::NotModified)),
        Some(_) => Ok(()),
        None if if_modified_since.is_some_and(|t| modified <= secs(t)) => {
            Err(S3Error::new(S3ErrorCode::NotModified))
        }
        None => Ok(()),
    }
}

/// A 304 carries the validators a cache needs (RFC 9110 §15.4.5): the `ETag` and
/// `Last-Modified` of the object, as AWS sends them. Other errors pass unchanged.
pub fn not_modified_headers(mut err: S3Error, etag: &ETag, mtime_ns: i64) -> S3Error {
    if err.code() != &S3ErrorCode::NotModified {
        return err;
    }
    let mut h = http::HeaderMap::new();
    let quoted = format!("\"{}\"", etag.value());
    if let Ok(v) = http::HeaderValue::from_str(&quoted) {
        h.insert(http::header::ETAG, v);
    }
    let mut date = Vec::new();
    let t = crate::service::timestamp(mtime_ns);
    if t.format(TimestampFormat::HttpDate, &mut date).is_ok()
        && let Ok(v) = http::HeaderValue::from_bytes(&date)
    {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    err.set_headers(h);
    err
}

/// Preconditions of CopyObject's source (`x-amz-copy-source-if-*`): each failed one is
/// 412 `PreconditionFailed`, as AWS answers (never 304); AWS's one exception, both
/// `if-match` true and `if-unmodified-since` false, copies.
pub fn check_copy_source(
    etag: &str,
    mtime_ns: i64,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let failed = |what: &str| {
        S3Error::with_message(
            S3ErrorCode::PreconditionFailed,
            format!("At least one of the pre-conditions you specified did not hold ({what})"),
        )
    };
    let modified = mtime_ns.div_euclid(1_000_000_000);
    match if_match {
        Some(c) if !matches(c, etag) => return Err(failed("x-amz-copy-source-if-match")),
        Some(_) => {}
        None => {
            if if_unmodified_since.is_some_and(|t| modified > secs(t)) {
                return Err(failed("x-amz-copy-source-if-unmodified-since"));
            }
        }
    }
    match if_none_match {
        Some(c) if matches(c, etag) => Err(failed("x-amz-copy-source-if-none-match")),
        Some(_) => Ok(()),
        None if if_modified_since.is_some_and(|t| modified <= secs(t)) => {
            Err(failed("x-amz-copy-source-if-modified-since"))
        }
        None => Ok(()),
    }
}

/// Preconditions of a PUT: `If-None-Match: *` (create only) and `If-Match: "etag"`
/// (replace only that content). `current` is the ETag of the object now, if any.
pub fn check_write(
    current: Option<&str>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    if if_none_match.is_some() && current.is_some() {
        return Err(s3_error!(PreconditionFailed, "the object already exists"));
    }
    match (if_match, current) {
        (Some(_), None) => Err(s3_error!(NoSuchKey)),
        (Some(c), Some(e)) if !matches(c, e) => Err(s3_error!(PreconditionFailed)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::ETag;
    use std::time::{Duration, UNIX_EPOCH};

    fn ts(s: u64) -> Timestamp {
        Timestamp::from(UNIX_EPOCH + Duration::from_secs(s))
    }

    #[test]
    fn read_conditions() {
        let e = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("zzz".into()));
        let t = 1_000 * 1_000_000_000;
        assert!(check_read("abc", t, Some(&e), None, None, None).is_ok());
        assert!(check_read("abc", t, Some(&other), None, None, None).is_err());
        assert!(
            check_read("abc", t, None, Some(&e), None, None).is_err(),
            "304"
        );
        assert!(check_read("abc", t, None, Some(&other), None, None).is_ok());
        assert!(
            check_read("abc", t, None, None, Some(&ts(1000)), None).is_err(),
            "not modified since"
        );
        assert!(check_read("abc", t, None, None, Some(&ts(999)), None).is_ok());
        assert!(
            check_read("abc", t, None, None, None, Some(&ts(999))).is_err(),
            "modified after"
        );
        assert!(check_read("abc", t, None, None, None, Some(&ts(1000))).is_ok());
    }

    #[test]
    fn write_conditions() {
        let any = ETagCondition::Any;
        let e = ETagCondition::ETag(ETag::Strong("abc".into()));
        assert!(check_write(None, None, Some(&any)).is_ok());
        assert!(check_write(Some("abc"), None, Some(&any)).is_err());
        assert!(check_write(Some("abc"), Some(&e), None).is_ok());
        assert!(check_write(Some("xyz"), Some(&e), None).is_err());
        assert!(check_write(None, Some(&e), None).is_err());
    }
}
