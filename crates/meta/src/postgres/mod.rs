//! [`PgMeta`]: the metadata in PostgreSQL (cluster mode, `docs/design/postgres.md`).
//!
//! **Driver.** The `MetaStore` traits are synchronous and their callers are threads of
//! tokio's blocking pool, the engine's committer and workers. The synchronous `postgres`
//! crate runs a runtime of its own per call and panics inside another runtime's context,
//! so it is not used. Instead `tokio-postgres`: each connection's `Connection` future
//! (the socket I/O) runs on a small runtime owned by the store (one worker thread), and
//! the calling thread waits on its query futures with `pollster::block_on`. A `Client`'s
//! futures only talk to their `Connection` through channels, so they need no runtime of
//! their own and are polled on any thread (checked by every test here: the suite calls
//! from plain threads). Borrowed arguments are passed as they are, without copies.
//!
//! **Pool.** Idle connections wait in a `Mutex<Vec<_>>`; a call takes one (opening a new
//! one when none is idle) and gives it back, up to [`MAX_IDLE`]. Each connection caches
//! its prepared statements, so a statement costs one round trip after its first use. A
//! transaction's `BEGIN` goes out with its first statement, not as a round trip of its own.
//!
//! **Transactions.** Every method is one transaction. Writes run `SERIALIZABLE`, one at a
//! time per store, and are retried (from the start, on a fresh snapshot) on a
//! serialization failure or deadlock:
//! PostgreSQL then guarantees what SQLite's single writer gave, that the outcome is that
//! of some one-at-a-time order, so every invariant the SQLite code keeps by running alone
//! holds here too (see the design note for the per-invariant reasoning). Reads of more than
//! one statement run in one `REPEATABLE READ READ ONLY` snapshot; single-statement reads
//! run alone.

mod accounts;
mod chunks;
mod conn;
mod failures;
mod implicit;
mod name_index;
mod namespace;
mod nodes;
mod placement;
mod recode;
mod rows;
mod schema;
mod search;
mod shared;
mod trash;
mod users;
mod versions;

pub use conn::PgMeta;

use crate::{MetaError, MetaResult, MetaStore};
use std::path::Path;

/// Most idle connections kept.
pub const MAX_IDLE: usize = 16;

impl MetaStore for PgMeta {
    /// Not done by the store: a consistent copy of a PostgreSQL database is `pg_dump`'s
    /// job (or the server's own base backups and WAL archive), which the operator runs
    /// against the database. Fails with [`MetaError::Invalid`] saying so, and writes
    /// nothing at `dest`.
    fn backup(&self, dest: &Path) -> MetaResult<()> {
        Err(MetaError::Invalid(format!(
            "the metadata is in PostgreSQL: back it up with pg_dump (or PostgreSQL's base \
             backups), not to {}",
            dest.display()
        )))
    }

    fn setting(&self, key: &str) -> MetaResult<Option<String>> {
        self.auto(|db| {
            db.opt("SELECT value FROM settings WHERE key = $1", &[&key])?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(Into::into)
        })
    }

    fn set_setting(&self, key: &str, value: &str) -> MetaResult<()> {
        self.write(|db| {
            db.exec(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )?;
            Ok(())
        })
    }

    /// A few consistency queries in one snapshot (PostgreSQL checks its own pages; these
    /// check what the schema cannot say): heads that are not a version of their node,
    /// extents' chunks missing, negative reference counts, trash entries whose node is
    /// gone or attached.
    fn integrity_check(&self) -> MetaResult<Vec<String>> {
        const CHECKS: &[(&str, &str)] = &[
            (
                "nodes whose head is not one of their versions",
                "SELECT count(*) FROM nodes n WHERE n.head IS NOT NULL AND NOT EXISTS
                 (SELECT 1 FROM versions v WHERE v.id = n.head AND v.node = n.id)",
            ),
            (
                "chunks with a negative reference count",
                "SELECT count(*) FROM chunks WHERE refs < 0",
            ),
            (
                "delta chunks whose base is missing",
                "SELECT count(*) FROM chunks c WHERE c.base IS NOT NULL AND NOT EXISTS
                 (SELECT 1 FROM chunks b WHERE b.id = c.base)",
            ),
            (
                "trash entries whose node is missing or attached",
                "SELECT count(*) FROM trash t WHERE NOT EXISTS
                 (SELECT 1 FROM nodes n WHERE n.id = t.node AND n.parent IS NULL)",
            ),
            (
                "nodes whose parent is missing",
                "SELECT count(*) FROM nodes n WHERE n.parent IS NOT NULL AND NOT EXISTS
                 (SELECT 1 FROM nodes p WHERE p.id = n.parent)",
            ),
        ];
        self.read(|db| {
            let mut out = Vec::new();
            for (what, sql) in CHECKS {
                let n: i64 = db.one(sql, &[])?.try_get(0)?;
                if n > 0 {
                    out.push(format!("{n} {what}"));
                }
            }
            Ok(out)
        })
    }
}
