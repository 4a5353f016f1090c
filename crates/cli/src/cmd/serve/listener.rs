//! What one connection may hold on a listener, the same on every listener (main, S3,
//! metrics), HTTP and HTTPS:
//! - at most `max_connections` open at once; one more is answered at once, without reading
//!   its request, `503 Service Unavailable` with `Retry-After: 1` and closed (counted in
//!   `silent_nas_connections_refused_total`); on HTTPS it is closed before the handshake
//!   (there is no way to answer in plain text). The answer takes at most a second of the
//!   client's time and no place under the cap;
//! - the request head (request line and headers) must arrive within `header_timeout`, which
//!   also closes a connection idle that long: a new one that sends nothing (axum-server's
//!   first-request timer; for HTTPS it starts after the handshake) or a keep-alive one
//!   between requests (hyper's head timer starts when the connection waits for a request);
//! - a write that makes no progress for `write_timeout` (a client that stopped reading)
//!   fails, and the connection is closed;
//! - a TLS handshake must finish within 10 s (axum-server's default).
//!
//! Plain HTTP is HTTP/1.1 only; HTTPS offers HTTP/2 and HTTP/1.1 (ALPN).
//!
//! Pauses inside a request body are the request guard's ([`super::guard`]).

use super::stall::StallClock;
use crate::config::Limits;
use axum::Router;
use axum_server::accept::{Accept, DefaultAcceptor};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use nas_observe::ConnectionSeries;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Raises the soft open-file limit to the hard one (each connection holds a descriptor) and
/// says what it is; warns when `max_connections` per listener would not fit in it next to
/// the files the store keeps open. Returns the limit.
pub fn raise_open_files(limits: &Limits, listeners: usize) -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let want = now.maximum.unwrap_or(1 << 20);
    if now.current.is_some_and(|c| c < want) {
        let raised = Rlimit {
            current: Some(want),
            maximum: now.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(
                "cannot raise the open-file limit from {:?}: {e}",
                now.current
            );
        }
    }
    let limit = getrlimit(Resource::Nofile).current;
    let needed = (limits.max_connections as u64)
        .saturating_mul(listeners as u64)
        .saturating_add(256);
    match limit {
        Some(l) if l < needed => tracing::warn!(
            "the open-file limit ({l}) is below what max_connections ({}) on {listeners} listener(s) may use: raise it (ulimit -n, systemd LimitNOFILE=) or lower [limits] max_connections",
            limits.max_connections
        ),
        Some(l) => tracing::info!("open-file limit {l}"),
        None => tracing::info!("open-file limit: unlimited"),
    }
    limit
}

/// Serves `app` on `listener` under `limits` until `handle` shuts down.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<RustlsConfig>,
    app: Router,
    limits: &Limits,
    handle: axum_server::Handle<SocketAddr>,
    series: ConnectionSeries,
) -> io::Result<()> {
    let cap = Capped {
        inner: DefaultAcceptor,
        live: Arc::new(AtomicUsize::new(0)),
        max: limits.max_connections,
        write_timeout: limits.write_timeout,
        series,
        answer_busy: tls.is_none(),
    };
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(tls) => {
            let mut server = axum_server::from_tcp(listener)?
                .acceptor(RustlsAcceptor::new(tls).acceptor(cap))
                .first_request_timeout(limits.header_timeout);
            server
                .http_builder()
                .http1()
                .header_read_timeout(limits.header_timeout);
            server.handle(handle).serve(service).await
        }
        None => {
            // Plain HTTP speaks HTTP/1.1 only (HTTP/2 is offered over TLS, by ALPN): hyper's
            // protocol sniffing reads the first bytes into a buffer of its own and hands them
            // back as a separate first read, which makes hyper grow every connection's read
            // buffer from 8 to 16 KiB. Measured with 10,000 idle keep-alive connections.
            let mut server = axum_server::from_tcp(listener)?
                .acceptor(cap)
                .first_request_timeout(limits.header_timeout)
                .http1_only();
            server
                .http_builder()
                .http1()
                .header_read_timeout(limits.header_timeout);
            server.handle(handle).serve(service).await
        }
    }
}

/// An acceptor that counts the open connections and refuses those beyond the cap.
#[derive(Clone)]
struct Capped<A> {
    inner: A,
    live: Arc<AtomicUsize>,
    max: usize,
    write_timeout: Duration,
    series: ConnectionSeries,
    /// Answer a connection over the cap with a 503 (plain HTTP) rather than closing it.
    answer_busy: bool,
}

/// What a connection over the cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 55\r\nConnection: close\r\n\r\n\
the server has too many connections; try again shortly\n";

/// Tells a connection over the cap to come back, then closes it: the answer is written at
/// once (the request is not read), the sending side shut, and what the client had sent is
/// drained briefly so the close does not reset the connection before the client reads the
/// answer. At most a second in all; a client that takes longer just sees the close.
async fn turn_away<I: AsyncRead + AsyncWrite + Unpin>(mut stream: I) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(BUSY).await?;
        stream.shutdown().await?;
        let mut buf = [0u8; 4096];
        let mut drained = 0;
        while drained < 64 * 1024 {
            match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => drained += n,
                _ => break,
            }
        }
        Ok::<_, io::Error>(())
    })
    .await;
}

type Accepted<St, Sv> = Pin<Box<dyn Future<Output = io::Result<(St, Sv)>> + Send>>;

impl<A, I, S> Accept<I, S> for Capped<A>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Guarded<A::Stream>;
    type Service = A::Service;
    type Future = Accepted<Self::Stream, Self::Service>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        if self.live.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.live.fetch_sub(1, Ordering::AcqRel);
            self.series.refused();
            let answer = self.answer_busy;
            return Box::pin(async move {
                if answer {
                    turn_away(stream).await;
                }
                Err(io::Error::other("connection limit reached"))
            });
        }
        self.series.opened();
        let slot = Slot {
            live: self.live.clone(),
            series: self.series.clone(),
        };
        let write_timeout = self.write_timeout;
        let accepted = self.inner.accept(stream, service);
        Box::pin(async move {
            let (io, svc) = accepted.await?;
            Ok((
                Guarded {
                    io,
                    _slot: slot,
                    stalled: StallClock::new(write_timeout),
                },
                svc,
            ))
        })
    }
}

/// One place under the cap: given back when the connection (or its failed accept) ends.
struct Slot {
    live: Arc<AtomicUsize>,
    series: ConnectionSeries,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.series.closed();
    }
}

/// A connection's stream: holds its place under the cap, and fails a write that has made
/// no progress for `write_timeout` ([`StallClock`]: no timer per write).
pub struct Guarded<T> {
    io: T,
    _slot: Slot,
    stalled: StallClock,
}

impl<T> Guarded<T> {
    /// After a write attempt: progress clears the stall clock; a wait that has lasted
    /// `write_timeout` fails the write.
    fn watch<R>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if r.is_ready() {
            self.stalled.progress();
            return r;
        }
        match self.stalled.waiting(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.watch(cx, r)
    }
}
