//! The request guard, around every door on every listener. It sits inside the metrics and
//! audit wrappers, so whatever it answers is counted and audited like any answer:
//! - a method no door serves is answered 501 before any door (or its parser) sees it;
//! - a request body that pauses longer than `body_idle_timeout` fails where the door reads
//!   it, and the answer becomes 408 with `Connection: close`;
//! - a panic while serving a request becomes a 500 for that request alone: the process, the
//!   connection's other state and the in-flight counts are unaffected (the panic hook in
//!   [`super`] logs it as one line);
//! - a request body still unfinished when the shutdown's grace period is over ([`CUT_OFF`])
//!   is logged as cut off: the user (whom the door noted in the request's `AuditNote` once
//!   it signed them in), method, path and the bytes received (nothing of it is committed).

use super::stall::StallClock;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use http_body::{Frame, SizeHint};
use nas_engine::audit::AuditNote;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// Set once the shutdown's grace period is over: a request body dropped unfinished from then
/// on was cut off by the shutdown, and is logged as such.
pub static CUT_OFF: AtomicBool = AtomicBool::new(false);

/// What the guard enforces.
#[derive(Clone, Copy)]
pub struct GuardConfig {
    /// Longest pause inside a request body.
    pub body_idle_timeout: Duration,
}

fn plain(code: StatusCode, msg: &'static str) -> Response {
    let mut r = Response::new(Body::from(msg));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A request path fit for the log: a share link's token (`/s/{token}/…`) is a secret, so it
/// is left out (`/s/…/rest`).
fn loggable_path(path: &str) -> String {
    match path.strip_prefix("/s/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, after)) => format!("/s/…/{after}"),
            None => "/s/…".to_owned(),
        },
        None => path.to_owned(),
    }
}

/// Axum middleware: see the module docs.
pub async fn guard(State(cfg): State<GuardConfig>, req: Request, next: Next) -> Response {
    if nas_observe::method_label(req.method()) == "other" {
        let mut r = plain(StatusCode::NOT_IMPLEMENTED, "method not implemented\n");
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let timed_out = Arc::new(AtomicBool::new(false));
    let flag = timed_out.clone();
    let (method, path) = (req.method().clone(), loggable_path(req.uri().path()));
    let note = req.extensions().get::<AuditNote>().cloned();
    let req = req.map(|b| {
        Body::new(IdleBody {
            inner: b,
            clock: StallClock::new(cfg.body_idle_timeout),
            timed_out: flag,
            received: 0,
            ended: false,
            method,
            path,
            note,
        })
    });
    let resp = match CatchUnwind(Box::pin(next.run(req))).await {
        Ok(r) => r,
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    };
    if timed_out.load(Ordering::Acquire) {
        let mut r = plain(
            StatusCode::REQUEST_TIMEOUT,
            "the request body paused too long\n",
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    resp
}

/// A future whose panic is returned as an error instead of unwinding further.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

/// A request body that fails when no data arrives for the clock's limit while it is being
/// read ([`StallClock`]: no timer per frame).
struct IdleBody {
    inner: Body,
    clock: StallClock,
    timed_out: Arc<AtomicBool>,
    /// Bytes received so far, and whether the body was read to its end.
    received: u64,
    ended: bool,
    /// The request, for the log line of a body cut off by the shutdown.
    method: http::Method,
    path: String,
    /// Where the door notes who signed in (absent on a listener without the audit trail).
    note: Option<AuditNote>,
}

impl Drop for IdleBody {
    fn drop(&mut self) {
        if CUT_OFF.load(Ordering::Acquire)
            && !self.ended
            && !http_body::Body::is_end_stream(&self.inner)
        {
            let user = self.note.as_ref().and_then(AuditNote::user);
            tracing::warn!(
                user = %user.as_deref().unwrap_or("-"),
                method = %self.method,
                path = %self.path,
                bytes_received = self.received,
                "upload cut off by the shutdown (nothing of it is stored)"
            );
        }
    }
}

/// The error a paused body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body paused longer than {0:?}")]
struct BodyIdle(Duration);

impl http_body::Body for IdleBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(f) => {
                this.clock.progress();
                match &f {
                    None => this.ended = true,
                    Some(Ok(frame)) => {
                        if let Some(d) = frame.data_ref() {
                            this.received += d.len() as u64;
                        }
                    }
                    Some(Err(_)) => {}
                }
                Poll::Ready(f.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => match this.clock.waiting(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => {
                    this.timed_out.store(true, Ordering::Release);
                    Poll::Ready(Some(Err(Box::new(BodyIdle(this.clock.limit())))))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::CatchUnwind;

    #[test]
    fn a_share_token_never_reaches_the_log() {
        use super::loggable_path as p;
        assert_eq!(p("/s/SECRETTOKEN/photos/a.jpg"), "/s/…/photos/a.jpg");
        assert_eq!(p("/s/SECRETTOKEN"), "/s/…");
        assert_eq!(p("/dav/s/x"), "/dav/s/x");
    }

    #[tokio::test]
    async fn a_panicking_request_becomes_an_error() {
        let ok = CatchUnwind(Box::pin(async { 7 })).await;
        assert_eq!(ok.ok(), Some(7));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let bad = CatchUnwind(Box::pin(async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            7
        }))
        .await;
        std::panic::set_hook(hook);
        let msg = bad
            .err()
            .and_then(|p| p.downcast_ref::<&str>().map(|s| (*s).to_owned()));
        assert_eq!(msg.as_deref(), Some("boom"));
    }
}
