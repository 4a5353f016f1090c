//! The store's connections: opening them on the store's own runtime, the idle pool, the
//! statement cache, and the transaction wrappers (`write` with retry, `read`, `auto`).

use super::{MAX_IDLE, schema};
use crate::{MetaError, MetaResult};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

/// How often a write transaction is tried before its serialization failure is returned.
const MAX_TRIES: u32 = 64;

/// Metadata in a PostgreSQL database (see the module doc of `postgres`).
pub struct PgMeta {
    rt: Option<tokio::runtime::Runtime>,
    config: Config,
    idle: Arc<Mutex<Vec<Conn>>>,
    /// Held by each write transaction of this store, retries included: one writer at a
    /// time per store, as on SQLite (see `write`).
    writer: Mutex<()>,
    queries: AtomicU64,
    retries: AtomicU64,
}

/// One connection and its prepared statements (by SQL text).
pub(super) struct Conn {
    client: Client,
    stmts: RefCell<HashMap<String, Statement>>,
}

/// Bound parameters of one statement.
pub(super) type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// A connection lent to one method (inside its transaction, if it runs one).
pub(super) struct Db<'a> {
    conn: &'a Conn,
    queries: &'a AtomicU64,
    /// The `BEGIN …` not sent yet: it goes out with the transaction's first statement.
    begin: Cell<Option<&'static str>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> MetaError {
    MetaError::Backend(Box::new(e))
}

/// A serialization failure or a deadlock: the transaction may succeed when run again.
fn retryable(e: &MetaError) -> bool {
    let MetaError::Backend(b) = e else {
        return false;
    };
    b.downcast_ref::<tokio_postgres::Error>()
        .and_then(|e| e.code())
        .is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        })
}

/// Runs `a` and `b` together, `a` polled first: each sends its request on its first
/// poll, so the two go out in that order and come back in one round trip.
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}

impl Db<'_> {
    /// Waits for one round trip to the server (which also carries the transaction's
    /// `BEGIN` when it is the first).
    fn wait<T>(&self, f: impl Future<Output = Result<T, tokio_postgres::Error>>) -> MetaResult<T> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        match self.begin.take() {
            None => Ok(pollster::block_on(f)?),
            Some(begin) => {
                let (began, out) =
                    pollster::block_on(both(self.conn.client.batch_execute(begin), f));
                began?;
                Ok(out?)
            }
        }
    }

    fn stmt(&self, sql: &str) -> MetaResult<Statement> {
        if let Some(s) = self.conn.stmts.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.wait(self.conn.client.prepare(sql))?;
        self.conn
            .stmts
            .borrow_mut()
            .insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Every row `sql` returns.
    pub fn rows(&self, sql: &str, p: Params<'_>) -> MetaResult<Vec<Row>> {
        let st = self.stmt(sql)?;
        self.wait(self.conn.client.query(&st, p))
    }

    /// The row `sql` returns, if any (an error if more than one).
    pub fn opt(&self, sql: &str, p: Params<'_>) -> MetaResult<Option<Row>> {
        let st = self.stmt(sql)?;
        self.wait(self.conn.client.query_opt(&st, p))
    }

    /// The one row `sql` returns.
    pub fn one(&self, sql: &str, p: Params<'_>) -> MetaResult<Row> {
        let st = self.stmt(sql)?;
        self.wait(self.conn.client.query_one(&st, p))
    }

    /// Runs `sql`; the number of rows it changed.
    pub fn exec(&self, sql: &str, p: Params<'_>) -> MetaResult<u64> {
        let st = self.stmt(sql)?;
        self.wait(self.conn.client.execute(&st, p))
    }

    /// Whether `sql` returns a row.
    pub fn exists(&self, sql: &str, p: Params<'_>) -> MetaResult<bool> {
        Ok(self.opt(sql, p)?.is_some())
    }

    /// Runs statements without parameters (the simple protocol).
    pub fn batch(&self, sql: &str) -> MetaResult<()> {
        self.wait(self.conn.client.batch_execute(sql))
    }
}

impl PgMeta {
    /// Connects to the database at `url` (`postgres://user@host:port/db`; a host that is
    /// a path, percent-encoded, or `?host=/dir` names a unix socket's directory), creating
    /// or migrating its schema. Refuses a schema newer than this build's.
    pub fn connect(url: &str) -> MetaResult<Self> {
        let config: Config = url
            .parse()
            .map_err(|e| MetaError::Invalid(format!("PostgreSQL URL: {e}")))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nas-meta-pg")
            .enable_all()
            .build()
            .map_err(backend)?;
        let me = PgMeta {
            rt: Some(rt),
            config,
            idle: Arc::default(),
            writer: Mutex::new(()),
            queries: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        };
        me.with_conn(schema::migrate)?;
        Ok(me)
    }

    /// Statements sent to the server so far (round trips, counting `BEGIN` and `COMMIT`
    /// and the first preparation of each statement on each connection).
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Write transactions run again after a serialization failure or deadlock, so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    fn open_conn(&self) -> MetaResult<Conn> {
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| MetaError::Invalid("the store is closed".into()))?;
        let config = self.config.clone();
        let (client, connection) =
            pollster::block_on(rt.spawn(async move { config.connect(NoTls).await }))
                .map_err(backend)??;
        // the socket's I/O runs on our runtime until the client is dropped
        rt.spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            client,
            stmts: RefCell::new(HashMap::new()),
        })
    }

    /// An idle connection that is still open (those the server closed meanwhile — a
    /// restart, an administrator's `pg_terminate_backend` — are dropped), or a new one.
    fn checkout(&self) -> MetaResult<Conn> {
        loop {
            let popped = lock(&self.idle).pop();
            match popped {
                Some(c) if c.client.is_closed() => continue,
                Some(c) => return Ok(c),
                None => return self.open_conn(),
            }
        }
    }

    /// Runs `f` on an idle connection (or a new one), then puts it back.
    fn with_conn<T>(&self, f: impl FnOnce(&Db<'_>) -> MetaResult<T>) -> MetaResult<T> {
        let conn = self.checkout()?;
        let out = f(&Db {
            conn: &conn,
            queries: &self.queries,
            begin: Cell::new(None),
        });
        give_back(&self.idle, conn);
        out
    }

    /// A connection of its own, out of the pool until [`PgMeta::session_end`]: for state
    /// that lives as long as a session (an advisory lock).
    pub(super) fn session(&self) -> MetaResult<Session> {
        Ok(Session {
            conn: Some(self.checkout()?),
            idle: self.idle.clone(),
        })
    }

    /// Runs `f` on `session`'s connection, outside any transaction.
    pub(super) fn on_session<T>(
        &self,
        session: &Session,
        f: impl FnOnce(&Db<'_>) -> MetaResult<T>,
    ) -> MetaResult<T> {
        let conn = session
            .conn
            .as_ref()
            .ok_or_else(|| MetaError::Invalid("the session has ended".into()))?;
        f(&Db {
            conn,
            queries: &self.queries,
            begin: Cell::new(None),
        })
    }

    /// Runs `f` inside `begin` … `COMMIT` (`ROLLBACK` when it fails). `BEGIN` goes out
    /// with `f`'s first statement; when `f` sent none, neither is sent.
    fn transaction<T>(
        &self,
        begin: &'static str,
        f: impl FnOnce(&Db<'_>) -> MetaResult<T>,
    ) -> MetaResult<T> {
        self.with_conn(|db| {
            db.begin.set(Some(begin));
            let out = f(db);
            let began = db.begin.take().is_none();
            match out {
                Ok(v) => {
                    if began {
                        db.batch("COMMIT")?;
                    }
                    Ok(v)
                }
                Err(e) => {
                    if began {
                        let _ = db.batch("ROLLBACK");
                    }
                    Err(e)
                }
            }
        })
    }

    /// Runs `f` in one `SERIALIZABLE` write transaction, committed when `f` returns `Ok`;
    /// run again from the start (after a short random pause) when PostgreSQL reports a
    /// serialization failure or a deadlock.
    ///
    /// The writes of one store run one at a time (a process-local lock, held across the
    /// retries), as SQLite's single writer did: serialization conflicts then arise only
    /// between stores (servers), at most one transaction of each at a time. Without it,
    /// eight threads committing into one home made PostgreSQL cancel one transaction 64
    /// times in a row (SSI's "pivot" cancellations on the home's counter row).
    pub(super) fn write<T>(&self, mut f: impl FnMut(&Db<'_>) -> MetaResult<T>) -> MetaResult<T> {
        let _writer = lock(&self.writer);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", &mut f) {
                Err(e) if tries < MAX_TRIES && retryable(&e) => {
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(pause(tries));
                }
                out => return out,
            }
        }
    }

    /// Runs `f` in one read-only snapshot (`REPEATABLE READ READ ONLY`, which never fails
    /// to serialize).
    pub(super) fn read<T>(&self, f: impl FnOnce(&Db<'_>) -> MetaResult<T>) -> MetaResult<T> {
        self.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", f)
    }

    /// Calls `f` on every row of `sql` (no parameters), fetched a batch at a time through
    /// a portal, in one read-only snapshot: memory stays bounded however many rows.
    pub(super) fn scan(
        &self,
        sql: &str,
        f: &mut dyn FnMut(&Row) -> MetaResult<()>,
    ) -> MetaResult<()> {
        const BATCH: i32 = 1000;
        let mut conn = self.checkout()?;
        let out = (|| {
            let q = &self.queries;
            let wait = |n: u64| q.fetch_add(n, Ordering::Relaxed);
            wait(2);
            let tx = pollster::block_on(
                conn.client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start(),
            )?;
            let portal = pollster::block_on(tx.bind(sql, &[]))?;
            loop {
                wait(1);
                let rows = pollster::block_on(tx.query_portal(&portal, BATCH))?;
                for r in &rows {
                    f(r)?;
                }
                if rows.len() < BATCH as usize {
                    break;
                }
            }
            wait(1);
            pollster::block_on(tx.commit())?;
            Ok(())
        })();
        give_back(&self.idle, conn);
        out
    }

    /// Runs `f`, which sends one statement, without a transaction around it.
    pub(super) fn auto<T>(&self, f: impl FnOnce(&Db<'_>) -> MetaResult<T>) -> MetaResult<T> {
        self.with_conn(f)
    }
}

/// Puts `conn` back among the idle connections (unless the server closed it, or enough
/// are idle).
fn give_back(idle: &Mutex<Vec<Conn>>, conn: Conn) {
    if !conn.client.is_closed() {
        let mut idle = lock(idle);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// A connection taken out of the pool ([`PgMeta::session`]); it goes back when dropped.
pub(super) struct Session {
    conn: Option<Conn>,
    idle: Arc<Mutex<Vec<Conn>>>,
}

impl Session {
    /// Runs `sql` (no result wanted) on the session's connection, without the store: for
    /// a release in a destructor.
    pub(super) fn run(&self, sql: &str, p: Params<'_>) -> MetaResult<()> {
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| MetaError::Invalid("the session has ended".into()))?;
        pollster::block_on(conn.client.execute(sql, p))?;
        Ok(())
    }
}

impl Session {
    /// Closes the connection instead of giving it back (its session state is in doubt).
    pub(super) fn discard(mut self) {
        self.conn = None;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            give_back(&self.idle, c);
        }
    }
}

/// A random pause before try `tries` + 1, its range doubling up to 0–100 ms.
fn pause(tries: u32) -> Duration {
    let cap = (100u64 << tries.min(10)).min(100_000); // µs
    let noise = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    Duration::from_micros(noise % cap + 50)
}

impl Drop for PgMeta {
    fn drop(&mut self) {
        lock(&self.idle).clear();
        if let Some(rt) = self.rt.take() {
            // no blocking wait: the store may be dropped on a runtime's thread
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn isolation(db: &Db<'_>) -> MetaResult<String> {
        Ok(db
            .one("SELECT current_setting('transaction_isolation')", &[])?
            .try_get(0)?)
    }

    /// `BEGIN` rides with a transaction's first statement, and every statement after it
    /// runs inside it; a transaction that sends nothing costs nothing.
    #[test]
    fn transactions_run_at_their_isolation_level_in_one_round_trip_less() {
        let url = nas_testkit::pg::TestPg::shared().fresh_db();
        let m = PgMeta::connect(&url).unwrap();
        let read = m.read(|db| Ok((isolation(db)?, isolation(db)?))).unwrap();
        assert_eq!(read, ("repeatable read".into(), "repeatable read".into()));
        let write = m.write(|db| Ok((isolation(db)?, isolation(db)?))).unwrap();
        assert_eq!(write, ("serializable".into(), "serializable".into()));
        assert_eq!(m.auto(isolation).unwrap(), "read committed");
        let before = m.queries();
        m.write(isolation).unwrap();
        assert_eq!(
            m.queries() - before,
            2,
            "BEGIN + the statement, then COMMIT"
        );
        let before = m.queries();
        m.write(|_| Ok(())).unwrap();
        assert_eq!(m.queries(), before, "nothing sent");
    }
}
