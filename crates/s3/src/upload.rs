//! Receiving a body into the engine: PutObject and UploadPart both stream here, through
//! the engine's one upload bridge ([`nas_engine::Upload`]): a body of one block (256 KiB)
//! is handed to the engine's committer in one piece (a small object costs one trip to the
//! blocking pool, to open the file, and one to the committer); a larger one goes through
//! the bridge's bounded channel into a blocking writer. MD5 and the claimed checksums are
//! computed on a thread of their own (`digest`), fed the same frames (never copied). The
//! engine refuses bytes past the quota as they arrive. The version is committed only when
//! the body ended cleanly and every digest matched — otherwise nothing is stored and the
//! old version stays.

use crate::checksums::Claims;
use crate::digest::{Digest, Sums};
use crate::keys::s3_err;
use crate::object_lock::LockHeaders;
use bytes::Bytes;
use futures_util::StreamExt;
use nas_engine::{
    EngineError, Entry, Expect, FileAttrs, FileWriter, Home, ObjectLock, Upload, WriteOptions,
    now_ns,
};
use nas_types::{ContentHash, NasPath};
use s3s::dto::{Checksum, StreamingBlob};
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders, s3_error};
use std::sync::Arc;

/// Where a body goes.
pub struct Target {
    /// Home written to.
    pub home: Home,
    /// File written.
    pub path: NasPath,
    /// Create missing parent folders.
    pub mkdirs: bool,
    /// The bucket (a top-level folder) that must exist, checked when the file is opened
    /// (`NoSuchBucket` otherwise); `None` when the caller checked it already.
    pub bucket: Option<NasPath>,
    /// A conditional write's expectation, checked atomically with the commit.
    pub expect: Option<Expect>,
    /// For an object (not a part): its bucket and the request's lock headers, from which
    /// the new version's object lock is decided when the file is opened (the headers,
    /// refused on a bucket without object lock; else the engine's bucket default).
    pub lock: Option<(String, LockHeaders)>,
}

/// What was stored.
pub struct Received {
    /// The file as committed.
    pub entry: Entry,
    /// Hex MD5 of the body.
    pub md5_hex: String,
    /// The checksums the request named, computed.
    pub checksum: Checksum,
}

/// A block of body frames for the digest (the frames are shared with the writer, never
/// copied), holding one permit of [`IN_FLIGHT`] until the digest is done with it.
pub(crate) type Block = Arc<Frames>;

pub(crate) struct Frames {
    frames: Vec<Bytes>,
    _permit: tokio::sync::SemaphorePermit<'static>,
}

impl std::ops::Deref for Frames {
    type Target = [Bytes];
    fn deref(&self) -> &[Bytes] {
        &self.frames
    }
}

/// Blocks of all uploads together between the network and the digest: 64 × 256 KiB =
/// 16 MiB. One upload may use all of them ([`DEPTH`]), so the MD5 thread (the slowest step
/// of a PUT) can fall behind the receiving side without stalling it; parallel uploads (ten
/// multipart parts) share the same 16 MiB, in the order they asked.
static IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(64);

/// Blocks one upload may queue for its digest: all of [`IN_FLIGHT`].
pub(crate) const DEPTH: usize = 64;

/// Why a body was not stored.
enum Refused {
    /// [`Target::bucket`] is not a folder.
    NoBucket,
    /// The engine refused.
    Engine(EngineError),
    /// The request's object lock settings were refused.
    Lock(S3Error),
}

impl From<EngineError> for Refused {
    fn from(e: EngineError) -> Self {
        Refused::Engine(e)
    }
}

/// The `Content-Length` the listener gives s3s for a chunked body of unknown length
/// (`listener::streams_unsized`): no body reaches it, and a length this large is never
/// taken for a small body.
pub(crate) const UNSIZED: i64 = i64::MAX;

/// Size of the blocks handed to the digest thread: the engine's upload block, so a body
/// the engine commits in one piece is digested inline too.
pub(crate) const BLOCK: usize = nas_engine::upload::BLOCK;

/// Streams `body` into `t` through the engine's upload bridge ([`nas_engine::Upload`]: its
/// blocks, its writer task, its policy for a body refused part way), verifies it against
/// `claims` on the digest's thread, and commits it with the attributes `attrs` returns
/// (given the computed MD5 hex and checksums). The file is opened before the body is read
/// (so a missing bucket is answered before a client waiting for `100 Continue` sends it).
pub async fn receive(
    t: Target,
    body: &mut Option<StreamingBlob>,
    claims: &Claims,
    trailers: Option<TrailingHeaders>,
    attrs: impl FnOnce(&str, &Checksum) -> FileAttrs,
) -> S3Result<Received> {
    // Opening reads the index only, inline (microseconds, never blocked by writers in WAL
    // mode) — unless the key's folders must be made: that write goes to the blocking pool.
    let opened = if t.mkdirs && !parent_is_dir(&t) {
        tokio::task::spawn_blocking(move || open(t))
            .await
            .map_err(|_| s3_error!(InternalError))?
    } else {
        open(Target { mkdirs: false, ..t })
    };
    let Opened { w, path } = opened.map_err(refusal)?;
    let mut up = Upload::new(w);
    let mut digest = Digest::Inline(Box::new(Sums::new(claims)));
    let mut fed = false;
    let mut failed = None;
    // HTTP frames are small: the digest gets them gathered (not copied) into blocks of
    // ~256 KiB, so its thread is woken once per block, not once per frame
    let mut block: Vec<Bytes> = Vec::new();
    let mut gathered = 0usize;
    if let Some(b) = body.as_mut() {
        loop {
            let next = b.next().await;
            let last = next.is_none();
            match next {
                Some(Ok(bytes)) => {
                    gathered += bytes.len();
                    block.push(bytes.clone());
                    up.push(bytes).await.map_err(s3_err)?;
                }
                Some(Err(e)) => {
                    failed = Some(S3Error::with_message(
                        S3ErrorCode::IncompleteBody,
                        e.to_string(),
                    ));
                    break;
                }
                None => {}
            }
            if last && !fed {
                break; // the whole body is in `block`: digested inline below
            }
            if gathered >= BLOCK || (last && gathered > 0) {
                let Ok(permit) = IN_FLIGHT.acquire().await else {
                    return Err(s3_error!(InternalError)); // never closed
                };
                let full: Block = Arc::new(Frames {
                    frames: std::mem::take(&mut block),
                    _permit: permit,
                });
                gathered = 0;
                fed = true;
                digest.feed(full, last).await;
            }
            if last {
                break;
            }
        }
    }
    // a body of one block was never fed: its frames are digested now
    let sums = digest.finish(&block).await?;
    let md5 = sums.md5.finalize();
    let checksum = sums.claimed.finalize();
    let content_hash = ContentHash::from(sums.blake3.finalize());
    let verdict = match failed {
        Some(e) => Err(e),
        None => claims.verify(
            &md5,
            &checksum,
            trailers.as_ref().and_then(|t| t.take()).as_ref(),
        ),
    };
    // on a failed verdict the upload is dropped unfinished: nothing is committed
    verdict?;
    let md5_hex = hex::encode(md5);
    let attrs = attrs(&md5_hex, &checksum);
    let v = up
        .finish(Some(attrs), Some(content_hash))
        .await
        .map_err(s3_err)?;
    Ok(Received {
        // the committed version says what a stat would (no lookup)
        entry: Entry::of_version(path, &v),
        md5_hex,
        checksum,
    })
}

/// A file open for writing: the writer and its path. The engine refuses bytes past the
/// quota as they arrive, and checks it again at the commit.
struct Opened {
    w: FileWriter,
    path: NasPath,
}

/// Opens the file of `t` for writing (blocking): parent folders, and a writer whose
/// content hash the caller gives.
/// Whether the folder the file goes into exists (nothing to make).
fn parent_is_dir(t: &Target) -> bool {
    t.path.parent().is_none_or(|p| {
        t.home
            .stat(&p)
            .is_ok_and(|e| e.kind == nas_engine::NodeKind::Dir)
    })
}

fn open(t: Target) -> Result<Opened, Refused> {
    let Target {
        home,
        path,
        mkdirs,
        bucket,
        expect,
        lock,
    } = t;
    if let Some(b) = bucket
        && !crate::service::is_bucket(&home, &b)?
    {
        return Err(Refused::NoBucket);
    }
    if mkdirs && let Some(parent) = path.parent() {
        home.mkdir_all_implicit(&parent)?; // folders made for a key go with it
    }
    // the headers' lock, checked against the bucket; without headers none here: the
    // engine gives the version the bucket's default retention (`folder_lock`)
    let lock = match lock {
        Some((b, headers)) if headers.any() => {
            let conf = crate::object_lock::bucket_lock(&home, &b)?;
            crate::object_lock::lock_for_write(conf.as_ref(), &headers, now_ns())
                .map_err(Refused::Lock)?
        }
        _ => ObjectLock::default(),
    };
    let opts = WriteOptions {
        expect,
        lock,
        ..WriteOptions::default()
    };
    let mut w = home.writer(&path, opts)?;
    // the digest computes the content hash (on the thread beside the writer, which has
    // chunking, chunk hashing and compression to do)
    w.hash_elsewhere()?;
    Ok(Opened { w, path })
}

/// `QuotaExceeded` (403, as MinIO answers): the one answer of every write the engine
/// refused over the quota.
pub(crate) fn quota_exceeded() -> S3Error {
    let mut err = S3Error::with_message(
        S3ErrorCode::Custom("QuotaExceeded".into()),
        "the user's quota would be exceeded; nothing was stored",
    );
    err.set_status_code(http::StatusCode::FORBIDDEN);
    err
}

/// The S3 error for a writer that refused the upload.
fn refusal(r: Refused) -> S3Error {
    match r {
        Refused::NoBucket => s3_error!(NoSuchBucket),
        Refused::Engine(e) => s3_err(e),
        Refused::Lock(e) => e,
    }
}

/// Whether the client sends its body only after `100 Continue` (`Expect: 100-continue`).
pub(crate) fn waits_for_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// A request body, and whether reading it has begun. A request refused before its body is
/// read sends no `100 Continue`, so a client waiting for one (`Expect: 100-continue`: the
/// AWS SDKs for large bodies, curl) never sends the body. Any other refused body — one the
/// client sends without waiting, or one read part way — has its rest read and discarded,
/// or the client, still sending, may lose the answer to a reset connection.
pub struct Body {
    blob: Option<StreamingBlob>,
    started: bool,
    /// The client waits for `100 Continue` before it sends the body.
    waits: bool,
}

impl Body {
    /// The body of a request with these headers, not read yet.
    pub fn new(blob: Option<StreamingBlob>, headers: &http::HeaderMap) -> Body {
        Body {
            blob,
            started: false,
            waits: waits_for_continue(headers),
        }
    }

    /// The stream, to be read from now on.
    pub fn start(&mut self) -> &mut Option<StreamingBlob> {
        self.started = true;
        &mut self.blob
    }

    /// After a refusal: reads and discards the rest (up to 64 MiB; a larger rest is left to
    /// the connection being closed), unless the client is still waiting to send it.
    pub async fn settle(&mut self) {
        if self.waits && !self.started {
            return;
        }
        if let Some(b) = self.blob.as_mut() {
            let mut seen = 0usize;
            while let Some(Ok(chunk)) = b.next().await {
                seen += chunk.len();
                if seen > 64 << 20 {
                    break;
                }
            }
        }
    }
}
