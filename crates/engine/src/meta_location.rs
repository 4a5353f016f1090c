//! [`MetaLocation`]: where a store's metadata lives — the SQLite database in the data
//! directory (`meta.sqlite`, the single-node default) or a PostgreSQL database
//! (`postgres://…`, cluster mode, `docs/design/postgres.md`). Every open of a store or its
//! accounts goes through [`MetaLocation::open`], so no other module names a database.
//!
//! The data directory keeps the local packs and the [`crate::coord::LocalCoordinator`]'s
//! lock either way (one writing process per data directory). A URL's password is never
//! shown: `Display` and `Debug` print [`MetaLocation::redacted`].
//!
//! PostgreSQL needs this crate's `postgres` feature (on in the `silent-nas` binary);
//! without it a `postgres://` location fails to open, saying so.

use crate::error::{EngineError, EngineResult};
use nas_blob::PlacementLog;
use nas_meta::{AdvisoryLocks, MetaStore, SqliteMeta};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The SQLite database's file name in the data directory.
pub(crate) const SQLITE_FILE: &str = "meta.sqlite";

/// Where the metadata lives.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum MetaLocation {
    /// `meta.sqlite` in the data directory.
    #[default]
    DataDir,
    /// A PostgreSQL database: `postgres://user[:password]@host[:port]/db` (a host that is
    /// a percent-encoded path is a unix socket's directory).
    Postgres(String),
}

/// An opened metadata store, as both seams that keep records in it.
pub(crate) struct OpenedMeta {
    pub meta: Arc<dyn MetaStore>,
    /// Where the object-storage tier records its placements (the same database).
    pub placements: Arc<dyn PlacementLog>,
    /// Locks shared by every process using the database: `Some` for PostgreSQL, whose
    /// stores are shared by the nodes of a cluster.
    pub locks: Option<Arc<dyn AdvisoryLocks>>,
}

impl MetaLocation {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; an empty value or `sqlite` is
    /// the data directory's SQLite. Anything else is refused.
    pub fn parse(s: &str) -> EngineResult<MetaLocation> {
        let s = s.trim();
        if s.is_empty() || s == "sqlite" {
            Ok(MetaLocation::DataDir)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(MetaLocation::Postgres(s.to_owned()))
        } else {
            Err(EngineError::InvalidArgument(
                "metadata location: expected a postgres:// URL or \"sqlite\"".into(),
            ))
        }
    }

    /// Whether the metadata is in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, MetaLocation::Postgres(_))
    }

    /// For logs and messages: `sqlite (DIR/meta.sqlite)` is `sqlite`; a URL without its
    /// password (`postgres://user:***@host/db`).
    pub fn redacted(&self) -> String {
        match self {
            MetaLocation::DataDir => "sqlite".into(),
            MetaLocation::Postgres(url) => redact_url(url),
        }
    }

    /// Whether a store's metadata exists there: the SQLite file in `dir`; a PostgreSQL
    /// database is assumed to (opening it creates the schema).
    pub(crate) fn exists(&self, dir: &Path) -> bool {
        match self {
            MetaLocation::DataDir => dir.join(SQLITE_FILE).is_file(),
            MetaLocation::Postgres(_) => true,
        }
    }

    /// Opens (creating or migrating) the metadata of the store in `dir`.
    pub(crate) fn open(&self, dir: &Path) -> EngineResult<OpenedMeta> {
        match self {
            MetaLocation::DataDir => Ok(both(Arc::new(SqliteMeta::open(&dir.join(SQLITE_FILE))?))),
            MetaLocation::Postgres(url) => open_postgres(url),
        }
    }

    /// Opens the metadata for reading alongside a writer: SQLite read-only (it must
    /// exist, at this build's schema); PostgreSQL as always (the store refuses writes).
    pub(crate) fn open_read_only(&self, dir: &Path) -> EngineResult<OpenedMeta> {
        match self {
            MetaLocation::DataDir => Ok(both(Arc::new(SqliteMeta::open_read_only(
                &dir.join(SQLITE_FILE),
            )?))),
            MetaLocation::Postgres(url) => open_postgres(url),
        }
    }

    /// Fails, saying why, when the metadata is not the data directory's SQLite: `what`
    /// (a file copy of the database, its restore) only exists there.
    pub fn require_sqlite(&self, what: &str) -> EngineResult<()> {
        match self {
            MetaLocation::DataDir => Ok(()),
            MetaLocation::Postgres(_) => Err(EngineError::InvalidArgument(format!(
                "{what} works on the SQLite metadata of a data directory only; this store's \
                 metadata is in PostgreSQL ({}): back it up with pg_dump (or PostgreSQL's \
                 base backups) and restore it with pg_restore",
                self.redacted()
            ))),
        }
    }
}

fn both<M: MetaStore + PlacementLog + 'static>(m: Arc<M>) -> OpenedMeta {
    OpenedMeta {
        meta: m.clone(),
        placements: m,
        locks: None,
    }
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> EngineResult<OpenedMeta> {
    let m = nas_meta::PgMeta::connect(url).map_err(|e| {
        EngineError::Internal(format!(
            "cannot open the metadata in PostgreSQL ({}): {e}",
            redact_url(url)
        ))
    })?;
    let m = Arc::new(m);
    Ok(OpenedMeta {
        meta: m.clone(),
        placements: m.clone(),
        locks: Some(m),
    })
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &str) -> EngineResult<OpenedMeta> {
    Err(EngineError::InvalidArgument(format!(
        "metadata in PostgreSQL ({}): this build has no PostgreSQL support \
         (nas-engine's `postgres` feature)",
        redact_url(url)
    )))
}

/// `url` with the password of its user part replaced by `***` (and a `password=` query
/// parameter's value too).
fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority_end, _) = rest
        .char_indices()
        .find(|&(_, c)| c == '/' || c == '?')
        .unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

impl fmt::Display for MetaLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for MetaLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MetaLocation({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        let l = MetaLocation::parse("postgres://nas:s3cret@db.example:5432/nas").unwrap();
        assert_eq!(l.redacted(), "postgres://nas:***@db.example:5432/nas");
        assert!(!format!("{l} {l:?}").contains("s3cret"));
        let l =
            MetaLocation::parse("postgresql://nas@h/db?password=s3cret&sslmode=disable").unwrap();
        assert_eq!(
            l.redacted(),
            "postgresql://nas@h/db?password=***&sslmode=disable"
        );
        assert_eq!(
            MetaLocation::parse("postgres://u@%2Ftmp%2Fx:5432/db")
                .unwrap()
                .redacted(),
            "postgres://u@%2Ftmp%2Fx:5432/db"
        );
    }

    #[test]
    fn only_postgres_urls_and_sqlite_are_taken() {
        assert_eq!(MetaLocation::parse("").unwrap(), MetaLocation::DataDir);
        assert_eq!(
            MetaLocation::parse("sqlite").unwrap(),
            MetaLocation::DataDir
        );
        assert!(MetaLocation::parse("mysql://x/y").is_err());
        assert!(MetaLocation::parse("postgres://x/y").unwrap().is_postgres());
    }
}
