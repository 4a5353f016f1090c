//! What is computed over a body beside the writer: the MD5 (the ETag), the checksums the
//! request claims, and the BLAKE3 content hash the engine records. A body of one block is
//! digested inline; a larger one on a thread of its own, fed the same blocks as the writer.

use crate::checksums::Claims;
use crate::upload::{Block, DEPTH};
use bytes::Bytes;
use nas_md5::Md5;
use s3s::checksum::ChecksumHasher;
use s3s::{S3Result, s3_error};

/// What is computed over the whole body beside the writer: the MD5 (the ETag), the
/// checksums the request claims, and the BLAKE3 content hash the engine records (taken
/// off the writer, which has chunking, chunk hashing and compression to do).
pub(crate) struct Sums {
    pub(crate) md5: Md5,
    pub(crate) claimed: ChecksumHasher,
    pub(crate) blake3: blake3::Hasher,
}

impl Sums {
    pub(crate) fn new(claims: &Claims) -> Sums {
        Sums {
            md5: Md5::new(),
            claimed: claims.hasher(),
            blake3: blake3::Hasher::new(),
        }
    }

    /// Feeds every frame of a block, in order.
    fn absorb(&mut self, frames: &[Bytes]) {
        for f in frames {
            self.update(f);
        }
    }

    fn update(&mut self, f: &[u8]) {
        self.md5.update(f);
        self.claimed.update(f);
        self.blake3.update(f);
    }
}

/// The [`Sums`] of a body. A body of one block is digested inline; a larger one on a
/// thread of its own, fed the same blocks as the writer (MD5 is the slowest step of a
/// PUT: on its own thread it runs beside chunking and hashing instead of in front of
/// them).
pub(crate) enum Digest {
    Inline(Box<Sums>),
    Threaded {
        tx: tokio::sync::mpsc::Sender<Block>,
        task: tokio::task::JoinHandle<Sums>,
    },
    Gone,
}

impl Digest {
    pub(crate) async fn feed(&mut self, block: Block, last: bool) {
        if let Digest::Inline(state) = self {
            if last {
                state.absorb(&block);
                return;
            }
            let Digest::Inline(state) = std::mem::replace(self, Digest::Gone) else {
                return;
            };
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Block>(DEPTH);
            let task = tokio::task::spawn_blocking(move || {
                let mut sums = *state;
                while let Some(b) = rx.blocking_recv() {
                    sums.absorb(&b);
                }
                sums
            });
            *self = Digest::Threaded { tx, task };
        }
        if let Digest::Threaded { tx, .. } = self {
            let _ = tx.send(block).await;
        }
    }

    /// The sums of everything fed, then of `tail` (frames never fed: a body of one block).
    pub(crate) async fn finish(self, tail: &[Bytes]) -> S3Result<Sums> {
        let mut sums = match self {
            Digest::Inline(state) => *state,
            Digest::Threaded { tx, task } => {
                drop(tx);
                task.await.map_err(|_| s3_error!(InternalError))?
            }
            Digest::Gone => return Err(s3_error!(InternalError)),
        };
        sums.absorb(tail);
        Ok(sums)
    }
}
