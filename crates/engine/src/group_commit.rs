//! Group commit of concurrent writes on one committer thread per store. Every write is
//! handed to that thread; while it makes one group durable (one pack fsync, one metadata
//! transaction), the next writes queue up and become the next group. Sixteen clients
//! uploading small files pay for a few fsyncs, not sixteen.
//!
//! A small upload hands over its whole body ([`FileWriter::commit_async`]): the committer
//! stores its chunk and commits it, so the request costs one hand-off from the async
//! runtime and back, with no trip through the blocking pool and no thread woken per write.
//!
//! Each write still gets its own answer: if a group's transaction fails (one write's folder
//! vanished, say), it rolled back as a whole and the committer commits the writes one by
//! one, so only the faulty one fails. A write is acknowledged only after the transaction
//! that contains it committed, and its pins are held until then.

use crate::error::{EngineError, EngineResult};
use crate::write::{FileWriter, PreparedWrite, commit_all};
use nas_meta::VersionRecord;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};

type Answer = EngineResult<VersionRecord>;

/// What the committer is given.
enum Job {
    /// A write whose chunks are stored.
    Prepared(PreparedWrite),
    /// A small write and the rest of its body: the committer stores and commits it.
    Tail(FileWriter, Vec<u8>),
}

/// Where the committer sends a write's answer.
enum Reply {
    Blocking(Sender<Answer>),
    Async(tokio::sync::oneshot::Sender<Answer>),
}

impl Reply {
    fn send(self, a: Answer) {
        // the caller may have gone away (a cancelled request): its write stands anyway
        let _ = match self {
            Reply::Blocking(s) => s.send(a).map_err(|_| ()),
            Reply::Async(s) => s.send(a).map_err(|_| ()),
        };
    }
}

/// The way into a store's committer thread. The thread ends when this is dropped.
pub struct CommitQueue {
    tx: Sender<(Job, Reply)>,
}

fn lost() -> EngineError {
    EngineError::Internal("the commit of this write was lost".into())
}

/// Bodies up to this size are stored by the committer itself (a few microseconds of
/// hashing and compression); larger ones are stored on the blocking pool first, so one big
/// tail never holds up everyone else's commit.
pub(crate) const TAIL_LIMIT: usize = 256 << 10;

impl CommitQueue {
    /// Starts the committer thread.
    pub fn start() -> EngineResult<CommitQueue> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("nas-commit".into())
            .spawn(move || run(rx))?;
        Ok(CommitQueue { tx })
    }

    /// Commits one write, possibly together with others; returns when it is durable.
    /// Blocks: call it from a thread that may wait (not from an async task).
    pub fn commit(&self, write: PreparedWrite) -> Answer {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send((Job::Prepared(write), Reply::Blocking(tx)))
            .map_err(|_| lost())?;
        rx.recv().unwrap_or_else(|_| Err(lost()))
    }

    /// Writes `tail` (at most [`TAIL_LIMIT`] bytes) to `w` and commits it, on the
    /// committer thread.
    pub(crate) async fn commit_tail(&self, w: FileWriter, tail: Vec<u8>) -> Answer {
        self.send_async(Job::Tail(w, tail)).await
    }

    /// Commits a prepared write without blocking the caller's thread.
    pub(crate) async fn commit_prepared(&self, w: PreparedWrite) -> Answer {
        self.send_async(Job::Prepared(w)).await
    }

    async fn send_async(&self, job: Job) -> Answer {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx.send((job, Reply::Async(tx))).map_err(|_| lost())?;
        rx.await.unwrap_or_else(|_| Err(lost()))
    }
}

/// The committer: takes everything queued as one group, commits it, answers, repeats.
fn run(rx: Receiver<(Job, Reply)>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < 1024 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        // A panic in one group must not stop the thread: the group's callers see their
        // answer channels close ("lost") and the next group goes on.
        let _ = catch_unwind(AssertUnwindSafe(|| commit_group(jobs)));
    }
}

fn commit_group(jobs: Vec<(Job, Reply)>) {
    let mut writes = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for (job, reply) in jobs {
        let prepared = match job {
            Job::Prepared(p) => Ok(p),
            Job::Tail(mut w, tail) => w.write(&tail).and_then(|()| w.prepare()),
        };
        match prepared {
            Ok(p) => {
                writes.push(p);
                replies.push(reply);
            }
            Err(e) => reply.send(Err(e)),
        }
    }
    let Some(inner) = writes.first().map(|w| w.inner()) else {
        return;
    };
    let answers: Vec<Answer> = match commit_all(&inner, &writes) {
        Ok(vs) if vs.len() == writes.len() => vs.into_iter().map(Ok).collect(),
        Ok(_) => writes.iter().map(|_| Err(lost())).collect(),
        Err(e) if writes.len() == 1 => vec![Err(e)],
        // the group rolled back as a whole: give each write its own chance
        Err(_) => writes
            .iter()
            .map(|w| {
                commit_all(&inner, std::slice::from_ref(w))
                    .and_then(|mut v| v.pop().ok_or_else(lost))
            })
            .collect(),
    };
    // Pins are released only now, after the commit, and before anyone hears of it: a
    // caller that closes the store on its answer finds no handle of it left here.
    drop(writes);
    drop(inner);
    for (r, a) in replies.into_iter().zip(answers) {
        r.send(a);
    }
}
