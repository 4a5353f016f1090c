//! Canned ACLs: Get/PutBucketAcl, Get/PutObjectAcl and the `x-amz-acl` header of
//! CreateBucket, PutObject, CopyObject and CreateMultipartUpload. Only the canned ACLs of
//! [`Canned`] are taken; grant headers and ACL documents answer `NotImplemented`. What
//! the ACLs allow anonymous requests: `public`.

use crate::keys::{blocking, bucket_path, object_path};
use crate::public::{self, ACL_PROP, Canned, Settings};
use crate::read::named_version;
use crate::service::{NasS3, need_bucket, owner_of};
use crate::version_id;
use nas_engine::Home;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

fn only_canned() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NotImplemented,
        "only canned ACLs (x-amz-acl: private, public-read, public-read-write, \
         authenticated-read) are supported, not grants or ACL documents",
    )
}

/// The canned ACL of a request's `x-amz-acl`, refusing a public one when the bucket's
/// public access block has `BlockPublicAcls` (403 `AccessDenied`, as AWS).
pub fn requested(acl: Option<&str>, bucket: &Settings) -> S3Result<Option<Canned>> {
    let Some(a) = acl else { return Ok(None) };
    let c = Canned::parse(a)?;
    if c.is_public() && bucket.block.is_some_and(|b| b.block_public_acls) {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied: the bucket's public access block (BlockPublicAcls) refuses public ACLs",
        ));
    }
    Ok(Some(c))
}

/// The public settings of `owner`'s bucket `bucket`.
pub async fn bucket_settings(home: &Home, bucket: &str) -> S3Result<Settings> {
    let (h, p) = (home.clone(), bucket_path(bucket)?);
    blocking(move || public::settings(&h, &p)).await
}

/// The grants a canned ACL stands for (the owner always has full control).
fn grants(owner: &str, c: Canned) -> Grants {
    let group = |uri: &str, perm: &'static str| Grant {
        grantee: Some(Grantee {
            type_: Type::from_static(Type::GROUP),
            uri: Some(uri.into()),
            display_name: None,
            email_address: None,
            id: None,
        }),
        permission: Some(Permission::from_static(perm)),
    };
    let mut g = vec![Grant {
        grantee: Some(Grantee {
            type_: Type::from_static(Type::CANONICAL_USER),
            id: Some(owner.into()),
            display_name: Some(owner.into()),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }];
    match c {
        Canned::Private => {}
        Canned::PublicRead => g.push(group(ALL_USERS, Permission::READ)),
        Canned::PublicReadWrite => {
            g.push(group(ALL_USERS, Permission::READ));
            g.push(group(ALL_USERS, Permission::WRITE));
        }
        Canned::AuthenticatedRead => g.push(group(AUTHENTICATED_USERS, Permission::READ)),
    }
    g
}

macro_rules! refuse_grants {
    ($input:expr) => {
        if $input.access_control_policy.is_some()
            || $input.grant_full_control.is_some()
            || $input.grant_read.is_some()
            || $input.grant_read_acp.is_some()
            || $input.grant_write.is_some()
            || $input.grant_write_acp.is_some()
        {
            return Err(only_canned());
        }
    };
}

pub async fn put_bucket(
    s3: &NasS3,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    refuse_grants!(input);
    let s = bucket_settings(&home, &input.bucket).await?;
    let Some(c) = requested(input.acl.as_ref().map(|a| a.as_str()), &s)? else {
        return Err(S3Error::with_message(
            S3ErrorCode::MissingSecurityHeader,
            "PutBucketAcl needs x-amz-acl",
        ));
    };
    let p = bucket_path(&input.bucket)?;
    blocking(move || public::store_setting(&home, &p, ACL_PROP, Some(c.as_str()))).await?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

pub async fn get_bucket(
    s3: &NasS3,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let (home, who) = s3.caller(&req).await?;
    need_bucket(&home, &req.input.bucket).await?;
    let s = bucket_settings(&home, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants(&who.name, s.acl)),
        owner: Some(owner_of(&who.name)),
    }))
}

pub async fn put_object(
    s3: &NasS3,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    refuse_grants!(input);
    // the current version, or the one `versionId` names (also behind a delete marker)
    let (e, trashed) = named_version(
        &home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
    )
    .await?;
    let num = e.version.ok_or_else(|| s3s::s3_error!(NoSuchKey))?;
    let mut attrs = e.attrs;
    let s = bucket_settings(&home, &input.bucket).await?;
    let Some(c) = requested(input.acl.as_ref().map(|a| a.as_str()), &s)? else {
        return Err(S3Error::with_message(
            S3ErrorCode::MissingSecurityHeader,
            "PutObjectAcl needs x-amz-acl",
        ));
    };
    c.set_in(&mut attrs);
    let p = object_path(&input.bucket, &input.key)?;
    blocking(move || version_id::set_attrs(&home, &p, num, trashed, &attrs)).await?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub async fn get_object(
    s3: &NasS3,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let (home, who) = s3.caller(&req).await?;
    let input = req.input;
    let (e, _) = named_version(
        &home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
    )
    .await?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(grants(&who.name, Canned::of_attrs(&e.attrs))),
        owner: Some(owner_of(&who.name)),
        ..Default::default()
    }))
}
