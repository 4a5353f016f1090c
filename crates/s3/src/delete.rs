//! DeleteObject and DeleteObjects. Without a version id a file goes to the trash, and its
//! trash entry is the key's delete marker (`markers`): the answer carries
//! `x-amz-delete-marker: true` and the marker's version id. With a version id exactly that
//! version (or marker) goes, or nothing (`version_id::delete`).

use crate::keys::{blocking, object_path};
use crate::markers;
use crate::service::{NasS3, need_bucket};
use crate::version_id;
use nas_engine::{EngineError, Home, NodeKind, TrashRecord};
use nas_types::NasPath;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// Most keys one DeleteObjects request may name (AWS's limit; more is `MalformedXML`).
pub const MAX_DELETE_KEYS: usize = 1000;

/// What one delete did, as S3 reports it.
struct Outcome {
    /// The version id to answer (the new marker's, or the one asked for).
    version_id: Option<String>,
    /// A delete marker was made or removed.
    delete_marker: bool,
}

/// Deletes one key, or one version of it (blocking); `bypass`: the request's
/// `x-amz-bypass-governance-retention: true` (a governance retention does not stop it).
fn delete_one(
    home: &Home,
    key: &str,
    p: &NasPath,
    id: Option<String>,
    bypass: bool,
) -> S3Result<Outcome> {
    if let Some(id) = id {
        let vid = markers::parse(&id)?;
        let removed_marker =
            version_id::delete(home, p, vid, bypass).map_err(crate::keys::s3_err)?;
        return Ok(Outcome {
            version_id: Some(id),
            delete_marker: removed_marker || matches!(vid, markers::Vid::Marker(_)),
        });
    }
    let marker = delete_key(home, p, key.ends_with('/')).map_err(crate::keys::s3_err)?;
    Ok(Outcome {
        version_id: marker.as_ref().map(markers::id_of),
        delete_marker: marker.is_some(),
    })
}

pub async fn delete(
    s3: &NasS3,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let p = object_path(&input.bucket, &input.key)?;
    let (key, id) = (input.key, input.version_id);
    let bypass = input.bypass_governance_retention.unwrap_or(false);
    let out = run(move || delete_one(&home, &key, &p, id, bypass)).await?;
    Ok(S3Response::new(DeleteObjectOutput {
        version_id: out.version_id,
        delete_marker: out.delete_marker.then_some(true),
        ..Default::default()
    }))
}

async fn run<T: Send + 'static>(f: impl FnOnce() -> S3Result<T> + Send + 'static) -> S3Result<T> {
    blocking(move || Ok(f())).await?
}

/// Deletes the object at `p` as S3 does: a missing key is a success; a key naming a folder
/// deletes nothing below it. A `key/` marker (`marker`) lets its folder go: deleted if
/// empty, else left to go with its last object (implicit). A file goes to the trash, and
/// an implicit folder left empty with it (the engine's rule). Answers the key's delete
/// marker: the new trash entry, or for a key deleted already its current marker.
pub(crate) fn delete_key(
    home: &Home,
    p: &NasPath,
    marker: bool,
) -> Result<Option<TrashRecord>, EngineError> {
    let r = match home.stat(p) {
        Ok(e) if e.kind == NodeKind::File && !marker => home.delete(p).map(Some),
        Ok(e) if e.kind == NodeKind::Dir && marker => home.release_folder(p).map(|()| None),
        Ok(_) => Ok(None), // the other kind: no such object
        Err(e) => Err(e),
    };
    match r {
        Err(EngineError::NotFound(_) | EngineError::NotADirectory(_)) if !marker => {
            markers::current(home, p)
        }
        Err(EngineError::NotFound(_)) => Ok(None),
        r => r,
    }
}

pub async fn delete_many(
    s3: &NasS3,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let quiet = input.delete.quiet.unwrap_or(false);
    if input.delete.objects.len() > MAX_DELETE_KEYS {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            format!("DeleteObjects takes at most {MAX_DELETE_KEYS} keys a request"),
        ));
    }
    let bypass = input.bypass_governance_retention.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for obj in input.delete.objects {
        let key = obj.key.clone();
        let vid = obj.version_id.clone();
        let result = match object_path(&input.bucket, &key) {
            Ok(p) => {
                let (h, k, id) = (home.clone(), key.clone(), vid.clone());
                run(move || delete_one(&h, &k, &p, id, bypass)).await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(out) if !quiet => deleted.push(DeletedObject {
                key: Some(key),
                version_id: vid.clone(),
                delete_marker: out.delete_marker.then_some(true),
                delete_marker_version_id: out.version_id.filter(|_| out.delete_marker),
            }),
            Ok(_) => {}
            Err(e) => errors.push(Error {
                version_id: vid,
                key: Some(key),
                code: Some(e.code().as_str().to_owned()),
                message: e.message().map(str::to_owned),
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: if errors.is_empty() {
            None
        } else {
            Some(errors)
        },
        ..Default::default()
    }))
}
