//! What an anonymous (unsigned) request may do, and whose bucket it reaches.
//!
//! A bucket's public settings are kept as dead properties of its folder (namespace
//! `urn:silent-nas:s3`, as CORS rules): its canned ACL (`acl`), its bucket policy
//! (`policy`, only the anonymous-download document: see `policy`) and its public access
//! block (`public-access-block`). An object version's canned ACL is kept in its
//! attributes under [`ACL_KEY`].
//!
//! The rule ([`Settings::may_read`], [`Settings::may_list`]): an anonymous request may
//! only read — GetObject and HeadObject of a current version, ListObjects (v1, v2) — and
//! only where a grant allows it:
//! - objects: the bucket's ACL is `public-read` or `public-read-write`, or the bucket has
//!   the anonymous-download policy, or the object's own ACL is `public-read(-write)`;
//! - listing: the bucket's ACL is `public-read(-write)`.
//!
//! A public access block overrides: `IgnorePublicAcls` makes every public ACL grant
//! nothing, `RestrictPublicBuckets` the policy. Nothing else is ever allowed anonymously:
//! writes (also to a `public-read-write` bucket: not implemented, on purpose), deletes,
//! versions by id, ACLs, settings, multipart — [`AnonymousReads`] refuses them before the
//! request is parsed, with 403 `AccessDenied`.
//!
//! Buckets are per user, so an anonymous request's bucket name is resolved
//! ([`anonymous_home`]): among enabled users who have a bucket of that name, the one whose
//! settings grant this request. None, or more than one (ambiguous): `AccessDenied`. A
//! private bucket is never reached anonymously, whoever else has one of that name.

use crate::cors::{xml_escape, xml_unescape};
use crate::keys::{blocking, bucket_path, object_path};
use crate::service::NasS3;
use crate::staging::STAGING_PREFIX;
use nas_engine::{Accounts, DeadProp, EngineError, FileAttrs, Home, NodeKind, PropOp, Store};
use nas_types::NasPath;
use s3s::S3Request;
use s3s::access::{S3Access, S3AccessContext};
use s3s::{S3Error, S3ErrorCode, S3Result};
use serde::{Deserialize, Serialize};

const NS: &str = "urn:silent-nas:s3";
/// Dead-property names of a bucket's settings.
pub const ACL_PROP: &str = "acl";
pub const POLICY_PROP: &str = "policy";
pub const BLOCK_PROP: &str = "public-access-block";

/// Attribute key of an object version's canned ACL.
pub const ACL_KEY: &str = "s3:acl";

/// The operations an unsigned request may reach the service with (it then decides).
const ANONYMOUS_OPS: [&str; 4] = ["GetObject", "HeadObject", "ListObjects", "ListObjectsV2"];

/// 403 `AccessDenied` for an anonymous request.
pub fn denied() -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, "anonymous access is not allowed")
}

/// A canned ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Canned {
    #[default]
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
}

impl Canned {
    /// The canned ACL named `s` (`NotImplemented`, naming it, for the others AWS has).
    pub fn parse(s: &str) -> S3Result<Canned> {
        Ok(match s {
            "private" => Canned::Private,
            "public-read" => Canned::PublicRead,
            "public-read-write" => Canned::PublicReadWrite,
            "authenticated-read" => Canned::AuthenticatedRead,
            "aws-exec-read"
            | "bucket-owner-read"
            | "bucket-owner-full-control"
            | "log-delivery-write" => {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    format!(
                        "the canned ACL {s:?} is not supported (private, public-read, \
                         public-read-write and authenticated-read are)"
                    ),
                ));
            }
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    format!("unknown canned ACL {s:?}"),
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Canned::Private => "private",
            Canned::PublicRead => "public-read",
            Canned::PublicReadWrite => "public-read-write",
            Canned::AuthenticatedRead => "authenticated-read",
        }
    }

    /// Whether it grants everyone (anonymous requests) read.
    pub fn is_public(self) -> bool {
        matches!(self, Canned::PublicRead | Canned::PublicReadWrite)
    }

    /// The canned ACL an object version keeps (private when none).
    pub fn of_attrs(attrs: &FileAttrs) -> Canned {
        attrs
            .user
            .get(ACL_KEY)
            .and_then(|s| Canned::parse(s).ok())
            .unwrap_or_default()
    }

    /// Keeps it in a version's attributes (private is kept as no key).
    pub fn set_in(self, attrs: &mut FileAttrs) {
        if self == Canned::Private {
            attrs.user.remove(ACL_KEY);
        } else {
            attrs.user.insert(ACL_KEY.into(), self.as_str().into());
        }
    }
}

/// A public access block (S3's four settings; absent ones are false).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// A bucket's public settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub acl: Canned,
    /// The policy document as given (only the anonymous-download one is accepted).
    pub policy: Option<String>,
    pub block: Option<Block>,
}

impl Settings {
    fn block(&self) -> Block {
        self.block.unwrap_or_default()
    }

    /// Whether a public ACL of the bucket grants anything.
    pub fn acl_grants(&self) -> bool {
        self.acl.is_public() && !self.block().ignore_public_acls
    }

    /// Whether the bucket's policy grants anonymous reads.
    pub fn policy_grants(&self) -> bool {
        self.policy.is_some() && !self.block().restrict_public_buckets
    }

    /// Whether anything in the bucket is public by the bucket's own settings
    /// (GetBucketPolicyStatus's `IsPublic`).
    pub fn is_public(&self) -> bool {
        self.acl_grants() || self.policy_grants()
    }

    /// Whether an anonymous request may list the bucket.
    pub fn may_list(&self) -> bool {
        self.acl_grants()
    }

    /// Whether an anonymous request may read the version with attributes `attrs`.
    pub fn may_read(&self, attrs: &FileAttrs) -> bool {
        self.is_public()
            || (Canned::of_attrs(attrs).is_public() && !self.block().ignore_public_acls)
    }
}

/// A setting as a dead property's value.
fn prop(name: &str, text: &str) -> DeadProp {
    DeadProp {
        ns: NS.into(),
        prefix: "s3".into(),
        name: name.into(),
        value: format!(
            "<s3:{name} xmlns:s3=\"{NS}\">{}</s3:{name}>",
            xml_escape(text)
        )
        .into_bytes(),
    }
}

fn text_of(props: &[DeadProp], name: &str) -> Option<String> {
    let p = props.iter().find(|p| p.ns == NS && p.name == name)?;
    let xml = String::from_utf8_lossy(&p.value);
    let body = xml.split_once('>')?.1.rsplit_once('<')?.0;
    Some(xml_unescape(body))
}

/// One setting of the bucket folder at `p` (blocking).
pub fn read_setting(home: &Home, p: &NasPath, name: &str) -> Result<Option<String>, EngineError> {
    Ok(text_of(&home.props(p)?, name))
}

/// The public settings of the bucket folder at `p` (blocking).
pub fn settings(home: &Home, p: &NasPath) -> Result<Settings, EngineError> {
    let props = home.props(p)?;
    Ok(Settings {
        acl: text_of(&props, ACL_PROP)
            .and_then(|s| Canned::parse(&s).ok())
            .unwrap_or_default(),
        policy: text_of(&props, POLICY_PROP),
        block: text_of(&props, BLOCK_PROP).and_then(|s| serde_json::from_str(&s).ok()),
    })
}

/// Sets (`Some`) or removes one setting of the bucket folder at `p` (blocking).
pub fn store_setting(
    home: &Home,
    p: &NasPath,
    name: &str,
    text: Option<&str>,
) -> Result<(), EngineError> {
    let op = match text {
        Some(t) => PropOp::Set(prop(name, t)),
        None => PropOp::Remove(NS.into(), name.into()),
    };
    home.patch_props(p, &[op])
}

/// Where a read goes (see `NasS3::reader`).
pub(crate) struct Reader {
    pub home: Home,
    /// The bucket owner's name.
    pub owner: String,
    /// For an anonymous request, the bucket's public settings.
    pub public: Option<Settings>,
}

impl NasS3 {
    /// The home a read (GetObject, HeadObject, ListObjects) reaches: the signer's, or for
    /// an anonymous request the one whose bucket's settings grant it (`public::
    /// anonymous_home`; never with a `versionId`). An anonymous read gets the bucket's
    /// settings back, to check the very version it serves.
    pub(crate) async fn reader<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: Option<&str>,
        versioned: bool,
    ) -> S3Result<Reader> {
        if req.credentials.is_some() {
            let (home, who) = self.caller(req).await?;
            return Ok(Reader {
                home,
                owner: who.name,
                public: None,
            });
        }
        if versioned {
            return Err(denied());
        }
        let (store, accounts) = (self.store.clone(), self.accounts.clone());
        let (bucket, key) = (bucket.to_owned(), key.map(str::to_owned));
        let found = blocking(move || {
            let ask = match &key {
                Some(k) => Anonymous::Read(k),
                None => Anonymous::List,
            };
            anonymous_home(&store, &accounts, &bucket, &ask)
        })
        .await?;
        match found {
            Some((home, owner, settings)) => Ok(Reader {
                home,
                owner,
                public: Some(settings),
            }),
            None => Err(denied()),
        }
    }
}

/// What an anonymous request asks.
pub enum Anonymous<'a> {
    /// GetObject or HeadObject of `key`.
    Read(&'a str),
    /// ListObjects.
    List,
}

/// The home (and its owner's name) whose bucket `bucket` an anonymous request reaches:
/// the one enabled user's whose settings grant it (see the module doc); `None` when no
/// user's, or more than one user's, do (blocking).
pub fn anonymous_home(
    store: &Store,
    accounts: &Accounts,
    bucket: &str,
    ask: &Anonymous<'_>,
) -> Result<Option<(Home, String, Settings)>, EngineError> {
    let Ok(bp) = bucket_path(bucket) else {
        return Ok(None);
    };
    let key = match ask {
        Anonymous::Read(k) => match object_path(bucket, k) {
            Ok(p) if !k.ends_with('/') => Some(p),
            _ => return Ok(None),
        },
        Anonymous::List => None,
    };
    let mut found = None;
    for name in store.homes()? {
        if name.starts_with(STAGING_PREFIX) {
            continue;
        }
        match accounts.get(&name)? {
            Some(u) if !u.disabled => {}
            _ => continue,
        }
        let home = match store.home(&name) {
            Ok(h) => h,
            Err(EngineError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        match home.stat(&bp) {
            Ok(e) if e.kind == NodeKind::Dir => {}
            Ok(_) | Err(EngineError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        }
        let s = settings(&home, &bp)?;
        let grants = match &key {
            None => s.may_list(),
            Some(k) => match home.stat(k) {
                Ok(e) if e.kind == NodeKind::File => s.may_read(&e.attrs),
                // a missing key: 404 only where listing is allowed (as AWS), else 403
                Ok(_) | Err(EngineError::NotFound(_)) => s.may_list(),
                Err(e) => return Err(e),
            },
        };
        if grants {
            if found.is_some() {
                return Ok(None); // ambiguous: never guess whose
            }
            found = Some((home, name, s));
        }
    }
    Ok(found)
}

/// s3s's access check: a signed request goes on (the service checks its signer); an
/// unsigned one only for the reads in [`ANONYMOUS_OPS`], which the service then allows
/// only where a grant does. Everything else: 403 `AccessDenied` before the request is
/// parsed.
pub struct AnonymousReads {
    /// The server's switch (`s3_public_access`): off refuses every unsigned request.
    pub enabled: bool,
}

#[async_trait::async_trait]
impl S3Access for AnonymousReads {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            Ok(())
        } else if !self.enabled {
            Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Signature is required (anonymous access is off on this server: s3_public_access)",
            ))
        } else if ANONYMOUS_OPS.contains(&cx.s3_op().name()) {
            Ok(())
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Signature is required",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(acl: Canned) -> FileAttrs {
        let mut a = FileAttrs::default();
        acl.set_in(&mut a);
        a
    }

    #[test]
    fn grants_and_blocks() {
        let private = attrs(Canned::Private);
        let public = attrs(Canned::PublicRead);
        let mut s = Settings::default();
        assert!(!s.may_list() && !s.may_read(&private) && !s.is_public());
        assert!(s.may_read(&public), "an object's own public-read ACL");
        assert!(!s.may_read(&attrs(Canned::AuthenticatedRead)));
        s.acl = Canned::PublicRead;
        assert!(s.may_list() && s.may_read(&private) && s.is_public());
        s.block = Some(Block {
            ignore_public_acls: true,
            ..Default::default()
        });
        assert!(!s.may_list() && !s.may_read(&private) && !s.may_read(&public));
        s.policy = Some("{}".into());
        assert!(
            s.may_read(&private) && !s.may_list(),
            "a policy reads, never lists"
        );
        s.block = Some(Block {
            restrict_public_buckets: true,
            ..Default::default()
        });
        s.acl = Canned::Private;
        assert!(!s.may_read(&private) && !s.is_public());
        assert!(
            s.may_read(&public),
            "RestrictPublicBuckets leaves object ACLs"
        );
    }

    #[test]
    fn canned_acls_by_name() {
        for c in [
            Canned::Private,
            Canned::PublicRead,
            Canned::PublicReadWrite,
            Canned::AuthenticatedRead,
        ] {
            assert_eq!(Canned::parse(c.as_str()).unwrap(), c);
        }
        let e = Canned::parse("bucket-owner-full-control").unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NotImplemented);
        assert!(e.message().unwrap().contains("bucket-owner-full-control"));
        assert_eq!(
            *Canned::parse("everyone").unwrap_err().code(),
            S3ErrorCode::InvalidArgument
        );
    }
}
