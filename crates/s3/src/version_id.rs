//! Version ids given by clients: an operation that names a version acts on exactly that
//! version or refuses, never on another. Ids are the engine's version numbers (`1`, `2`,
//! …); `null` (S3's id of a version written while versioning was off) is well-formed and
//! names no version here, since every bucket keeps versions. Anything else is malformed:
//! `InvalidArgument` (400), as AWS answers. A well-formed id that names no version is
//! `NoSuchVersion` (404) for reads and copies, and a success that removes nothing for
//! deletes (deletes are idempotent, as on AWS).

use nas_engine::{EngineError, Home};
use nas_types::{NasPath, VersionNum};
use s3s::{S3Error, S3ErrorCode, S3Result};

/// The version an id names: `None` for `null` (no version has it).
pub fn parse(id: &str) -> S3Result<Option<VersionNum>> {
    if id == "null" {
        return Ok(None);
    }
    let ok = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    match id.parse::<u64>() {
        Ok(n) if ok && n > 0 => Ok(Some(VersionNum(n))),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid version id specified",
        )),
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

/// Removes exactly version `num` of the file at `p` (blocking). The object's only version
/// takes the object with it (to the trash, like any delete). A missing file or version
/// removes nothing.
pub fn delete(home: &Home, p: &NasPath, num: Option<VersionNum>) -> Result<(), EngineError> {
    let Some(num) = num else {
        return Ok(());
    };
    let versions = match home.versions(p) {
        Ok(v) => v,
        Err(EngineError::NotFound(_) | EngineError::IsADirectory(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    if !versions.iter().any(|v| v.num == num) {
        return Ok(());
    }
    if versions.len() > 1 {
        return match home.delete_version(p, num) {
            Err(EngineError::NotFound(_)) => Ok(()), // removed meanwhile
            other => other,
        };
    }
    // the only version: the object goes, if that version is still its head
    match home.stat(p) {
        Ok(e) if e.version == Some(num) => home.delete(p).map(|_| ()),
        Ok(_) | Err(EngineError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
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
