//! Bucket CORS: Put/Get/DeleteBucketCors keep a bucket's rules as a dead property of its
//! folder (namespace `urn:silent-nas:s3`, so WebDAV shows it too), and [`Cors`] answers
//! browsers: preflight `OPTIONS` before any authentication (a preflight carries no
//! credentials), and `Access-Control-*` headers on the real request when a rule matches.
//!
//! Buckets are per user, so rules are kept, and looked up, per (owner, bucket): a real
//! request gets the headers of its signer's own bucket only. A preflight names a bucket
//! but no user: see [`Cors::preflight_rules`]. The rules themselves are not secret: S3
//! reveals them the same way.

use crate::keys::{blocking, bucket_path};
use crate::service::{NasS3, need_bucket};
use crate::staging::STAGING_PREFIX;
use nas_engine::{DeadProp, EngineError, NodeKind, PropOp, Store};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use serde::{Deserialize, Serialize};

const NS: &str = "urn:silent-nas:s3";
const NAME: &str = "cors";

/// One CORS rule as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rule {
    origins: Vec<String>,
    methods: Vec<String>,
    #[serde(default)]
    headers: Vec<String>,
    #[serde(default)]
    expose: Vec<String>,
    #[serde(default)]
    max_age: Option<i32>,
    #[serde(default)]
    id: Option<String>,
}

/// `*` matches any run of characters (S3 allows one per origin or header pattern).
fn wildcard(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(s),
        Some((pre, post)) => {
            s.len() >= pre.len() + post.len()
                && s[..pre.len()].eq_ignore_ascii_case(pre)
                && s[s.len() - post.len()..].eq_ignore_ascii_case(post)
        }
    }
}

impl Rule {
    /// Whether the rule allows `origin` to use `method` sending `headers`.
    pub fn allows(&self, origin: &str, method: &str, headers: &[&str]) -> bool {
        self.origins.iter().any(|o| wildcard(o, origin))
            && self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
            && headers
                .iter()
                .all(|h| self.headers.iter().any(|p| wildcard(p, h.trim())))
    }

    /// `*` when every origin is allowed, else the origin itself.
    pub fn allow_origin<'a>(&self, origin: &'a str) -> &'a str {
        if self.origins.iter().any(|o| o == "*") {
            "*"
        } else {
            origin
        }
    }

    pub fn methods(&self) -> &[String] {
        &self.methods
    }
    pub fn expose(&self) -> &[String] {
        &self.expose
    }
    pub fn max_age(&self) -> Option<i32> {
        self.max_age
    }
}

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

fn to_rules(cfg: CORSConfiguration) -> S3Result<Vec<Rule>> {
    if cfg.cors_rules.is_empty() || cfg.cors_rules.len() > 100 {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "a CORS configuration has 1 to 100 rules",
        ));
    }
    cfg.cors_rules
        .into_iter()
        .map(|r| {
            let methods: Vec<String> = r
                .allowed_methods
                .into_iter()
                .map(|m| m.to_ascii_uppercase())
                .collect();
            if let Some(bad) = methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("unsupported CORS method {bad:?}"),
                ));
            }
            if r.allowed_origins.is_empty() || methods.is_empty() {
                return Err(S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    "a CORS rule needs AllowedOrigin and AllowedMethod",
                ));
            }
            Ok(Rule {
                origins: r.allowed_origins,
                methods,
                headers: r.allowed_headers.unwrap_or_default(),
                expose: r.expose_headers.unwrap_or_default(),
                max_age: r.max_age_seconds,
                id: r.id,
            })
        })
        .collect()
}

pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The rules kept in a bucket folder's dead properties.
fn rules_of(props: &[DeadProp]) -> Option<Vec<Rule>> {
    let p = props.iter().find(|p| p.ns == NS && p.name == NAME)?;
    let xml = String::from_utf8_lossy(&p.value);
    let body = xml.split_once('>')?.1.rsplit_once('<')?.0;
    serde_json::from_str(&xml_unescape(body)).ok()
}

pub async fn put(
    s3: &NasS3,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let rules = to_rules(input.cors_configuration)?;
    let json = serde_json::to_string(&rules).map_err(|_| s3s::s3_error!(InternalError))?;
    let value = format!(
        "<s3:{NAME} xmlns:s3=\"{NS}\">{}</s3:{NAME}>",
        xml_escape(&json)
    );
    let p = bucket_path(&input.bucket)?;
    blocking(move || {
        home.patch_props(
            &p,
            &[PropOp::Set(DeadProp {
                ns: NS.into(),
                prefix: "s3".into(),
                name: NAME.into(),
                value: value.into_bytes(),
            })],
        )
    })
    .await?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub async fn get(
    s3: &NasS3,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let (home, _) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let p = bucket_path(&req.input.bucket)?;
    let props = blocking(move || home.props(&p)).await?;
    let Some(rules) = rules_of(&props) else {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchCORSConfiguration,
            "the bucket has no CORS configuration",
        ));
    };
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(
            rules
                .into_iter()
                .map(|r| CORSRule {
                    allowed_origins: r.origins,
                    allowed_methods: r.methods,
                    allowed_headers: (!r.headers.is_empty()).then_some(r.headers),
                    expose_headers: (!r.expose.is_empty()).then_some(r.expose),
                    max_age_seconds: r.max_age,
                    id: r.id,
                })
                .collect(),
        ),
    }))
}

pub async fn delete(
    s3: &NasS3,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    let (home, _) = s3.writer(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let p = bucket_path(&req.input.bucket)?;
    blocking(move || home.patch_props(&p, &[PropOp::Remove(NS.into(), NAME.into())])).await?;
    Ok(S3Response::new(DeleteBucketCorsOutput::default()))
}

/// Looks up CORS rules for browsers' requests (no credentials needed).
#[derive(Clone)]
pub struct Cors {
    store: Store,
}

impl Cors {
    pub fn new(store: Store) -> Cors {
        Cors { store }
    }

    /// The CORS rules of `owner`'s bucket `bucket` (none if either is missing).
    pub fn rules(&self, owner: &str, bucket: &str) -> Result<Vec<Rule>, EngineError> {
        let Ok(p) = bucket_path(bucket) else {
            return Ok(Vec::new());
        };
        if owner.starts_with(STAGING_PREFIX) {
            return Ok(Vec::new());
        }
        let home = match self.store.home(owner) {
            Ok(h) => h,
            Err(EngineError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        match home.stat(&p) {
            Ok(e) if e.kind == NodeKind::Dir => Ok(rules_of(&home.props(&p)?).unwrap_or_default()),
            Ok(_) | Err(EngineError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The rules a preflight for `bucket` is answered from. A preflight carries no
    /// signature; when its URL is presigned, the credential's access key names the owner
    /// (an unknown key: no rules). Otherwise bucket names are per user, so the rules of
    /// every user's bucket of that name are asked, in user-name order: a preflight only
    /// lets a browser send the request, whose answer is signed and gets its owner's
    /// headers only.
    pub fn preflight_rules(
        &self,
        bucket: &str,
        access_key: Option<&str>,
    ) -> Result<Vec<Rule>, EngineError> {
        if let Some(key) = access_key {
            return match nas_auth::key_owner(&self.store.accounts(), key) {
                Ok((owner, _)) => self.rules(&owner.name, bucket),
                Err(_) => Ok(Vec::new()),
            };
        }
        let mut homes = self.store.homes()?;
        homes.sort();
        let mut all = Vec::new();
        for name in homes.iter().filter(|n| !n.starts_with(STAGING_PREFIX)) {
            all.extend(self.rules(name, bucket)?);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule {
            origins: vec![
                "https://*.example.com".into(),
                "http://localhost:3000".into(),
            ],
            methods: vec!["GET".into(), "PUT".into()],
            headers: vec!["content-type".into(), "x-amz-*".into()],
            expose: vec!["ETag".into()],
            max_age: Some(600),
            id: None,
        }
    }

    #[test]
    fn origins_methods_and_headers_must_all_match() {
        let r = rule();
        assert!(r.allows("https://app.example.com", "GET", &[]));
        assert!(r.allows(
            "http://localhost:3000",
            "PUT",
            &["Content-Type", "x-amz-date"]
        ));
        assert!(!r.allows("https://example.org", "GET", &[]));
        assert!(!r.allows("https://app.example.com", "DELETE", &[]));
        assert!(!r.allows("https://app.example.com", "PUT", &["authorization"]));
        assert_eq!(
            r.allow_origin("http://localhost:3000"),
            "http://localhost:3000"
        );
    }

    #[test]
    fn rules_round_trip_through_the_dead_property() {
        let json = serde_json::to_string(&vec![rule()]).unwrap();
        let value = format!("<s3:cors xmlns:s3=\"{NS}\">{}</s3:cors>", xml_escape(&json));
        let props = vec![DeadProp {
            ns: NS.into(),
            prefix: "s3".into(),
            name: NAME.into(),
            value: value.into_bytes(),
        }];
        assert_eq!(rules_of(&props), Some(vec![rule()]));
    }
}
