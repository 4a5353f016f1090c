//! The `[meta]` section: where the metadata lives. Unset, it is the SQLite database in the
//! data directory (`meta.sqlite`), exactly as a single node has always kept it; `url =
//! "postgres://user:password@host:5432/db"` puts it in PostgreSQL (cluster mode,
//! `docs/design/postgres.md`). The data directory still holds the local packs and its
//! lock. The URL's password is never logged or printed ([`MetaLocation`]'s `Display`
//! leaves it out).

use super::env;
use anyhow::{Result, anyhow};
use nas_engine::MetaLocation;
use serde::Deserialize;

/// The environment variable naming the metadata's location (for `serve` and every
/// command that takes `--data`).
pub const ENV: &str = "SILENT_NAS_META_URL";

/// The `[meta]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaFile {
    /// `postgres://…` (or `sqlite`, the default: the data directory's database).
    pub url: Option<String>,
}

/// The `--meta` flag, then `SILENT_NAS_META_URL`, then the file's `[meta] url`.
pub fn resolve(file: Option<MetaFile>, flag: Option<String>) -> Result<MetaLocation> {
    let url = flag.or_else(|| env(ENV)).or(file.and_then(|f| f.url));
    parse(url.as_deref())
}

/// `s` (unset: SQLite in the data directory) as a location; the error never repeats the
/// value (it may hold a password).
pub fn parse(s: Option<&str>) -> Result<MetaLocation> {
    match s {
        None => Ok(MetaLocation::DataDir),
        Some(s) => MetaLocation::parse(s).map_err(|e| anyhow!("[meta] url: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_and_a_bad_url_is_refused_without_echoing_it() {
        let f = || {
            Some(MetaFile {
                url: Some("postgres://file@h/db".into()),
            })
        };
        let l = resolve(f(), Some("postgres://flag:pw@h/db".into())).unwrap();
        assert_eq!(l, MetaLocation::Postgres("postgres://flag:pw@h/db".into()));
        assert_eq!(l.to_string(), "postgres://flag:***@h/db");
        let e = resolve(None, Some("mysql://u:secretpw@h/db".into())).unwrap_err();
        assert!(!format!("{e:#}").contains("secretpw"), "{e:#}");
        assert_eq!(parse(None).unwrap(), MetaLocation::DataDir);
    }
}
