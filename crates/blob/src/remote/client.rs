//! [`ObjectClient`]: the object store from synchronous code. `object_store` is async; the
//! `BlobStore` trait is not, and its callers are threads of tokio's blocking pool, the
//! engine's committer and workers — never a runtime worker. The client owns a small tokio
//! runtime of its own (two threads): each call spawns its future there and the calling
//! thread waits on a plain channel, so no runtime worker thread is ever blocked on a
//! future and the server's runtime never runs our I/O. Every request is bounded by
//! [`RemoteConfig::request_timeout`] (with `object_store`'s few retries inside it).

use super::config::RemoteConfig;
use bytes::Bytes;
use nas_types::PackId;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse, HttpService, ReqwestConnector,
};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The reqwest transport, with one leniency: a ranged GET answered `200 OK` *with* a
/// `Content-Range` header (what `rclone serve s3` does) is taken as the `206` it means.
/// A server that ignored the range sends no `Content-Range` and is still refused.
#[derive(Debug, Default)]
struct Transport;

#[derive(Debug)]
struct RangeLenient(HttpClient);

impl HttpConnector for Transport {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(RangeLenient(
            ReqwestConnector::default().connect(options)?,
        )))
    }
}

impl HttpService for RangeLenient {
    fn call<'a, 'b>(
        &'a self,
        req: HttpRequest,
    ) -> Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        let ranged = req.headers().contains_key(http::header::RANGE);
        Box::pin(async move {
            let mut res = self.0.execute(req).await?;
            if ranged
                && res.status() == http::StatusCode::OK
                && res.headers().contains_key(http::header::CONTENT_RANGE)
            {
                *res.status_mut() = http::StatusCode::PARTIAL_CONTENT;
            }
            Ok(res)
        })
    }
}

/// Errors of the object store, as text (credentials never appear in them: `object_store`
/// prints neither keys nor signatures).
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The object does not exist.
    #[error("object {0} not found")]
    NotFound(String),
    /// Any other failure (network, server, timeout); retrying may help.
    #[error("object store: {0}")]
    Other(String),
}

impl From<RemoteError> for crate::BlobError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::Other(why) => crate::BlobError::Unavailable(why),
            e @ RemoteError::NotFound(_) => crate::BlobError::Io(std::io::Error::other(e)),
        }
    }
}

/// A remote object's size and ETag.
#[derive(Debug, Clone)]
pub(crate) struct ObjectInfo {
    pub size: u64,
    pub e_tag: Option<String>,
}

/// The object store behind a runtime of its own.
pub(crate) struct ObjectClient {
    cfg: RemoteConfig,
    store: Arc<AmazonS3>,
    rt: Option<tokio::runtime::Runtime>,
}

fn install_crypto() {
    // reqwest is built without a bundled TLS provider (see Cargo.toml): use ring, the one
    // the binary already uses. A provider installed earlier (by the binary) stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl ObjectClient {
    pub(crate) fn new(cfg: &RemoteConfig) -> Result<ObjectClient, RemoteError> {
        install_crypto();
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_virtual_hosted_style_request(false)
            .with_http_connector(Transport)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: cfg.request_timeout,
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(cfg.request_timeout)
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_allow_http(
                        cfg.endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        if let Some(e) = &cfg.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(k) = &cfg.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &cfg.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        let store = b.build().map_err(|e| RemoteError::Other(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nas-objstore")
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Other(format!("runtime: {e}")))?;
        Ok(ObjectClient {
            cfg: cfg.clone(),
            store: Arc::new(store),
            rt: Some(rt),
        })
    }

    fn path(&self, pack: PackId) -> ObjectPath {
        ObjectPath::from(self.cfg.pack_key(pack))
    }

    /// Starts `fut` on the client's runtime; the result comes through the receiver.
    pub(crate) fn spawn<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> std::sync::mpsc::Receiver<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        if let Some(rt) = &self.rt {
            rt.spawn(async move {
                let _ = tx.send(fut.await);
            });
        }
        rx
    }

    /// Runs `fut` on the client's runtime and waits for it on this (non-runtime) thread.
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, object_store::Error>> + Send + 'static,
        what: String,
    ) -> Result<T, RemoteError> {
        match self.spawn(fut).recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(object_store::Error::NotFound { .. })) => Err(RemoteError::NotFound(what)),
            Ok(Err(e)) => Err(RemoteError::Other(format!("{what}: {e}"))),
            Err(_) => Err(RemoteError::Other(format!("{what}: the client stopped"))),
        }
    }

    /// Uploads a whole pack as one object.
    pub(crate) fn put(&self, pack: PackId, data: Bytes) -> Result<(), RemoteError> {
        let (s, p) = (self.store.clone(), self.path(pack));
        self.run(
            async move { s.put(&p, PutPayload::from(data)).await.map(|_| ()) },
            format!("PUT {pack}"),
        )
    }

    /// Uploads a pack of `size` bytes in parts of `part_size`, read from `file` a part at
    /// a time (two parts in flight at most: the memory is bounded by three parts), each
    /// part shown to `tap` in order (the MD5 of the whole). A failed part aborts the
    /// upload, so no parts are left behind on the object store.
    pub(crate) fn put_parts(
        &self,
        pack: PackId,
        file: &std::fs::File,
        size: u64,
        tap: &mut dyn FnMut(&[u8]),
    ) -> Result<(), RemoteError> {
        use std::os::unix::fs::FileExt;
        let (s, p) = (self.store.clone(), self.path(pack));
        let what = format!("multipart PUT {pack}");
        let mut up = self.run(async move { s.put_multipart(&p).await }, what.clone())?;
        let part = self.cfg.part_size.max(5 << 20);
        let mut in_flight = std::collections::VecDeque::new();
        let mut offset = 0;
        let mut failed: Option<RemoteError> = None;
        while offset < size && failed.is_none() {
            let n = part.min(size - offset);
            let mut buf = vec![0u8; usize::try_from(n).unwrap_or(usize::MAX)];
            if let Err(e) = file.read_exact_at(&mut buf, offset) {
                failed = Some(RemoteError::Other(format!("{what}: reading the pack: {e}")));
                break;
            }
            tap(&buf);
            offset += n;
            in_flight.push_back(self.spawn(up.put_part(PutPayload::from(buf))));
            if in_flight.len() >= 2 {
                failed = in_flight.pop_front().and_then(|rx| part_error(rx, &what));
            }
        }
        while let Some(rx) = in_flight.pop_front() {
            if let Some(e) = part_error(rx, &what) {
                failed.get_or_insert(e);
            }
        }
        match failed {
            None => self.run(async move { up.complete().await.map(|_| ()) }, what),
            Some(e) => {
                let _ = self.run(async move { up.abort().await }, what);
                Err(e)
            }
        }
    }

    /// Size and ETag of a pack's object.
    pub(crate) fn head(&self, pack: PackId) -> Result<ObjectInfo, RemoteError> {
        let (s, p) = (self.store.clone(), self.path(pack));
        self.run(
            async move {
                s.head(&p).await.map(|m| ObjectInfo {
                    size: m.size,
                    e_tag: m.e_tag,
                })
            },
            format!("HEAD {pack}"),
        )
    }

    /// A future reading `range` of a pack's object (run with [`ObjectClient::spawn`]),
    /// given up after `limit` (retries included): a stalled server is an error.
    pub(crate) fn get_range_fut(
        &self,
        pack: PackId,
        range: std::ops::Range<u64>,
        limit: Duration,
    ) -> impl Future<Output = Result<Bytes, RemoteError>> + Send + 'static {
        let (s, p) = (self.store.clone(), self.path(pack));
        async move {
            let what = || format!("GET {pack} {}-{}", range.start, range.end);
            match tokio::time::timeout(limit, s.get_range(&p, range.clone())).await {
                Ok(Ok(b)) => Ok(b),
                Ok(Err(object_store::Error::NotFound { .. })) => {
                    Err(RemoteError::NotFound(format!("pack {pack}")))
                }
                Ok(Err(e)) => Err(RemoteError::Other(format!("{}: {e}", what()))),
                Err(_) => Err(RemoteError::Other(format!(
                    "{}: no answer from the object store in {} s",
                    what(),
                    limit.as_secs_f64()
                ))),
            }
        }
    }

    /// Uploads `data` as the object `key` (a full key, prefix included).
    pub(crate) fn put_key(&self, key: &str, data: Bytes) -> Result<(), RemoteError> {
        let (s, p) = (self.store.clone(), ObjectPath::from(key));
        self.run(
            async move { s.put(&p, PutPayload::from(data)).await.map(|_| ()) },
            format!("PUT {key}"),
        )
    }

    /// The whole object `key`.
    pub(crate) fn get_key(&self, key: &str) -> Result<Bytes, RemoteError> {
        let (s, p) = (self.store.clone(), ObjectPath::from(key));
        self.run(
            async move {
                match s.get(&p).await {
                    Ok(r) => r.bytes().await,
                    Err(e) => Err(e),
                }
            },
            format!("GET {key}"),
        )
    }

    /// Every object under `prefix/` (all pages): (key, size).
    pub(crate) fn list_keys(&self, prefix: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        let (s, p) = (self.store.clone(), ObjectPath::from(prefix));
        self.run(
            async move {
                s.list_with_delimiter(Some(&p)).await.map(|l| {
                    l.objects
                        .into_iter()
                        .map(|o| (o.location.to_string(), o.size))
                        .collect()
                })
            },
            format!("LIST {prefix}/"),
        )
    }

    /// Deletes the object `key` (a missing one is fine).
    pub(crate) fn delete_key(&self, key: &str) -> Result<(), RemoteError> {
        let (s, p) = (self.store.clone(), ObjectPath::from(key));
        match self.run(async move { s.delete(&p).await }, format!("DELETE {key}")) {
            Err(RemoteError::NotFound(_)) => Ok(()),
            r => r,
        }
    }

    /// The tier's settings (no secret is ever printed from them).
    pub(crate) fn config(&self) -> &RemoteConfig {
        &self.cfg
    }

    /// [`RemoteConfig::multipart_threshold`].
    pub(crate) fn multipart_threshold(&self) -> u64 {
        self.cfg.multipart_threshold
    }

    /// [`RemoteConfig::read_timeout`].
    pub(crate) fn read_timeout(&self) -> Duration {
        self.cfg.read_timeout
    }

    /// [`RemoteConfig::request_timeout`].
    pub(crate) fn request_timeout(&self) -> Duration {
        self.cfg.request_timeout
    }

    /// Deletes a pack's object (a missing one is fine).
    pub(crate) fn delete(&self, pack: PackId) -> Result<(), RemoteError> {
        let (s, p) = (self.store.clone(), self.path(pack));
        match self.run(async move { s.delete(&p).await }, format!("DELETE {pack}")) {
            Err(RemoteError::NotFound(_)) => Ok(()),
            r => r,
        }
    }
}

/// The error of a finished part upload, if it failed.
fn part_error(
    rx: std::sync::mpsc::Receiver<object_store::Result<()>>,
    what: &str,
) -> Option<RemoteError> {
    match rx.recv() {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(RemoteError::Other(format!("{what}: a part: {e}"))),
        Err(_) => Some(RemoteError::Other(format!("{what}: the client stopped"))),
    }
}

impl Drop for ObjectClient {
    fn drop(&mut self) {
        // may run inside another runtime (the server's last handle dropped by a task):
        // shut down without waiting, which is allowed anywhere
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
