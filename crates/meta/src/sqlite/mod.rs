//! [`SqliteMeta`]: the embedded implementation (SQLite in WAL mode, `synchronous=FULL`).
//!
//! One writer connection behind a mutex (SQLite has one writer anyway; every write is a
//! `BEGIN IMMEDIATE` transaction) and a small pool of reader connections that run
//! concurrently with it (WAL readers see the last committed state and never block).

mod apps;
mod audit;
mod chunks;
mod documents;
mod failures;
mod implicit;
mod locks;
mod name_index;
mod namespace;
mod nodes;
mod placement;
mod recode;
mod rows;
mod schema;
mod search;
mod shares;
mod trash;
mod users;
mod versions;

pub use schema::SCHEMA_VERSION;

use crate::{MetaError, MetaResult, MetaStore};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const MAX_IDLE_READERS: usize = 16;

/// Metadata in one SQLite file.
pub struct SqliteMeta {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Settings every connection gets. The query planner stability guarantee stops SQLite
/// (built with STAT4) from re-preparing cached statements whenever a bound value changes,
/// which otherwise costs a third of the time of a metadata-heavy import.
fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    tune(conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "cache_size", -8000)?; // 8 MiB for the writer; readers keep 2 MiB
    Ok(())
}

/// This process's clock, ns since the Unix epoch (a single SQLite server's "now" for the
/// tables whose PostgreSQL twin uses the database's clock).
fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl SqliteMeta {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> MetaResult<Self> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteMeta {
            path: path.to_path_buf(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Opens an existing database read-only, alongside a process that writes it (SQLite's
    /// WAL lets readers in while one writer works). Nothing is created or migrated: the
    /// schema must be this build's; every write fails.
    pub fn open_read_only(path: &Path) -> MetaResult<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        tune(&conn)?;
        schema::check(&conn)?;
        Ok(SqliteMeta {
            path: path.to_path_buf(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// A new read-only connection.
    fn open_reader(&self) -> MetaResult<Connection> {
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        tune(&c)?;
        Ok(c)
    }

    /// Runs `f` on a reader connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> MetaResult<T>) -> MetaResult<T> {
        let conn = match lock(&self.readers).pop() {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` in one immediate write transaction, committed when `f` returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> MetaResult<T>) -> MetaResult<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Fsyncs the WAL, under the writer's lock: every transaction committed so far, those
    /// of [`write_deferred`](SqliteMeta::write_deferred) too, is durable when it returns.
    /// (Without a WAL file, everything was checkpointed into the database, which a
    /// checkpoint fsyncs.)
    fn sync_wal(&self) -> MetaResult<()> {
        let _writer = lock(&self.writer);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        match std::fs::File::open(&wal) {
            Ok(f) => f.sync_all().map_err(|e| MetaError::Backend(Box::new(e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(MetaError::Backend(Box::new(e))),
        }
    }

    /// As [`write`](SqliteMeta::write), but the commit does not fsync the WAL
    /// (`synchronous=NORMAL` for this one transaction): the next `FULL` commit's fsync of
    /// the WAL covers these frames too, since the WAL is appended in order. A crash before
    /// that loses this transaction, never one committed after it.
    fn write_deferred<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> MetaResult<T>,
    ) -> MetaResult<T> {
        let mut conn = lock(&self.writer);
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let out = (|| -> MetaResult<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        // back to FULL whatever happened: every other transaction is durable on commit
        let restored = conn.pragma_update(None, "synchronous", "FULL");
        let out = out?;
        restored?;
        Ok(out)
    }
}

impl MetaStore for SqliteMeta {
    fn backup(&self, dest: &Path) -> MetaResult<()> {
        let dest = dest
            .to_str()
            .ok_or_else(|| MetaError::Invalid("backup path is not UTF-8".into()))?;
        self.read(|c| {
            c.execute("VACUUM INTO ?1", [dest])?;
            Ok(())
        })
    }

    /// Reads a value from the `settings` table.
    fn setting(&self, key: &str) -> MetaResult<Option<String>> {
        self.read(|c| schema::get_setting(c, key))
    }

    /// Writes a value to the `settings` table.
    fn set_setting(&self, key: &str, value: &str) -> MetaResult<()> {
        self.write(|tx| schema::set_setting(tx, key, value))
    }

    /// Runs SQLite's own integrity check, on a connection of its own. Not on a pooled
    /// reader: FTS5 keeps the structure of an index (its list of segments) cached per
    /// connection, refreshes it when a query opens a cursor on the table but not when the
    /// integrity check reads it, so a reader that searched before the indexer wrote would
    /// check the new segments against its stale list and report a checksum mismatch or
    /// "corruption found reading blob" (it did, in `name_index_tests`) — on an intact
    /// database. A fresh connection loads the structure inside the check's own snapshot.
    fn integrity_check(&self) -> MetaResult<Vec<String>> {
        let c = self.open_reader()?;
        let mut st = c.prepare("PRAGMA integrity_check")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        let out: Vec<String> = rows.collect::<Result<_, _>>()?;
        Ok(out.into_iter().filter(|s| s != "ok").collect())
    }
}

#[cfg(test)]
mod name_index_tests;
#[cfg(test)]
mod quota_tests;
#[cfg(test)]
mod tests;
