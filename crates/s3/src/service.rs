//! [`NasS3`]: the `s3s::S3` trait on the engine. Each method resolves the caller's home from
//! the verified access key, then delegates to `objects` / `list`.

use crate::keys::{blocking, bucket_path};
use crate::public::Settings;
use crate::staging::{UploadLocks, staging_name};
use crate::{
    acl, attributes, complete, cors, delete, lifecycle, list, multipart, object_lock,
    object_retention, objects, policy, read, tagging, versioning, versions,
};
use nas_auth::Principal;
use nas_engine::{Accounts, EngineError, Home, NodeKind, Store};
use nas_types::NasPath;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::sync::Arc;
use std::time::Duration;

/// The S3 door over a store.
#[derive(Clone)]
pub struct NasS3 {
    pub(crate) store: Store,
    pub(crate) accounts: Accounts,
    uploads: Arc<UploadLocks>,
}

impl NasS3 {
    /// The door over `store`.
    pub fn new(store: Store) -> Self {
        let accounts = store.accounts();
        let uploads = Arc::new(store.keyed_locks("s3-uploads"));
        NasS3 {
            store,
            accounts,
            uploads,
        }
    }

    /// Purges multipart uploads started more than `age` ago (for the expiry worker).
    /// Returns how many were removed.
    pub fn expire_uploads(&self, age: Duration) -> Result<usize, EngineError> {
        crate::staging::expire_uploads(&self.store, age, &self.uploads)
    }

    /// Purges multipart uploads their bucket's lifecycle rules abort, with rules' days
    /// `day` long (for the lifecycle worker). Returns how many were removed.
    pub fn abort_uploads_by_lifecycle(&self, day: Duration) -> Result<usize, EngineError> {
        crate::staging::abort_by_lifecycle(&self.store, day, &self.uploads)
    }

    /// The caller's staging home (multipart uploads in progress).
    pub(crate) async fn staging(&self, who: &Principal) -> S3Result<Home> {
        let (store, name) = (self.store.clone(), staging_name(&who.name));
        blocking(move || store.home(&name)).await
    }

    /// The locks serializing completion and abort of each upload.
    pub(crate) fn upload_locks(&self) -> &UploadLocks {
        &self.uploads
    }

    /// The signed-in user's home (requests are signed: s3s verified the key already, and
    /// its owner was kept for this request; a home not yet opened by this process costs a
    /// trip to the blocking pool).
    pub(crate) async fn caller<T>(&self, req: &S3Request<T>) -> S3Result<(Home, Principal)> {
        let Some(cred) = &req.credentials else {
            return Err(s3_error!(AccessDenied, "anonymous access is not allowed"));
        };
        let store = self.store.clone();
        if let Some(who) = crate::auth::signed_in(&cred.access_key)
            && let Some(home) = store.cached_home(&who.name)
        {
            noted(req, &who);
            return Ok((home, who));
        }
        let (acc, key) = (self.accounts.clone(), cred.access_key.clone());
        let found = tokio::task::spawn_blocking(move || {
            let (who, _) =
                nas_auth::key_owner(&acc, &key).map_err(|_| EngineError::NotFound("key".into()))?;
            Ok::<_, EngineError>((store.home(&who.name)?, who))
        })
        .await;
        match found {
            Ok(Ok(x)) => {
                noted(req, &x.1);
                Ok(x)
            }
            Ok(Err(EngineError::NotFound(_))) => Err(s3_error!(InvalidAccessKeyId)),
            _ => Err(s3_error!(InternalError)),
        }
    }

    pub(crate) async fn writer<T>(&self, req: &S3Request<T>) -> S3Result<(Home, Principal)> {
        let (home, who) = self.caller(req).await?;
        if !who.role.can_write() {
            return Err(s3_error!(AccessDenied, "read-only account"));
        }
        Ok((home, who))
    }
}

pub(crate) use crate::keys::{is_bucket, need_bucket, owner_of, timestamp};

#[async_trait::async_trait]
impl S3 for NasS3 {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let (home, who) = self.caller(&req).await?;
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        // the token is the last bucket name of the page before (names sort bytewise)
        let after = input.continuation_token.clone().filter(|t| !t.is_empty());
        let max = match input.max_buckets {
            Some(n) if !(1..=10_000).contains(&n) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "max-buckets must be an integer between 1 and 10000",
                ));
            }
            Some(n) => n as usize,
            None => usize::MAX,
        };
        let mut buckets = Vec::new();
        let mut truncated = false;
        // names matching the prefix sort at or after it: start there, or after the token
        let mut cursor = match after {
            Some(a) if a >= prefix => Some(a),
            _ if prefix.is_empty() => None,
            _ => {
                // the listing starts after the cursor: a bucket named the prefix itself
                // is looked up on its own
                let (h, p) = (home.clone(), NasPath::root().join(&prefix).ok());
                let exact = blocking(move || match p.map(|p| h.stat(&p)) {
                    Some(Ok(e)) if e.kind == NodeKind::Dir => Ok(Some(e)),
                    _ => Ok(None),
                })
                .await?;
                buckets.extend(exact);
                Some(prefix.clone())
            }
        };
        'pages: loop {
            let (h, c) = (home.clone(), cursor.clone());
            let page = blocking(move || h.list(&NasPath::root(), c.as_deref(), 1000)).await?;
            for e in page.entries {
                if e.kind != NodeKind::Dir {
                    continue;
                }
                if !e.name().starts_with(&prefix) {
                    if e.name() > prefix.as_str() {
                        break 'pages;
                    }
                    continue;
                }
                if buckets.len() == max {
                    truncated = true;
                    break 'pages;
                }
                buckets.push(e);
            }
            match page.next_after {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let token = truncated
            .then(|| buckets.last().map(|e| e.name().to_owned()))
            .flatten();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(
                buckets
                    .into_iter()
                    .map(|e| Bucket {
                        name: Some(e.name().to_owned()),
                        creation_date: Some(timestamp(e.mtime_ns)),
                        bucket_region: Some(crate::REGION.into()),
                    })
                    .collect(),
            ),
            continuation_token: token,
            owner: Some(owner_of(&who.name)),
            prefix: input.prefix,
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let (home, _) = self.writer(&req).await?;
        let p = bucket_path(&req.input.bucket)?;
        let canned = acl::requested(
            req.input.acl.as_ref().map(|a| a.as_str()),
            &Settings::default(),
        )?;
        let h = home.clone();
        let lock = req.input.object_lock_enabled_for_bucket == Some(true);
        let b = req.input.bucket.clone();
        let made = tokio::task::spawn_blocking(move || {
            let e = h.mkdir(&p)?;
            if let Some(c) = canned.filter(|c| *c != crate::public::Canned::Private) {
                crate::public::store_setting(&h, &p, crate::public::ACL_PROP, Some(c.as_str()))?;
            }
            if lock {
                object_lock::enable(&h, &b)?; // versioning stays Enabled: never set
            }
            Ok(e)
        })
        .await;
        match made {
            Ok(Ok(_)) => Ok(S3Response::new(CreateBucketOutput {
                location: Some(format!("/{}", req.input.bucket)),
            })),
            // us-east-1's legacy answer (the one region here): 200, the bucket unchanged
            Ok(Err(EngineError::AlreadyExists(_))) => {
                let (h, p) = (home.clone(), bucket_path(&req.input.bucket)?);
                if blocking(move || is_bucket(&h, &p)).await? {
                    Ok(S3Response::new(CreateBucketOutput {
                        location: Some(format!("/{}", req.input.bucket)),
                    }))
                } else {
                    Err(s3_error!(BucketAlreadyOwnedByYou))
                }
            }
            Ok(Err(e)) => Err(crate::keys::s3_err(e)),
            Err(_) => Err(s3_error!(InternalError)),
        }
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let (home, _) = self.caller(&req).await?;
        need_bucket(&home, &req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some("us-east-1".into()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let (home, _) = self.caller(&req).await?;
        need_bucket(&home, &req.input.bucket).await?;
        Ok(S3Response::new(GetBucketLocationOutput::default())) // empty = us-east-1
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let (home, _) = self.writer(&req).await?;
        need_bucket(&home, &req.input.bucket).await?;
        let p = bucket_path(&req.input.bucket)?;
        let empty = {
            let (h, p) = (home.clone(), p.clone());
            blocking(move || Ok(h.list(&p, None, 1)?.entries.is_empty())).await?
        };
        if !empty {
            return Err(s3_error!(BucketNotEmpty));
        }
        blocking(move || home.delete(&p).map(|_| ())).await?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        objects::put(self, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        read::get(self, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        read::head(self, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        delete::delete(self, req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        delete::delete_many(self, req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        objects::copy(self, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        list::list_v2(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        multipart::create(self, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        multipart::upload_part(self, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        crate::part_copy::upload_part_copy(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        complete::complete(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart::abort(self, req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        multipart::list_parts(self, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart::list_uploads(self, req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        list::list_v1(self, req).await
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        versions::list_versions(self, req).await
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        versioning::get(self, req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        versioning::put(self, req).await
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        cors::put(self, req).await
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        lifecycle::put(self, req).await
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        lifecycle::get(self, req).await
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        lifecycle::delete(self, req).await
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        cors::get(self, req).await
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        cors::delete(self, req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        tagging::put(self, req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        tagging::get(self, req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        tagging::delete(self, req).await
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        attributes::get(self, req).await
    }

    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        acl::put_bucket(self, req).await
    }

    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        acl::get_bucket(self, req).await
    }

    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        acl::put_object(self, req).await
    }

    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        acl::get_object(self, req).await
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        policy::put(self, req).await
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        policy::get(self, req).await
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        policy::delete(self, req).await
    }

    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        policy::status(self, req).await
    }

    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        policy::put_block(self, req).await
    }

    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        policy::get_block(self, req).await
    }

    async fn delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        policy::delete_block(self, req).await
    }

    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        object_lock::put_configuration(self, req).await
    }

    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        object_lock::get_configuration(self, req).await
    }

    async fn put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        object_retention::put_retention(self, req).await
    }

    async fn get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        object_retention::get_retention(self, req).await
    }

    async fn put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        object_retention::put_legal_hold(self, req).await
    }

    async fn get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        object_retention::get_legal_hold(self, req).await
    }
}

/// Names the signed-in user in the request's audit note (for the audit log and the
/// shutdown's line about an upload it cut off).
fn noted<T>(req: &S3Request<T>, who: &Principal) {
    if let Some(note) = req.extensions.get::<nas_engine::audit::AuditNote>() {
        note.set_user(&who.name);
    }
}
