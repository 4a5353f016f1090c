//! [`AsyncHome`]: the engine from async code. Index reads and reads of data the OS has
//! cached run in place; whatever may wait on a device or the object store runs on tokio's
//! blocking pool, so those waits never stall the runtime's workers. Its streaming read (and
//! [`read_ahead`]) serve the WebDAV and S3 downloads. Uploads go through [`crate::Upload`].

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::read::RangeReader;
use nas_meta::VersionRecord;
use nas_types::{ByteRange, NasPath, TrashId, VersionNum};
use tokio::sync::mpsc;

/// An async view of a [`Home`].
#[derive(Clone)]
pub struct AsyncHome {
    home: Home,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> EngineResult<T> + Send + 'static,
) -> EngineResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::Io(std::io::Error::other(e)))?
}

impl AsyncHome {
    /// Wraps a home.
    pub fn new(home: Home) -> Self {
        AsyncHome { home }
    }

    /// Streams a range of a version into a channel of buffers (bounded: the reader waits
    /// when the consumer is slow). A range of at most [`SMALL_READ`] bytes is read whole:
    /// in place when the OS has it cached, else in one trip to the blocking pool (most GETs
    /// on a NAS are of small files, and a trip wakes two threads: it costs more than the
    /// read).
    pub async fn read(
        &self,
        path: NasPath,
        version: Option<VersionNum>,
        range: Option<ByteRange>,
    ) -> EngineResult<(VersionRecord, mpsc::Receiver<EngineResult<Vec<u8>>>)> {
        self.read_from(move |h| h.open(&path, version), range).await
    }

    /// [`AsyncHome::read`] of a version of a file in the trash (trash entry `id`): what
    /// S3 serves for a version behind a delete marker.
    pub async fn read_trashed(
        &self,
        id: TrashId,
        version: Option<VersionNum>,
        range: Option<ByteRange>,
    ) -> EngineResult<(VersionRecord, mpsc::Receiver<EngineResult<Vec<u8>>>)> {
        self.read_from(move |h| h.trash_open(id, version), range)
            .await
    }

    async fn read_from(
        &self,
        open: impl FnOnce(&Home) -> EngineResult<crate::read::FileReader> + Send + 'static,
        range: Option<ByteRange>,
    ) -> EngineResult<(VersionRecord, mpsc::Receiver<EngineResult<Vec<u8>>>)> {
        // The index reads run inline (microseconds, never blocked by writers in WAL mode),
        // and so does a small read the OS has cached: only what would wait on a device or
        // the object store goes to the blocking pool.
        let reader = open(&self.home)?;
        let v = reader.version().clone();
        let mut r = reader.range(range.unwrap_or(ByteRange::full(v.size)));
        if r.remaining() <= SMALL_READ
            && let Some(data) = r.read_cached(SMALL_READ as usize)
        {
            return Ok((v, one_buffer(data)));
        }
        let opened = blocking(move || {
            // an unreachable object store is an error now, before any byte is promised
            reader.check_available(range.map_or(0, |r| r.start))?;
            Ok(if r.remaining() <= SMALL_READ {
                Opened::Read(r.read_to_vec()?)
            } else {
                Opened::Stream(r)
            })
        })
        .await?;
        let rx = match opened {
            Opened::Stream(r) => read_ahead(r),
            Opened::Read(data) => one_buffer(data),
        };
        Ok((v, rx))
    }
}

/// A channel holding `data` as its one buffer (none when it is empty).
fn one_buffer(data: Vec<u8>) -> mpsc::Receiver<EngineResult<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(1);
    if !data.is_empty() {
        // cannot fail: the channel is new, with room for one
        let _ = tx.try_send(Ok(data));
    }
    rx
}

/// Ranges up to this size are read in one go by [`AsyncHome::read`].
pub const SMALL_READ: u64 = 256 * 1024;

/// What the blocking half of [`AsyncHome::read`] hands back.
enum Opened {
    /// The whole range, read.
    Read(Vec<u8>),
    /// A larger range, to stream.
    Stream(RangeReader),
}

/// Reads the rest of `r` on the blocking pool, ahead of the consumer, into a bounded channel
/// of buffers: blocks of ~512 KiB gathered from whole chunks (few hand-offs, no zeroing),
/// at most ~1.5 MiB in flight per stream. The reader stops when the receiver is dropped.
/// Call from a tokio runtime.
pub fn read_ahead(mut r: RangeReader) -> mpsc::Receiver<EngineResult<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        const BLOCK: usize = 512 * 1024;
        while !r.done() {
            let cap =
                (BLOCK + 128 * 1024).min(usize::try_from(r.remaining()).unwrap_or(usize::MAX));
            let mut buf = Vec::with_capacity(cap);
            while buf.len() < BLOCK && !r.done() {
                match r.next_slice() {
                    Ok(piece) => buf.extend_from_slice(piece),
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            if tx.blocking_send(Ok(buf)).is_err() {
                return; // the consumer went away
            }
        }
    });
    rx
}
