//! Folder downloads as a streamed ZIP: `GET /api/v1/zip/{path}` for the signed-in owner,
//! and `?download=1` on a shared folder (`public_share.rs`) — one body builder for both.
//!
//! A blocking task walks the folder (a page of 1,000 entries at a time, folders kept on a
//! stack) and writes the archive ([`crate::zip::ZipStream`]: stored entries, data
//! descriptors, ZIP64 when needed) into a bounded channel of 256 KiB blocks, so a slow
//! client holds back the walk and memory stays bounded whatever the folder's size: the
//! channel, one read buffer, and the central directory (~60 bytes plus the name per
//! entry, at most [`MAX_ZIP_ENTRIES`]). Each file is read at the version current when the
//! walk reaches it; a file deleted meanwhile is left out. A failure part way (damaged
//! data, too many entries) ends the body early: the client gets a truncated archive that
//! no reader accepts, never wrong bytes.

use crate::download::disposition;
use crate::error::{ErrorBody, RestResult};
use crate::extract::{Caller, home_path};
use crate::files::home_of;
use crate::state::{RestState, blocking};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, Uri, header};
use nas_engine::{EngineError, Home, NodeKind};
use nas_types::NasPath;
use std::io::{self, Read, Write};
use tokio::sync::mpsc;

/// Entries (files and folders) one archive may hold: bounds the central directory kept
/// in memory (~100 MB at worst with long names).
pub const MAX_ZIP_ENTRIES: usize = 1_000_000;
const BLOCK: usize = 256 * 1024;

/// Downloads a folder as a ZIP archive (streamed; stored entries; ZIP64 when needed).
#[utoipa::path(get, path = "/api/v1/zip/{path}", tag = "files", operation_id = "zip_folder",
    params(("path" = String, Path, description = "Folder in the home (`/api/v1/zip` is the whole home)")),
    responses(
        (status = 200, description = "The archive", content_type = "application/zip"),
        (status = 404, description = "Nothing there", body = ErrorBody),
        (status = 409, description = "A file, not a folder", body = ErrorBody),
    ))]
pub async fn zip(State(st): State<RestState>, c: Caller, uri: Uri) -> RestResult<Response> {
    let path = home_path(&uri, "/api/v1/zip")?;
    let p = path.clone();
    let home = blocking(move || {
        let home = home_of(&st, &c)?;
        if home.stat(&p)?.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(p.to_string()).into());
        }
        Ok(home)
    })
    .await?;
    let name = path.name().unwrap_or(home.name()).to_owned();
    Ok(zip_response(home, path, &name))
}

/// The `200 application/zip` response streaming folder `path` of `home` as `name.zip`
/// (entries under `name/`).
pub(crate) fn zip_response(home: Home, path: NasPath, name: &str) -> Response {
    let mut r = Response::new(zip_body(home, path, name.to_owned()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition(&format!("{name}.zip"))) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    *r.status_mut() = StatusCode::OK;
    r
}

/// Bytes written into 256 KiB blocks sent on a bounded channel (blocking the walk while
/// the client is behind); a closed channel (the client left) is an error that stops it.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= BLOCK {
            self.flush()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let block = std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK));
        self.tx
            .blocking_send(Ok(Bytes::from(block)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

fn body_of(rx: mpsc::Receiver<io::Result<Bytes>>) -> Body {
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

fn zip_body(home: Home, root: NasPath, name: String) -> Body {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    let err_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let w = ChannelWriter {
            tx,
            buf: Vec::with_capacity(BLOCK),
        };
        if let Err(e) = write_tree(&home, &root, &name, w) {
            if e.kind() != io::ErrorKind::BrokenPipe {
                tracing::error!("zip download of {root}: {e}");
            }
            let _ = err_tx.blocking_send(Err(e));
        }
    });
    body_of(rx)
}

fn engine_io(e: EngineError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes the archive of folder `root` of `home`, entries under `top/`.
pub(crate) fn write_tree<W: Write>(
    home: &Home,
    root: &NasPath,
    top: &str,
    out: W,
) -> io::Result<W> {
    let mut z = crate::zip::ZipStream::new(out);
    let mut entries = 0usize;
    let count = |n: &mut usize| -> io::Result<()> {
        *n += 1;
        if *n > MAX_ZIP_ENTRIES {
            return Err(io::Error::other(format!(
                "more than {MAX_ZIP_ENTRIES} entries: download a smaller folder"
            )));
        }
        Ok(())
    };
    let top_entry = home.stat(root).map_err(engine_io)?;
    z.add_dir(top, top_entry.mtime_ns)?;
    count(&mut entries)?;
    let mut stack = vec![(root.clone(), top.to_owned())];
    let mut buf = vec![0u8; BLOCK];
    while let Some((dir, prefix)) = stack.pop() {
        let mut after: Option<String> = None;
        loop {
            let page = match home.list(&dir, after.as_deref(), 1_000) {
                Ok(p) => p,
                Err(EngineError::NotFound(_)) => break, // moved or deleted meanwhile
                Err(e) => return Err(engine_io(e)),
            };
            for e in &page.entries {
                let name = format!("{prefix}/{}", e.name());
                count(&mut entries)?;
                match e.kind {
                    NodeKind::Dir => {
                        z.add_dir(&name, e.mtime_ns)?;
                        stack.push((e.path.clone(), name));
                    }
                    NodeKind::File => {
                        let reader = match home.open(&e.path, None) {
                            Ok(r) => r,
                            Err(EngineError::NotFound(_)) => continue,
                            Err(err) => return Err(engine_io(err)),
                        };
                        let v = reader.version().clone();
                        let mut f = z.start_file(&name, v.size, v.mtime_ns)?;
                        let mut r = reader.reader();
                        loop {
                            let n = r.read(&mut buf)?;
                            if n == 0 {
                                break;
                            }
                            z.write_file(&mut f, &buf[..n])?;
                        }
                        z.end_file(f)?;
                    }
                }
            }
            match page.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
    }
    z.finish()
}
