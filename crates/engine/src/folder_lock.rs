//! A top-level folder's default retention (an S3 bucket's object lock configuration):
//! every new version written into the folder's tree without a lock of its own starts
//! with it, **whatever the door** — an S3 PUT, a WebDAV PUT, a REST upload, a multipart
//! completion, a copy (S3's, or the engine's tree copy behind a WebDAV, REST or CLI
//! COPY), a restored version. The rule is applied where a version is made (the writer,
//! the composition's commit, `Home::copy`, `Home::restore_version`), so no door can
//! forget it.
//!
//! Kept as the folder's dead property [`FOLDER_LOCK_PROP`] in [`FOLDER_LOCK_NS`] (the S3
//! door sets it with PutObjectLockConfiguration), as text: `Enabled` (object lock on, no
//! default), `Enabled GOVERNANCE 30d` or `Enabled COMPLIANCE 1y` (a year is 365 days).

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::time::now_ns;
use nas_meta::{ObjectLock, Retention, RetentionMode};
use nas_types::NasPath;

/// Namespace of the folder lock's dead property.
pub const FOLDER_LOCK_NS: &str = "urn:silent-nas:s3";
/// Name of the folder lock's dead property.
pub const FOLDER_LOCK_PROP: &str = "object-lock";

/// A folder's default retention: a mode and a period (`count` days, or years of 365 days
/// when `years`, kept as given so it can be answered as given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRetention {
    /// Governance or compliance.
    pub mode: RetentionMode,
    /// The period, in `years` or days.
    pub count: u32,
    /// Whether `count` is years.
    pub years: bool,
}

impl DefaultRetention {
    /// The period in days.
    pub fn days(&self) -> u32 {
        if self.years {
            self.count.saturating_mul(365)
        } else {
            self.count
        }
    }

    /// The retention of a version written at `now_ns`.
    pub fn at(&self, now_ns: i64) -> Retention {
        Retention {
            mode: self.mode,
            until_ns: now_ns.saturating_add(i64::from(self.days()) * 86_400 * 1_000_000_000),
        }
    }
}

fn mode_text(m: RetentionMode) -> &'static str {
    match m {
        RetentionMode::Governance => "GOVERNANCE",
        RetentionMode::Compliance => "COMPLIANCE",
    }
}

/// The text of a folder lock: on, with `default` if any.
pub fn encode_folder_lock(default: Option<&DefaultRetention>) -> String {
    match default {
        None => "Enabled".into(),
        Some(d) => format!(
            "Enabled {} {}{}",
            mode_text(d.mode),
            d.count,
            if d.years { "y" } else { "d" }
        ),
    }
}

/// A folder lock's text: `None` when it does not say `Enabled`; else its default.
pub fn parse_folder_lock(s: &str) -> Option<Option<DefaultRetention>> {
    let mut it = s.split(' ');
    if it.next()? != "Enabled" {
        return None;
    }
    let Some(mode) = it.next() else {
        return Some(None);
    };
    let mode = match mode {
        "GOVERNANCE" => RetentionMode::Governance,
        "COMPLIANCE" => RetentionMode::Compliance,
        _ => return None,
    };
    let period = it.next()?;
    let (n, years) = match period.strip_suffix('y') {
        Some(n) => (n, true),
        None => (period.strip_suffix('d')?, false),
    };
    Some(Some(DefaultRetention {
        mode,
        count: n.parse().ok()?,
        years,
    }))
}

impl Home {
    /// The lock a new version of `path` starts with: `lock` when it names a retention,
    /// else `lock` (its legal hold) with the default retention of the top-level folder
    /// `path` is in, as of now (none when that folder has none).
    pub fn lock_for_new_version(
        &self,
        path: &NasPath,
        lock: ObjectLock,
    ) -> EngineResult<ObjectLock> {
        if lock.retention.is_some() {
            return Ok(lock);
        }
        let mut segs = path.segments();
        let (Some(top), Some(_)) = (segs.next(), segs.next()) else {
            return Ok(lock); // a file at the root is in no bucket
        };
        let top = NasPath::parse(&format!("/{top}"))?;
        Ok(with_default(lock, self.folder_default(&top)?))
    }

    /// The lock every version a copy of `from` to `to` makes starts with (the engine's tree
    /// copy: a WebDAV, REST or CLI COPY): the default retention of the top-level folder the
    /// copy lands in. A folder copied to the root becomes a top-level folder itself,
    /// carrying its source's dead properties, so its source's default (if any) applies.
    pub(crate) fn lock_for_copy(
        &self,
        from: &NasPath,
        to: &NasPath,
        folder: bool,
    ) -> EngineResult<ObjectLock> {
        if to.segments().nth(1).is_some() {
            return self.lock_for_new_version(to, ObjectLock::default());
        }
        if !folder {
            return Ok(ObjectLock::default()); // a file at the root is in no bucket
        }
        Ok(with_default(
            ObjectLock::default(),
            self.folder_default(from)?,
        ))
    }

    /// The default retention folder `folder`'s dead property names (none without one).
    fn folder_default(&self, folder: &NasPath) -> EngineResult<Option<DefaultRetention>> {
        let props = match self.props(folder) {
            Ok(p) => p,
            Err(EngineError::NotFound(_) | EngineError::NotADirectory(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(p) = props
            .iter()
            .find(|p| p.ns == FOLDER_LOCK_NS && p.name == FOLDER_LOCK_PROP)
        else {
            return Ok(None);
        };
        // the property's element: `<s3:object-lock …>TEXT</s3:object-lock>`
        let xml = String::from_utf8_lossy(&p.value);
        let text = xml
            .split_once('>')
            .and_then(|(_, rest)| rest.rsplit_once('<'))
            .map_or("", |(t, _)| t);
        Ok(parse_folder_lock(text.trim()).flatten())
    }
}

/// `lock` with `default`'s retention as of now, when there is a default.
fn with_default(lock: ObjectLock, default: Option<DefaultRetention>) -> ObjectLock {
    match default {
        Some(d) => ObjectLock {
            retention: Some(d.at(now_ns())),
            legal_hold: lock.legal_hold,
        },
        None => lock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_locks_read_back_as_written() {
        for d in [
            None,
            Some(DefaultRetention {
                mode: RetentionMode::Governance,
                count: 30,
                years: false,
            }),
            Some(DefaultRetention {
                mode: RetentionMode::Compliance,
                count: 2,
                years: true,
            }),
        ] {
            assert_eq!(parse_folder_lock(&encode_folder_lock(d.as_ref())), Some(d));
        }
        assert_eq!(parse_folder_lock("Disabled"), None);
        assert_eq!(parse_folder_lock("Enabled SOMETIMES 1d"), None);
        assert_eq!(parse_folder_lock("Enabled GOVERNANCE 1w"), None);
    }
}
