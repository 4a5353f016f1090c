//! [`StallClock`]: how long something has waited without progress — a request body for
//! data, a response for a client that reads. Progress only clears a timestamp; one timer is
//! armed when a wait begins and re-armed only when it fires for a wait that has ended since
//! (at most once per limit), so a fast transfer pays no timer per frame or write.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::time::Sleep;

/// A wait that may last at most `limit`.
pub struct StallClock {
    limit: Duration,
    /// When the current wait began (`None`: not waiting).
    since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl StallClock {
    /// A clock allowing waits of `limit`.
    pub fn new(limit: Duration) -> Self {
        StallClock {
            limit,
            since: None,
            timer: None,
        }
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Something moved: the current wait (if any) is over.
    pub fn progress(&mut self) {
        self.since = None;
    }

    /// Still waiting: `Ready` once this wait has lasted the limit, else `Pending` (the
    /// task is woken when it would).
    pub fn waiting(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = *self.since.get_or_insert_with(Instant::now) + self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            // it fired for an earlier wait: wait for this one
            timer.as_mut().reset(deadline.into());
        }
    }
}
