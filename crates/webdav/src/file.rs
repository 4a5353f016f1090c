//! Open files: [`ReadFile`] streams a version through the engine's verified read path;
//! [`WriteFile`] streams a PUT body into the engine's write pipeline and commits on
//! `flush` — so an upload that breaks off never commits anything, and the old version stays.

use crate::fs::{blocking, fs_err};
use crate::metadata::Meta;
use bytes::{Buf, Bytes};
use dav_server::fs::{DavFile, DavMetaData, FsError, FsFuture};
use nas_engine::{EngineError, Entry, FileReader, FileWriter, Home, RangeReader, Upload};
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

/// Where the next read comes from. The first read after an open or a seek is served in
/// place when the OS has its data cached, else in one trip to the blocking pool (a `Range`
/// request reads what it asked for, nothing more); a
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
                    let mut cursor = self.file.range(ByteRange {
                        start: self.pos,
                        end: size,
                    });
                    // in place when the OS has it cached (a small hot file: the common GET)
                    let (cursor, buf) = match cursor.read_cached(count) {
                        Some(buf) => (cursor, buf),
                        None => blocking(move || read_exactly(cursor, count)).await?,
                    };
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

/// A PUT in progress: its body goes through the engine's one upload bridge
/// ([`nas_engine::Upload`]: blocks, the writer task, and what happens to the rest of a
/// body the engine refused part way).
pub struct WriteFile {
    upload: Option<Upload>,
    home: Home,
    path: NasPath,
    committed: Option<Entry>,
}

impl WriteFile {
    pub fn new(writer: FileWriter, home: Home, path: NasPath) -> Self {
        WriteFile {
            upload: Some(Upload::new(writer)),
            home,
            path,
            committed: None,
        }
    }

    async fn push(&mut self, data: Bytes) -> Result<(), FsError> {
        match self.upload.as_mut() {
            Some(up) => up.push(data).await.map_err(fs_err),
            None => Err(FsError::GeneralFailure), // written after the commit
        }
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
            let Some(up) = self.upload.take() else {
                return match self.committed {
                    Some(_) => Ok(()), // already committed
                    None => Err(FsError::GeneralFailure),
                };
            };
            let v = up.finish(None, None).await.map_err(fs_err)?;
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
