//! Group commit of concurrent writes: whoever commits while others wait becomes the
//! leader and makes every queued write durable with one pack fsync and one metadata
//! transaction. Sixteen clients uploading small files pay for a few fsyncs, not sixteen.
//!
//! Each write still gets its own answer: if a group's transaction fails (one write's folder
//! vanished, say), it rolled back as a whole and the leader commits the writes one by one,
//! so only the faulty one fails. A write is acknowledged only after the transaction that
//! contains it committed, and its pins are held until then.

use crate::error::{EngineError, EngineResult};
use crate::store::Inner;
use crate::write::{PreparedWrite, commit_all};
use nas_meta::VersionRecord;
use std::sync::mpsc::{self, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

type Waiting = (PreparedWrite, Sender<EngineResult<VersionRecord>>);

/// The queue of writes waiting for a commit, and the leader's lock.
#[derive(Default)]
pub struct CommitQueue {
    waiting: Mutex<Vec<Waiting>>,
    leader: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn lost() -> EngineError {
    EngineError::Invalid("the commit of this write was lost".into())
}

fn one(inner: &Inner, w: &PreparedWrite) -> EngineResult<VersionRecord> {
    commit_all(inner, std::slice::from_ref(w))?
        .pop()
        .ok_or_else(lost)
}

impl CommitQueue {
    /// Commits one write, possibly together with others; returns when it is durable.
    pub fn commit(&self, inner: &Inner, write: PreparedWrite) -> EngineResult<VersionRecord> {
        let (tx, rx) = mpsc::channel();
        lock(&self.waiting).push((write, tx));
        loop {
            match rx.try_recv() {
                Ok(r) => return r,
                Err(TryRecvError::Disconnected) => return Err(lost()),
                Err(TryRecvError::Empty) => {}
            }
            if let Ok(_leading) = self.leader.try_lock() {
                self.drain(inner);
                continue; // our own write was in the queue: its answer is waiting
            }
            match rx.recv_timeout(Duration::from_millis(2)) {
                Ok(r) => return r,
                Err(RecvTimeoutError::Timeout) => {} // the leader may have just left: retry
                Err(RecvTimeoutError::Disconnected) => return Err(lost()),
            }
        }
    }

    /// Commits everything queued, group by group, until the queue is empty.
    fn drain(&self, inner: &Inner) {
        loop {
            let batch: Vec<Waiting> = std::mem::take(&mut *lock(&self.waiting));
            if batch.is_empty() {
                return;
            }
            let (writes, senders): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match commit_all(inner, &writes) {
                Ok(vs) if vs.len() == senders.len() => {
                    for (s, v) in senders.iter().zip(vs) {
                        let _ = s.send(Ok(v));
                    }
                }
                Ok(_) => {
                    for s in &senders {
                        let _ = s.send(Err(lost()));
                    }
                }
                Err(e) if writes.len() == 1 => {
                    let _ = senders[0].send(Err(e));
                }
                Err(_) => {
                    // the group rolled back as a whole: give each write its own chance
                    for (w, s) in writes.iter().zip(&senders) {
                        let _ = s.send(one(inner, w));
                    }
                }
            }
            drop(writes); // pins are released only now, after the commit
        }
    }
}
