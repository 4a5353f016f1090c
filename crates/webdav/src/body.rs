//! A request body that remembers whether reading it failed — a malformed chunked encoding
//! (chunk size `ZZ`), a connection cut part way. dav-server answers any body error with
//! `502 Bad Gateway`; the door turns that into `400` when the body itself was broken, since
//! the fault is the client's, not an upstream's.

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Wraps `inner`; `broken` becomes true when a read of it fails.
pub fn watched(inner: Body, broken: Arc<AtomicBool>) -> Body {
    Body::new(Watched { inner, broken })
}

struct Watched {
    inner: Body,
    broken: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.broken.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
