//! [`Upload`]: the one bridge from a request body to the write pipeline, used by every
//! door (WebDAV PUT, S3 PutObject and UploadPart, REST upload, tus PATCH).
//!
//! A door hands over body frames as they arrive ([`Upload::push`]) and ends with
//! [`Upload::finish`] (commit: durable when it returns) or by dropping the upload (nothing
//! is committed, the old version stays). In between:
//!
//! - **Blocks.** Frames (often 16 KiB) are gathered, not copied, into blocks of
//!   [`BLOCK`] bytes: one hand-off per block, never per frame. A body of one block stays
//!   here and goes to the committer thread whole at `finish` (a small file costs one
//!   hand-off); from the second block on, a blocking task owns the writer and takes blocks
//!   from a channel [`DEPTH`] deep, so receiving overlaps chunking, hashing and
//!   compressing. Memory per upload: at most `(DEPTH + 2) × BLOCK`.
//! - **Refusals.** When the engine refuses the write part way (the quota, a full disk, a
//!   failed pack), nothing is stored and the rest of the body is read and discarded, up to
//!   [`SWALLOW`] bytes, so that a client still sending gets to read the answer instead of
//!   a reset connection; `push` fails only past that, and `finish` answers with the
//!   refusal. The policy lives here, once, for every door.
//!
//! Block size and depth are the WebDAV door's (256 KiB, two deep), whose PUT throughput was
//! measured against deeper queues; `bench/reports/log-2026-11-28-to-12-07.md` has the A/B of this module against
//! the four per-door bridges it replaced.

use crate::error::{EngineError, EngineResult};
use crate::write::FileWriter;
use bytes::Bytes;
use nas_meta::{FileAttrs, VersionRecord};
use nas_types::ContentHash;
use tokio::sync::mpsc;

/// Bytes gathered before they are handed to the write pipeline.
pub const BLOCK: usize = 256 << 10;

/// Blocks queued between the connection and the writer task.
pub const DEPTH: usize = 2;

/// How much of a refused body is read and discarded before the door gives the connection up.
pub const SWALLOW: u64 = 64 << 20;

/// Where the body goes.
enum Sink {
    /// Small so far: the writer is here, frames gather in `pending`.
    Inline(Box<FileWriter>),
    /// Large: a blocking task owns the writer and takes blocks from a bounded channel.
    Piped {
        tx: mpsc::Sender<Vec<Bytes>>,
        task: tokio::task::JoinHandle<EngineResult<FileWriter>>,
    },
    /// Refused or failed: nothing will be committed.
    Closed,
}

/// A body on its way into a file. See the module docs.
pub struct Upload {
    sink: Sink,
    pending: Vec<Bytes>,
    pending_len: usize,
    received: u64,
    /// The engine's refusal and the body bytes discarded since.
    refused: Option<(Option<EngineError>, u64)>,
}

impl Upload {
    /// An upload into `writer` (from [`crate::Home::writer`]).
    pub fn new(writer: FileWriter) -> Upload {
        Upload {
            sink: Sink::Inline(Box::new(writer)),
            pending: Vec::new(),
            pending_len: 0,
            received: 0,
            refused: None,
        }
    }

    /// Body bytes taken so far (stored, queued, or discarded after a refusal).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether the engine refused the write (the rest of the body is being discarded).
    pub fn is_refused(&self) -> bool {
        self.refused.is_some()
    }

    /// The door refuses the body by a rule of its own (e.g. it goes past a length declared
    /// before): nothing will be committed, and the rest is read and discarded as after the
    /// engine's own refusals. The door answers with its own error.
    pub fn refuse(&mut self) {
        if self.refused.is_none() {
            self.sink = Sink::Closed;
            self.pending = Vec::new();
            self.pending_len = 0;
            self.refused = Some((None, 0));
        }
    }

    /// Takes the next frame of the body. After a refusal the frame is discarded; past
    /// [`SWALLOW`] discarded bytes this fails with the refusal (the door then answers
    /// without reading on).
    pub async fn push(&mut self, frame: Bytes) -> EngineResult<()> {
        self.received += frame.len() as u64;
        if let Some((error, swallowed)) = &mut self.refused {
            *swallowed += frame.len() as u64;
            if *swallowed <= SWALLOW {
                return Ok(());
            }
            return Err(error.take().unwrap_or_else(refused_before));
        }
        if frame.is_empty() {
            return Ok(());
        }
        self.pending_len += frame.len();
        self.pending.push(frame);
        if self.pending_len >= BLOCK
            && let Err(e) = self.hand_off().await
        {
            self.sink = Sink::Closed;
            self.pending = Vec::new();
            self.pending_len = 0;
            self.refused = Some((Some(e), 0));
        }
        Ok(())
    }

    /// Ends the body and commits it as the file's newest version (durable when this
    /// returns), with `attrs` when given, and the content hash when the writer was told
    /// to take it from the caller ([`FileWriter::hash_elsewhere`]).
    pub async fn finish(
        mut self,
        attrs: Option<FileAttrs>,
        hash: Option<ContentHash>,
    ) -> EngineResult<VersionRecord> {
        if let Some((error, _)) = self.refused.take() {
            return Err(error.unwrap_or_else(refused_before));
        }
        let mut w = match std::mem::replace(&mut self.sink, Sink::Closed) {
            Sink::Inline(w) => *w,
            Sink::Piped { tx, task } => {
                drop(tx); // the task writes what it has, then hands the writer back
                task.await
                    .map_err(|e| EngineError::Internal(e.to_string()))??
            }
            Sink::Closed => return Err(refused_before()),
        };
        if let Some(a) = attrs {
            w.set_attrs(a);
        }
        if let Some(h) = hash {
            w.set_content_hash(h);
        }
        // the last gathered bytes and the commit in one hand-off (a small file goes
        // straight to the committer thread)
        let tail = match <[Bytes; 1]>::try_from(std::mem::take(&mut self.pending)) {
            Ok([one]) => Vec::from(one),
            Err(frames) => frames.concat(),
        };
        w.commit_async(tail).await
    }

    /// Sends the gathered frames on to the writer task (starting it on the first call).
    async fn hand_off(&mut self) -> EngineResult<()> {
        let block = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        if let Sink::Inline(_) = self.sink {
            let Sink::Inline(mut w) = std::mem::replace(&mut self.sink, Sink::Closed) else {
                return Err(refused_before());
            };
            let (tx, mut rx) = mpsc::channel::<Vec<Bytes>>(DEPTH);
            let task = tokio::task::spawn_blocking(move || {
                while let Some(block) = rx.blocking_recv() {
                    for frame in &block {
                        w.write(frame)?;
                    }
                }
                Ok(*w)
            });
            self.sink = Sink::Piped { tx, task };
        }
        let Sink::Piped { tx, .. } = &self.sink else {
            return Err(refused_before());
        };
        if tx.send(block).await.is_ok() {
            return Ok(());
        }
        // the writer task stopped: its error is the answer
        match std::mem::replace(&mut self.sink, Sink::Closed) {
            Sink::Piped { task, .. } => match task.await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Err(EngineError::Internal("the writer stopped early".into())),
                Err(e) => Err(EngineError::Internal(e.to_string())),
            },
            _ => Err(refused_before()),
        }
    }
}

fn refused_before() -> EngineError {
    EngineError::Internal("this upload was already refused".into())
}
