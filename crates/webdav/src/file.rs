//! Open files: [`ReadFile`] streams a version through the engine's verified read path;
//! [`WriteFile`] streams a PUT body into the engine's write pipeline and commits on
//! `flush` — so an upload that breaks off never commits anything, and the old version stays.

use crate::fs::{blocking, fs_err};
use crate::metadata::Meta;
use bytes::{Buf, Bytes};
use dav_server::fs::{DavFile, DavMetaData, FsError, FsFuture};
use nas_engine::{EngineError, Entry, FileReader, FileWriter, Home, RangeReader};
use nas_types::{ByteRange, NasPath};
use std::fmt;
use std::io::{Read, SeekFrom};
use std::sync::Arc;

/// A version being read.
pub struct ReadFile {
    file: Arc<FileReader>,
    entry: Entry,
    pos: u64,
    cursor: Cursor,
}

/// Where the next read comes from. The first read after an open or a seek is served in one
/// trip to the blocking pool (a `Range` request reads what it asked for, nothing more); a
/// second read in a row is a download: from then on a blocking task reads ahead of the
/// network (`nas_engine::read_ahead`), so decoding and verifying the next chunks overlaps
/// sending these.
enum Cursor {
    /// Nothing read since the open or the last seek.
    Start,
    /// One read served; the range reader continues from `pos`.
    Direct(RangeReader),
    /// Reading ahead: blocks arrive on `rx`; `pending` is what is left of the last one.
    Ahead {
        rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, EngineError>>,
        pending: Bytes,
    },
}

impl ReadFile {
    pub fn new(file: FileReader, entry: Entry) -> Self {
        ReadFile {
            file: Arc::new(file),
            entry,
            pos: 0,
            cursor: Cursor::Start,
        }
    }
}

impl ReadFile {
    /// Up to `count` bytes from the read-ahead stream (empty at the end of the file).
    async fn next_ahead(
        &mut self,
        mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, EngineError>>,
        mut pending: Bytes,
        count: usize,
    ) -> Result<Bytes, FsError> {
        if pending.is_empty() {
            match rx.recv().await {
                Some(Ok(buf)) => pending = Bytes::from(buf),
                Some(Err(e)) => return Err(fs_err(e)),
                None => {} // the range is exhausted
            }
        }
        let got = pending.split_to(count.min(pending.len()));
        self.cursor = Cursor::Ahead { rx, pending };
        Ok(got)
    }
}

/// Reads `count` bytes (fewer at the end of the range) into a buffer that is never zeroed
/// first.
fn read_exactly(
    mut cursor: RangeReader,
    count: usize,
) -> Result<(RangeReader, Vec<u8>), EngineError> {
    let mut buf = Vec::with_capacity(count);
    if let Err(e) = (&mut cursor).take(count as u64).read_to_end(&mut buf) {
        return Err(match e.downcast::<EngineError>() {
            Ok(ee) => ee,
            Err(e) => EngineError::Io(e),
        });
    }
    Ok((cursor, buf))
}

impl fmt::Debug for ReadFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReadFile({})", self.entry.path)
    }
}

impl DavFile for ReadFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let m: Box<dyn DavMetaData> = Box::new(Meta {
            entry: self.entry.clone(),
        });
        Box::pin(async move { Ok(m) })
    }

    fn write_buf(&mut self, _buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        Box::pin(async { Err(FsError::Forbidden) })
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        Box::pin(async { Err(FsError::Forbidden) })
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        Box::pin(async move {
            let got = match std::mem::replace(&mut self.cursor, Cursor::Start) {
                Cursor::Start => {
                    let size = self.file.version().size;
                    let cursor = self.file.range(ByteRange {
                        start: self.pos,
                        end: size,
                    });
                    let (cursor, buf) = blocking(move || read_exactly(cursor, count)).await?;
                    self.cursor = Cursor::Direct(cursor);
                    Bytes::from(buf)
                }
                Cursor::Direct(cursor) => {
                    let rx = nas_engine::read_ahead(cursor);
                    self.next_ahead(rx, Bytes::new(), count).await?
                }
                Cursor::Ahead { rx, pending } => self.next_ahead(rx, pending, count).await?,
            };
            self.pos += got.len() as u64;
            Ok(got)
        })
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        Box::pin(async move {
            let size = self.file.version().size as i128;
            let new = match pos {
                SeekFrom::Start(n) => n as i128,
                SeekFrom::End(d) => size + d as i128,
                SeekFrom::Current(d) => self.pos as i128 + d as i128,
            };
            if new < 0 {
                return Err(FsError::GeneralFailure);
            }
            self.pos = new as u64;
            self.cursor = Cursor::Start; // a read-ahead task stops when its receiver goes
            Ok(self.pos)
        })
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// Where the body of a PUT goes.
enum Sink {
    /// Small so far: the writer is here and bytes gather in `pending` (a small PUT crosses
    /// to the blocking pool once, at `flush`).
    Inline(Box<FileWriter>),
    /// Large: a blocking task owns the writer and takes blocks from a bounded channel, so
    /// receiving the next block overlaps with chunking, hashing and compressing this one
    /// (two cores at work instead of one, memory bounded by the channel).
    Piped {
        tx: tokio::sync::mpsc::Sender<Vec<u8>>,
        task: tokio::task::JoinHandle<Result<FileWriter, EngineError>>,
        /// Blocks the task is done with, to be filled again (no fresh 256 KiB buffer, with
        /// its page faults, per block).
        spent: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    },
    /// Committed, refused or failed.
    Closed,
}

/// A PUT in progress.
pub struct WriteFile {
    sink: Sink,
    home: Home,
    path: NasPath,
    committed: Option<Entry>,
    /// Body bytes gathered before they go to the engine in one piece: HTTP frames are small
    /// (often 16 KiB), a hand-off per frame would cost more than the work.
    pending: Vec<u8>,
    /// Refused part way (the engine stopped the write: quota, full disk): the error `flush`
    /// answers with, and the body bytes read and
    /// discarded since. The rest of the body is read (up to [`SWALLOW`]) so that a client
    /// still sending gets to read the answer instead of a reset connection.
    refused: Option<(FsError, u64)>,
}

/// How much of a refused body is read and discarded before the connection is given up.
const SWALLOW: u64 = 64 << 20;

/// How much body is gathered before it is handed to the write pipeline.
const HAND_OFF: usize = 256 << 10;

/// Blocks in flight between the connection and the writer task.
const PIPE_DEPTH: usize = 2;

impl WriteFile {
    pub fn new(writer: FileWriter, home: Home, path: NasPath) -> Self {
        WriteFile {
            sink: Sink::Inline(Box::new(writer)),
            home,
            path,
            committed: None,
            pending: Vec::new(),
            refused: None,
        }
    }

    async fn push(&mut self, data: Bytes) -> Result<(), FsError> {
        if let Some((e, swallowed)) = &mut self.refused {
            *swallowed += data.len() as u64;
            return if *swallowed > SWALLOW {
                Err(*e)
            } else {
                Ok(())
            };
        }
        if matches!(self.sink, Sink::Closed) {
            return Err(FsError::GeneralFailure);
        }
        self.pending.extend_from_slice(&data);
        if self.pending.len() >= HAND_OFF
            && let Err(e) = self.hand_off().await
        {
            // nothing is stored; `flush` answers once the body is read
            self.sink = Sink::Closed;
            self.pending = Vec::new();
            self.refused = Some((e, 0));
        }
        Ok(())
    }

    /// Sends the gathered bytes on to the writer task (starting it on the first call).
    async fn hand_off(&mut self) -> Result<(), FsError> {
        let next = match &mut self.sink {
            Sink::Piped { spent, .. } => spent.try_recv().ok(),
            _ => None,
        };
        let next = next.unwrap_or_else(|| Vec::with_capacity(HAND_OFF));
        let block = std::mem::replace(&mut self.pending, next);
        if let Sink::Inline(_) = self.sink {
            let Sink::Inline(mut w) = std::mem::replace(&mut self.sink, Sink::Closed) else {
                return Err(FsError::GeneralFailure);
            };
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(PIPE_DEPTH);
            let (give_back, spent) = tokio::sync::mpsc::unbounded_channel();
            let task = tokio::task::spawn_blocking(move || {
                while let Some(mut block) = rx.blocking_recv() {
                    w.write(&block)?;
                    block.clear();
                    let _ = give_back.send(block);
                }
                Ok(*w)
            });
            self.sink = Sink::Piped { tx, task, spent };
        }
        let Sink::Piped { tx, .. } = &self.sink else {
            return Err(FsError::GeneralFailure);
        };
        if tx.send(block).await.is_err() {
            // the writer task stopped: its error is the answer
            return Err(match std::mem::replace(&mut self.sink, Sink::Closed) {
                Sink::Piped { task, .. } => match task.await {
                    Ok(Err(e)) => fs_err(e),
                    _ => FsError::GeneralFailure,
                },
                _ => FsError::GeneralFailure,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for WriteFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriteFile({})", self.path)
    }
}

impl DavFile for WriteFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        Box::pin(async move {
            let entry = match &self.committed {
                Some(e) => e.clone(),
                None => {
                    let (home, path) = (self.home.clone(), self.path.clone());
                    match blocking(move || home.stat(&path)).await {
                        Ok(e) => e,
                        Err(FsError::NotFound) => return Err(FsError::NotFound),
                        Err(e) => return Err(e),
                    }
                }
            };
            Ok(Box::new(Meta { entry }) as Box<dyn DavMetaData>)
        })
    }

    fn write_buf(&mut self, mut buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        Box::pin(async move {
            let data = buf.copy_to_bytes(buf.remaining());
            self.push(data).await
        })
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        Box::pin(self.push(buf))
    }

    fn read_bytes(&mut self, _count: usize) -> FsFuture<'_, Bytes> {
        Box::pin(async { Err(FsError::Forbidden) })
    }

    fn seek(&mut self, _pos: SeekFrom) -> FsFuture<'_, u64> {
        Box::pin(async { Err(FsError::NotImplemented) })
    }

    /// Commits the upload as the file's newest version (durable when this returns).
    fn flush(&mut self) -> FsFuture<'_, ()> {
        Box::pin(async move {
            if let Some((e, _)) = self.refused {
                return Err(e);
            }
            let w = match std::mem::replace(&mut self.sink, Sink::Closed) {
                Sink::Closed => {
                    return match self.committed {
                        Some(_) => Ok(()), // already committed
                        None => Err(FsError::GeneralFailure),
                    };
                }
                Sink::Inline(w) => *w,
                Sink::Piped { tx, task, .. } => {
                    drop(tx); // the task writes what it has, then hands the writer back
                    match task.await {
                        Ok(Ok(w)) => w,
                        Ok(Err(e)) => return Err(fs_err(e)),
                        Err(_) => return Err(FsError::GeneralFailure),
                    }
                }
            };
            // the last gathered bytes and the commit in one hand-off (a small file goes
            // straight to the committer thread)
            let rest = std::mem::take(&mut self.pending);
            let v = w.commit_async(rest).await.map_err(fs_err)?;
            self.committed = Some(Entry::of_version(self.path.clone(), &v));
            Ok(())
        })
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<ReadFile>();
    is_send::<WriteFile>();
    let _ = fs_err;
}
