//! The audit log: who changed what, and which sign-ins or permissions were refused, at
//! every door. Doors (through the server's middleware) hand entries to an [`AuditLog`],
//! which queues them on a bounded channel and returns at once; one background thread
//! stores them in batches (gathered for up to 200 ms, one metadata transaction per batch)
//! and keeps only the newest `max_entries`. A request never waits for the database: when the queue is full (the
//! database is stuck), entries are dropped and counted ([`AuditLog::counts`], with the
//! entries a failed write lost and the old ones pruned).
//!
//! [`AuditNote`] is the request-scoped slot through which a door tells the middleware what
//! only it knows: the signed-in user (a bearer token's owner, the name tried at a failed
//! sign-in) and the destination of a move or copy.
//!
//! ```
//! use nas_engine::audit::{AuditLog, AuditQuery, AuditRecord};
//! let dir = tempfile::tempdir().unwrap();
//! let store = nas_engine::Store::open(dir.path(), Default::default()).unwrap();
//! let log = AuditLog::start(&store, 1000).unwrap();
//! log.record(AuditRecord {
//!     id: 0, time_ns: nas_engine::now_ns(), user: Some("alice".into()),
//!     door: "webdav".into(), kind: "write".into(), client: None, method: "PUT".into(),
//!     path: "/dav/a.txt".into(), status: 201, destination: None, access_key: None,
//! });
//! let page = log.query(&AuditQuery { limit: 10, ..Default::default() }).unwrap();
//! assert_eq!(page[0].path, "/dav/a.txt");
//! log.stop();
//! ```

use crate::error::{EngineError, EngineResult};
use crate::store::Store;
pub use nas_meta::{AuditQuery, AuditRecord};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Entries waiting for the writer before new ones are dropped.
const QUEUE: usize = 65_536;
/// Entries stored per transaction at most.
const BATCH: usize = 1_024;
/// How long the writer gathers entries before storing them (unless a flush is waiting).
const LINGER: Duration = Duration::from_millis(200);

/// How long the writer sleeps between looks at its queue while gathering (the most a
/// flush waits).
const SLICE: Duration = Duration::from_millis(10);
/// How long [`AuditLog::flush`] waits for the writer.
const FLUSH_WAIT: Duration = Duration::from_secs(10);

enum Msg {
    Entry(Box<AuditRecord>),
    Flush(SyncSender<()>),
    Stop,
}

/// The audit log of a store. Cheap to clone; [`AuditLog::stop`] ends the writer.
#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    failed: AtomicU64,
    pruned: AtomicU64,
}

/// What the audit log lost or let go of since it started (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditCounts {
    /// Entries dropped before reaching the writer: its queue was full (the database was
    /// behind) or it had stopped.
    pub dropped: u64,
    /// Entries the writer could not store (the database refused their batch).
    pub failed: u64,
    /// Stored entries deleted because the log keeps only the newest `max_entries`.
    pub pruned: u64,
}

/// What a door knows of a request that the middleware cannot see: put into the request's
/// extensions by the middleware, filled by the door. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct AuditNote(Arc<Mutex<NoteFields>>);

#[derive(Debug, Default)]
struct NoteFields {
    user: Option<String>,
    destination: Option<String>,
}

impl AuditNote {
    fn fields(&self) -> std::sync::MutexGuard<'_, NoteFields> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The signed-in user, or the name a refused sign-in tried.
    pub fn set_user(&self, name: &str) {
        self.fields().user = Some(name.to_owned());
    }

    /// The destination of a move or copy.
    pub fn set_destination(&self, to: &str) {
        self.fields().destination = Some(to.to_owned());
    }

    /// The user, if the door named one.
    pub fn user(&self) -> Option<String> {
        self.fields().user.clone()
    }

    /// The destination, if the door named one.
    pub fn destination(&self) -> Option<String> {
        self.fields().destination.clone()
    }
}

impl AuditLog {
    /// Starts the writer of `store`'s audit log, keeping the newest `max_entries` (≥ 1).
    pub fn start(store: &Store, max_entries: u64) -> EngineResult<AuditLog> {
        if max_entries == 0 {
            return Err(EngineError::InvalidArgument(
                "the audit log must keep at least one entry".into(),
            ));
        }
        let (tx, rx) = sync_channel(QUEUE);
        let writer = store.clone();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let handle = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_loop(&writer, &rx, max_entries, &c))?;
        Ok(AuditLog {
            store: store.clone(),
            tx,
            counters,
            thread: Arc::new(Mutex::new(Some(handle))),
        })
    }

    /// Queues an entry; never blocks. Returns false (and counts it) if it was dropped.
    /// Fields a client chooses (user name tried, method, path, destination, access key)
    /// are cut to [`MAX_FIELD`] bytes, so no request can store more than a few KiB here.
    pub fn record(&self, mut e: AuditRecord) -> bool {
        clamp_fields(&mut e);
        match self.tx.try_send(Msg::Entry(Box::new(e))) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Entries dropped because the queue was full or the writer had stopped.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Entries dropped, lost to a failed write, and pruned, since the log started.
    pub fn counts(&self) -> AuditCounts {
        let c = &self.counters;
        AuditCounts {
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            pruned: c.pruned.load(Ordering::Relaxed),
        }
    }

    /// Waits until every entry queued before this call is stored. Blocking.
    pub fn flush(&self) -> EngineResult<()> {
        let (done_tx, done_rx) = sync_channel(1);
        self.tx
            .send(Msg::Flush(done_tx))
            .map_err(|_| EngineError::Internal("the audit log is stopped".into()))?;
        done_rx
            .recv_timeout(FLUSH_WAIT)
            .map_err(|_| EngineError::Internal("the audit writer did not answer".into()))
    }

    /// A page of stored entries, newest first, after a [`flush`](Self::flush) (so it
    /// includes every request answered before the call). Blocking.
    pub fn query(&self, q: &AuditQuery) -> EngineResult<Vec<AuditRecord>> {
        self.flush()?;
        Ok(self.store.inner.meta.audit(q)?)
    }

    /// Stores what is queued and ends the writer; later entries are dropped. Idempotent.
    pub fn stop(&self) {
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = self.tx.send(Msg::Stop);
            let _ = h.join();
        }
    }
}

/// Owners of S3 access keys, looked up once per writer.
struct KeyOwners<'a> {
    store: &'a Store,
    known: HashMap<String, Option<String>>,
}

impl KeyOwners<'_> {
    fn owner(&mut self, key: &str) -> Option<String> {
        if let Some(o) = self.known.get(key) {
            return o.clone();
        }
        let o = self
            .store
            .accounts()
            .key(key)
            .ok()
            .flatten()
            .map(|k| k.user);
        if self.known.len() > 10_000 {
            self.known.clear();
        }
        self.known.insert(key.to_owned(), o.clone());
        o
    }
}

fn write_loop(store: &Store, rx: &Receiver<Msg>, keep: u64, counters: &Counters) {
    let mut owners = KeyOwners {
        store,
        known: HashMap::new(),
    };
    let mut batch: Vec<AuditRecord> = Vec::new();
    let mut waiting: Vec<SyncSender<()>> = Vec::new();
    loop {
        let Ok(first) = rx.recv() else {
            return; // every AuditLog is gone
        };
        let mut stop = false;
        let mut next = Some(first);
        let until = Instant::now() + LINGER;
        // Gather for up to LINGER, so a steady stream of requests costs a few transactions
        // a second, not one each. While gathering the writer sleeps in short slices and
        // drains the queue between them instead of blocking in `recv`: a sender finds no
        // receiver waiting, so queuing an entry wakes no thread (at thousands of requests a
        // second that was a context switch each). A flush or stop ends the wait.
        loop {
            match next.take() {
                Some(Msg::Entry(mut e)) => {
                    if e.user.is_none()
                        && let Some(k) = &e.access_key
                    {
                        e.user = owners.owner(k);
                    }
                    batch.push(*e);
                }
                Some(Msg::Flush(done)) => waiting.push(done),
                Some(Msg::Stop) => stop = true,
                None => {}
            }
            if stop || batch.len() >= BATCH {
                break;
            }
            match rx.try_recv() {
                Ok(m) => {
                    next = Some(m);
                    continue;
                }
                Err(TryRecvError::Disconnected) => {
                    stop = true;
                    break;
                }
                Err(TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if !waiting.is_empty() || now >= until {
                break;
            }
            std::thread::sleep(SLICE.min(until - now));
        }
        match store.inner.meta.append_audit(&batch, keep) {
            Ok(pruned) => {
                counters.pruned.fetch_add(pruned, Ordering::Relaxed);
            }
            Err(e) => {
                counters
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                eprintln!("audit log: cannot store {} entries: {e}", batch.len());
            }
        }
        batch.clear();
        for w in waiting.drain(..) {
            let _ = w.send(());
        }
        if stop {
            return;
        }
    }
}

/// Longest text field of a stored entry, in bytes (longer ones end with `…`).
pub const MAX_FIELD: usize = 1024;

fn clamp(s: &mut String) {
    if s.len() > MAX_FIELD {
        let mut cut = MAX_FIELD - '…'.len_utf8();
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

fn clamp_fields(e: &mut AuditRecord) {
    for f in [&mut e.method, &mut e.path, &mut e.door, &mut e.kind] {
        clamp(f);
    }
    for f in [
        &mut e.user,
        &mut e.client,
        &mut e.destination,
        &mut e.access_key,
    ]
    .into_iter()
    .flatten()
    {
        clamp(f);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn client_chosen_fields_are_cut() {
        let mut e = entry(0, Some(&"K".repeat(5000)));
        e.user = Some("é".repeat(3000));
        e.method = "X".repeat(60_000);
        clamp_fields(&mut e);
        assert!(e.method.len() <= MAX_FIELD && e.method.ends_with('…'));
        assert!(e.user.as_ref().unwrap().len() <= MAX_FIELD);
        assert!(e.access_key.as_ref().unwrap().len() <= MAX_FIELD);
        assert_eq!(e.path, "/b/0", "short fields stay");
    }

    fn entry(i: usize, key: Option<&str>) -> AuditRecord {
        AuditRecord {
            id: 0,
            time_ns: i as i64,
            user: None,
            door: "s3".into(),
            kind: "write".into(),
            client: None,
            method: "PUT".into(),
            path: format!("/b/{i}"),
            status: 200,
            destination: None,
            access_key: key.map(str::to_owned),
        }
    }

    #[test]
    fn entries_are_stored_in_batches_bounded_and_keys_name_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Default::default()).unwrap();
        store
            .accounts()
            .create_key(&nas_meta::KeyRecord {
                access_key: "SNKEY".into(),
                secret: "s".into(),
                user: "alice".into(),
                created_ns: 0,
                revoked: false,
                name: None,
                read_only: false,
            })
            .unwrap();
        let log = AuditLog::start(&store, 50).unwrap();
        for i in 0..80 {
            assert!(log.record(entry(i, Some(if i % 2 == 0 { "SNKEY" } else { "NOPE" }))));
        }
        let all = log
            .query(&AuditQuery {
                limit: 1000,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.len(), 50);
        assert_eq!(log.counts().pruned, 30, "80 stored, the newest 50 kept");
        assert_eq!(all[0].path, "/b/79");
        assert_eq!(all[1].user.as_deref(), Some("alice"));
        assert_eq!(all[0].user, None, "an unknown key has no owner");
        log.stop();
        assert!(!log.record(entry(99, None)), "dropped after stop");
        assert_eq!(log.dropped(), 1);
        assert_eq!(
            log.counts(),
            AuditCounts {
                dropped: 1,
                failed: 0,
                pruned: 30
            }
        );
    }
}
