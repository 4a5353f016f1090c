//! Version ids given by clients: an operation that names a version acts on exactly that
//! version or refuses, never on another. Ids are the engine's version numbers (`1`, `2`,
//! …) and, for delete markers, `dm` and a trash entry's id (`markers`); `null` (S3's id of
//! a version written while versioning was off) is well-formed and names no version here
//! (a suspended bucket's versions keep their numbers: `versioning`). Anything else is
//! malformed: `InvalidArgument` (400), as AWS answers. A well-formed id that names no
//! version is `NoSuchVersion` (404) for reads and copies, and a success that removes
//! nothing for deletes (deletes are idempotent, as on AWS).

use crate::markers::{self, Vid};
use nas_engine::{
    EngineError, FileAttrs, Home, Located, LockChange, TrashRecord, VersionRecord, now_ns,
};
use nas_types::{NasPath, TrashId, VersionNum};
use s3s::dto::CopySource;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// The version an id names: `None` for `null` (no version has it).
pub fn parse(id: &str) -> S3Result<Option<VersionNum>> {
    if id == "null" {
        return Ok(None);
    }
    let ok = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    match id.parse::<u64>() {
        Ok(n) if ok && n > 0 => Ok(Some(VersionNum(n))),
        _ => Err(malformed()),
    }
}

/// `NoSuchVersion`, naming the id.
pub fn no_such_version(id: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchVersion,
        format!("The specified version does not exist: {id}"),
    )
}

/// The version `id` names, which must exist (`NoSuchVersion` otherwise).
pub fn existing(id: &str) -> S3Result<VersionNum> {
    parse(id)?.ok_or_else(|| no_such_version(id))
}

/// The object a copy reads (CopyObject, UploadPartCopy): its bucket and key, its path, and
/// the version `versionId` names (which must exist), with the id as the client gave it.
pub struct CopyFrom<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub path: NasPath,
    pub version: Option<VersionNum>,
    pub version_id: Option<&'a str>,
}

/// Reads a copy source (`x-amz-copy-source`); access points are not supported.
pub fn copy_from(source: &CopySource) -> S3Result<CopyFrom<'_>> {
    let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = source
    else {
        return Err(s3_error!(
            NotImplemented,
            "access point copy sources are not supported"
        ));
    };
    Ok(CopyFrom {
        bucket,
        key,
        path: crate::keys::object_path(bucket, key)?,
        version: version_id.as_deref().map(existing).transpose()?,
        version_id: version_id.as_deref(),
    })
}

/// `InvalidArgument`: a version id that is neither a version number, `null` nor a delete
/// marker's id.
pub fn malformed() -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid version id specified")
}

/// Replaces the attributes of version `num` at `p` in place (blocking): of the file there
/// now, or, with `trashed`, of the deleted file in that trash entry (a version behind a
/// delete marker, as `read::named_version` found it).
pub fn set_attrs(
    home: &Home,
    p: &NasPath,
    num: VersionNum,
    trashed: Option<TrashId>,
    attrs: &FileAttrs,
) -> Result<(), EngineError> {
    match trashed {
        Some(t) => home.trash_set_version_attrs(t, num, attrs),
        None => home.set_version_attrs(p, num, attrs),
    }
}

/// Changes the object lock of version `num` at `p` (blocking), wherever it is (see
/// [`set_attrs`]); the engine holds the rules (`Retained` when they refuse).
pub fn set_lock(
    home: &Home,
    p: &NasPath,
    num: VersionNum,
    trashed: Option<TrashId>,
    change: LockChange,
    bypass: bool,
) -> Result<VersionRecord, EngineError> {
    match trashed {
        Some(t) => home.trash_set_version_lock(t, num, change, bypass),
        None => home.set_version_lock(p, Some(num), change, bypass),
    }
}

/// Removes exactly what `vid` names at `p` (blocking); true when that was a delete marker.
/// - a version of the file at `p`: removed for good; the previous one becomes current. The
///   only version takes the object with it, for good too (it was asked for by id: it does
///   not reappear as a delete marker's version);
/// - a version of a file deleted from `p` (behind one of the key's delete markers): removed
///   for good; the marker stays, also when no version is left behind it (as on AWS);
/// - the key's current delete marker: the file is restored from the trash (the object is
///   back, its newest version current) — or, with no version left behind the marker, the
///   marker (the trash entry) just goes;
/// - an older delete marker of the key: just that marker goes; the versions of the file it
///   held stay in the key's history, below the newer file's
///   (`Home::trash_merge_into_next`).
///
/// Anything else (a missing file, version or marker, `null`) removes nothing. A version
/// under object lock is refused (`Retained`, before anything changes); `bypass` (the
/// owner sent `x-amz-bypass-governance-retention: true`) passes over a governance
/// retention, never a compliance one or a legal hold.
pub fn delete(home: &Home, p: &NasPath, vid: Vid, bypass: bool) -> Result<bool, EngineError> {
    let num = match vid {
        Vid::Version(None) => return Ok(false),
        Vid::Version(Some(num)) => num,
        Vid::Marker(id) => {
            let Some(t) = markers::named(home, p, id)? else {
                return Ok(false);
            };
            if markers::is_current(home, &t)? {
                if markers::versions(home, &t)?.is_empty() {
                    home.trash_purge(t.id)?; // a marker with nothing behind it
                } else {
                    home.trash_restore(t.id, None)?;
                }
            } else {
                home.trash_merge_into_next(t.id)?;
            }
            return Ok(true);
        }
    };
    let versions = match home.locate_version(p, num)? {
        None => return Ok(false),
        Some(Located::Trashed(t, v)) => {
            return delete_trashed(home, &t, &v, bypass).map(|()| false);
        }
        Some(Located::Live(_)) => match home.versions(p) {
            Ok(v) => v,
            Err(EngineError::NotFound(_) | EngineError::NotADirectory(_)) => return Ok(false),
            Err(e) => return Err(e),
        },
    };
    let Some(v) = versions.iter().find(|v| v.num == num) else {
        return Ok(false);
    };
    refuse_locked(v, bypass)?;
    if versions.len() > 1 {
        let r = if bypass {
            home.delete_version_bypassing_governance(p, num)
        } else {
            home.delete_version(p, num)
        };
        return match r {
            Err(EngineError::NotFound(_)) => Ok(false), // removed meanwhile
            other => other.map(|()| false),
        };
    }
    // the only version: the object goes for good, if that version is still its head
    match home.stat(p) {
        Ok(e) if e.version == Some(num) => {
            if bypass && v.lock.retention.is_some() {
                // the purge below has no bypass: drop the governance retention first
                home.set_version_lock(p, Some(num), LockChange::Retention(None), true)?;
            }
            let t = home.delete(p)?;
            home.trash_purge(t.id).map(|()| false)
        }
        Ok(_) | Err(EngineError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `Retained` when version `v` may not be deleted now (with `bypass`: a governance
/// retention does not count). Checked before anything changes; the engine checks again.
fn refuse_locked(v: &VersionRecord, bypass: bool) -> Result<(), EngineError> {
    if v.lock.blocks_delete(now_ns(), bypass) {
        return Err(EngineError::Retained(format!(
            "version {} is under object lock",
            v.num
        )));
    }
    Ok(())
}

/// Removes version `v` of the file deleted from its key in trash entry `t`; the entry
/// (the marker) stays, also when it was its last version.
fn delete_trashed(
    home: &Home,
    t: &TrashRecord,
    v: &VersionRecord,
    bypass: bool,
) -> Result<(), EngineError> {
    refuse_locked(v, bypass)?;
    let r = if bypass {
        home.trash_delete_version_bypassing_governance(t.id, v.num)
    } else {
        home.trash_delete_version(t.id, v.num)
    };
    match r {
        Err(EngineError::NotFound(_)) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_numbers_or_null() {
        assert_eq!(parse("7").unwrap(), Some(VersionNum(7)));
        assert_eq!(parse("null").unwrap(), None);
        for bad in [
            "",
            "0",
            "abc",
            "-1",
            "+1",
            "1.0",
            " 1",
            "99999999999999999999999",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::InvalidArgument, "{bad:?}");
        }
        assert_eq!(
            *existing("null").unwrap_err().code(),
            S3ErrorCode::NoSuchVersion
        );
    }
}
