//! Bucket policies and public access blocks: Put/Get/DeleteBucketPolicy,
//! GetBucketPolicyStatus, Put/Get/DeletePublicAccessBlock. Kept as the bucket folder's
//! settings (`public`).
//!
//! One policy document is understood: the common "anonymous download" one — a single
//! statement with `Effect` `Allow`, `Principal` `"*"` or `{"AWS": "*"}` (or `["*"]`),
//! `Action` `s3:GetObject` (or `["s3:GetObject"]`) and `Resource`
//! `arn:aws:s3:::BUCKET/*` (or a list of that one), optionally `Version` and `Sid`. It has
//! the effect of `public-read` on the bucket's objects (not on listing). Any other
//! document is refused — `MalformedPolicy` naming what is unsupported — never stored and
//! silently ignored.

use crate::acl::bucket_settings;
use crate::keys::{blocking, bucket_path};
use crate::public::{self, BLOCK_PROP, Block, POLICY_PROP};
use crate::service::{NasS3, need_bucket};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use serde_json::Value;

/// Largest policy document kept (AWS's limit: 20 KB).
pub const MAX_POLICY: usize = 20 << 10;

fn malformed(msg: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedPolicy, msg.into())
}

/// One value or a list of exactly one, as a string.
fn single<'a>(v: &'a Value, what: &str) -> S3Result<&'a str> {
    match v {
        Value::String(s) => Ok(s),
        Value::Array(a) if a.len() == 1 => single(&a[0], what),
        _ => Err(malformed(format!(
            "unsupported {what}: only one value is supported"
        ))),
    }
}

/// Checks that `doc` is the anonymous-download policy for `bucket`.
pub fn check_policy(doc: &str, bucket: &str) -> S3Result<()> {
    if doc.len() > MAX_POLICY {
        return Err(malformed("Policies must be no more than 20 KB"));
    }
    let v: Value = serde_json::from_str(doc)
        .map_err(|e| malformed(format!("Policies must be valid JSON: {e}")))?;
    let Value::Object(top) = &v else {
        return Err(malformed("a policy is a JSON object"));
    };
    for (k, val) in top {
        match k.as_str() {
            "Version" => {
                if !matches!(val.as_str(), Some("2012-10-17" | "2008-10-17")) {
                    return Err(malformed("unsupported policy Version"));
                }
            }
            "Statement" => {}
            "Id" => {}
            other => return Err(malformed(format!("unsupported policy element {other:?}"))),
        }
    }
    let st = match top.get("Statement") {
        Some(Value::Array(a)) if a.len() == 1 => &a[0],
        Some(s @ Value::Object(_)) => s,
        Some(Value::Array(_)) => {
            return Err(malformed(
                "only one statement is supported (the anonymous-download policy)",
            ));
        }
        _ => return Err(malformed("Missing required field Statement")),
    };
    let Value::Object(st) = st else {
        return Err(malformed("a statement is a JSON object"));
    };
    for k in st.keys() {
        if !["Sid", "Effect", "Principal", "Action", "Resource"].contains(&k.as_str()) {
            return Err(malformed(format!(
                "unsupported statement element {k:?} (only the anonymous-download policy is supported)"
            )));
        }
    }
    let get = |k: &str| {
        st.get(k)
            .ok_or_else(|| malformed(format!("Missing required field {k}")))
    };
    if get("Effect")?.as_str() != Some("Allow") {
        return Err(malformed("unsupported Effect: only Allow is supported"));
    }
    let principal = get("Principal")?;
    let everyone = match principal {
        Value::String(s) => s == "*",
        Value::Object(m) if m.len() == 1 => m
            .get("AWS")
            .is_some_and(|a| single(a, "Principal").is_ok_and(|s| s == "*")),
        _ => false,
    };
    if !everyone {
        return Err(malformed(
            "unsupported Principal: only \"*\" (everyone) is supported",
        ));
    }
    if single(get("Action")?, "Action")? != "s3:GetObject" {
        return Err(malformed(
            "unsupported Action: only s3:GetObject is supported",
        ));
    }
    let want = format!("arn:aws:s3:::{bucket}/*");
    if single(get("Resource")?, "Resource")? != want {
        return Err(malformed(format!(
            "unsupported Resource: only {want} is supported"
        )));
    }
    Ok(())
}

pub async fn put(
    s3: &NasS3,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    check_policy(&input.policy, &input.bucket)?;
    let s = bucket_settings(&home, &input.bucket).await?;
    if s.block.is_some_and(|b| b.block_public_policy) {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied: the bucket's public access block (BlockPublicPolicy) refuses public policies",
        ));
    }
    let p = bucket_path(&input.bucket)?;
    let doc = input.policy;
    blocking(move || public::store_setting(&home, &p, POLICY_PROP, Some(&doc))).await?;
    Ok(S3Response::new(PutBucketPolicyOutput::default()))
}

pub async fn get(
    s3: &NasS3,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let (home, _) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let s = bucket_settings(&home, &req.input.bucket).await?;
    match s.policy {
        Some(p) => Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(p) })),
        None => Err(S3Error::with_message(
            S3ErrorCode::NoSuchBucketPolicy,
            "The bucket policy does not exist",
        )),
    }
}

pub async fn delete(
    s3: &NasS3,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    let (home, _) = s3.writer(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let p = bucket_path(&req.input.bucket)?;
    blocking(move || public::store_setting(&home, &p, POLICY_PROP, None)).await?;
    Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
}

/// GetBucketPolicyStatus: `IsPublic` when the bucket's ACL or policy grants anonymous
/// reads, after its public access block.
pub async fn status(
    s3: &NasS3,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let (home, _) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let s = bucket_settings(&home, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(s.is_public()),
        }),
    }))
}

pub async fn put_block(
    s3: &NasS3,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let c = input.public_access_block_configuration;
    let b = Block {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    let json = serde_json::to_string(&b).map_err(|_| s3s::s3_error!(InternalError))?;
    let p = bucket_path(&input.bucket)?;
    blocking(move || public::store_setting(&home, &p, BLOCK_PROP, Some(&json))).await?;
    Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
}

pub async fn get_block(
    s3: &NasS3,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let (home, _) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let s = bucket_settings(&home, &req.input.bucket).await?;
    let Some(b) = s.block else {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
            "The public access block configuration was not found",
        );
        e.set_status_code(http::StatusCode::NOT_FOUND);
        return Err(e);
    };
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(b.block_public_acls),
            ignore_public_acls: Some(b.ignore_public_acls),
            block_public_policy: Some(b.block_public_policy),
            restrict_public_buckets: Some(b.restrict_public_buckets),
        }),
    }))
}

pub async fn delete_block(
    s3: &NasS3,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    let (home, _) = s3.writer(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let p = bucket_path(&req.input.bucket)?;
    blocking(move || public::store_setting(&home, &p, BLOCK_PROP, None)).await?;
    Ok(S3Response::new(DeletePublicAccessBlockOutput::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_anonymous_download_policy_is_taken() {
        let ok = [
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::pub/*"]}}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}"#,
        ];
        for d in ok {
            check_policy(d, "pub").unwrap();
        }
        let bad = [
            ("not json", "valid JSON"),
            (
                r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}"#,
                "Effect",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}"#,
                "Principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::pub/*"}]}"#,
                "Action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::pub/*"}]}"#,
                "Action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
                "Resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*","Condition":{}}]}"#,
                "Condition",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::pub/*"}]}"#,
                "Action",
            ),
            (r#"{"Statement":[]}"#, "one statement"),
        ];
        for (d, names) in bad {
            let e = check_policy(d, "pub").unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::MalformedPolicy, "{d}");
            assert!(
                e.message().unwrap().contains(names),
                "{d}: {:?}",
                e.message()
            );
        }
    }
}
