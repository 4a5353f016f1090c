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
    cursor: Option<RangeReader>,
}

impl ReadFile {
    pub fn new(file: FileReader, entry: Entry) -> Self {
        ReadFile {
            file: Arc::new(file),
            entry,
            pos: 0,
            cursor: None,
        }
    }
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
            let size = self.file.version().size;
            let mut cursor = match self.cursor.take() {
                Some(c) => c,
                None => self.file.range(ByteRange {
                    start: self.pos,
                    end: size,
                }),
            };
            let (cursor, buf) = blocking(move || {
                let mut buf = vec![0u8; count];
                let mut filled = 0;
                while filled < count {
                    match cursor.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => {
                            return Err(match e.downcast::<EngineError>() {
                                Ok(ee) => ee,
                                Err(e) => EngineError::Io(e),
                            });
                        }
                    }
                }
                buf.truncate(filled);
                Ok((cursor, buf))
            })
            .await?;
            self.pos += buf.len() as u64;
            self.cursor = Some(cursor);
            Ok(Bytes::from(buf))
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
            self.cursor = None;
            Ok(self.pos)
        })
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// A PUT in progress.
pub struct WriteFile {
    writer: Option<FileWriter>,
    home: Home,
    path: NasPath,
    quota: Option<u64>,
    /// Bytes of the home not counting the file being replaced (known when a quota applies).
    base: Option<u64>,
    committed: Option<Entry>,
    /// Body bytes gathered before they go to the engine in one blocking call: HTTP frames
    /// are small (often 16 KiB), a thread hand-off per frame would cost more than the work.
    pending: Vec<u8>,
}

/// How much body is gathered before it is handed to the write pipeline.
const HAND_OFF: usize = 1 << 20;

impl WriteFile {
    pub fn new(writer: FileWriter, home: Home, path: NasPath, quota: Option<u64>) -> Self {
        WriteFile {
            writer: Some(writer),
            home,
            path,
            quota,
            base: None,
            committed: None,
            pending: Vec::new(),
        }
    }

    async fn push(&mut self, data: Bytes) -> Result<(), FsError> {
        let written = self
            .writer
            .as_ref()
            .map(|w| w.written())
            .ok_or(FsError::GeneralFailure)?;
        if let Some(limit) = self.quota {
            let base = match self.base {
                Some(b) => b,
                None => {
                    let (home, path) = (self.home.clone(), self.path.clone());
                    let b = blocking(move || {
                        let used = home.used_bytes()?;
                        let old = match home.stat(&path) {
                            Ok(e) => e.size,
                            Err(EngineError::NotFound(_)) => 0,
                            Err(e) => return Err(e),
                        };
                        Ok(used.saturating_sub(old))
                    })
                    .await?;
                    self.base = Some(b);
                    b
                }
            };
            if base + written + (self.pending.len() + data.len()) as u64 > limit {
                self.writer = None; // dropped: nothing is stored
                return Err(FsError::InsufficientStorage);
            }
        }
        self.pending.extend_from_slice(&data);
        if self.pending.len() >= HAND_OFF {
            self.hand_off().await?;
        }
        Ok(())
    }

    /// Sends the gathered bytes through the write pipeline.
    async fn hand_off(&mut self) -> Result<(), FsError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(mut w) = self.writer.take() else {
            return Err(FsError::GeneralFailure);
        };
        let buf = std::mem::take(&mut self.pending);
        let (w, mut buf) = blocking(move || {
            w.write(&buf)?;
            Ok((w, buf))
        })
        .await?;
        buf.clear();
        self.pending = buf; // keep the allocation
        self.writer = Some(w);
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
            if self.writer.is_none() {
                return Ok(()); // already committed
            }
            self.hand_off().await?;
            let Some(w) = self.writer.take() else {
                return Err(FsError::GeneralFailure);
            };
            let (home, path) = (self.home.clone(), self.path.clone());
            let entry = blocking(move || {
                w.commit()?;
                home.stat(&path)
            })
            .await?;
            self.committed = Some(entry);
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
