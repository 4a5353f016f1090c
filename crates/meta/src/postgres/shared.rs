//! [`Documents`] and [`AdvisoryLocks`] on PostgreSQL: what the nodes of a cluster share
//! besides the file tree (`crate::shared`).
//!
//! An advisory lock is a session lock (`pg_advisory_lock`) on a connection taken out of
//! the pool for as long as it is held: dropping the [`HeldLock`] unlocks it and gives the
//! connection back; a node that dies ends its sessions, and PostgreSQL releases its locks.
//! A connection whose unlock fails is closed, never pooled with the lock still on it.

use super::PgMeta;
use super::conn::Session;
use crate::{AdvisoryLocks, Document, Documents, HeldLock, MetaResult};

impl Documents for PgMeta {
    fn document(&self, name: &str) -> MetaResult<Option<Document>> {
        self.auto(|db| {
            db.opt(
                "SELECT bytes, version FROM documents WHERE name = $1",
                &[&name],
            )?
            .map(|r| {
                Ok(Document {
                    bytes: r.try_get(0)?,
                    version: r.try_get(1)?,
                })
            })
            .transpose()
        })
    }

    fn document_version(&self, name: &str) -> MetaResult<Option<i64>> {
        self.auto(|db| {
            db.opt("SELECT version FROM documents WHERE name = $1", &[&name])?
                .map(|r| Ok(r.try_get(0)?))
                .transpose()
        })
    }

    fn put_document(&self, name: &str, bytes: &[u8]) -> MetaResult<i64> {
        self.write(|db| {
            Ok(db
                .one(
                    "INSERT INTO documents (name, bytes, version) VALUES ($1, $2, 1)
                     ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes,
                       version = documents.version + 1
                     RETURNING version",
                    &[&name, &bytes],
                )?
                .try_get(0)?)
        })
    }

    fn create_document(&self, name: &str, bytes: &[u8]) -> MetaResult<Vec<u8>> {
        self.write(|db| {
            db.exec(
                "INSERT INTO documents (name, bytes, version) VALUES ($1, $2, 1)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &bytes],
            )?;
            Ok(db
                .one("SELECT bytes FROM documents WHERE name = $1", &[&name])?
                .try_get(0)?)
        })
    }
}

/// An advisory lock held on its own session; unlocked when dropped.
struct Advisory {
    session: Option<Session>,
    key: i64,
}

impl Drop for Advisory {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            match s.run("SELECT pg_advisory_unlock($1)", &[&self.key]) {
                Ok(()) => drop(s),
                Err(_) => s.discard(),
            }
        }
    }
}

impl AdvisoryLocks for PgMeta {
    fn lock(&self, key: i64) -> MetaResult<HeldLock> {
        let session = self.session()?;
        self.on_session(&session, |db| {
            db.exec("SELECT pg_advisory_lock($1)", &[&key])?;
            Ok(())
        })?;
        Ok(HeldLock::new(Advisory {
            session: Some(session),
            key,
        }))
    }

    fn try_lock(&self, key: i64) -> MetaResult<Option<HeldLock>> {
        let session = self.session()?;
        let got: bool = self.on_session(&session, |db| {
            Ok(db
                .one("SELECT pg_try_advisory_lock($1)", &[&key])?
                .try_get(0)?)
        })?;
        Ok(got.then(|| {
            HeldLock::new(Advisory {
                session: Some(session),
                key,
            })
        }))
    }
}
