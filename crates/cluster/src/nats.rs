//! [`NatsChanges`]: the store's change events on NATS. Each committed change becomes one
//! JSON message on `PREFIX.<home>.<kind>` (`docs/api/events.md`).
//!
//! The engine calls [`ChangeSink::publish`] on its committer and request threads; it only
//! queues the change (bounded, [`QUEUE`]) and returns. One task on a one-thread runtime of
//! this sink's own turns changes into messages and hands them to the NATS client, which
//! reconnects by itself. While NATS is unreachable the client holds what it can, then the
//! queue fills and further changes are dropped and counted: a write never waits for the
//! bus and never fails because of it (events are hints; the metadata is the record).

use crate::ClusterError;
use async_nats::connection::State;
use nas_engine::changes::{Change, ChangeSink, SinkStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Changes waiting for the publisher before new ones are dropped.
pub const QUEUE: usize = 16_384;

/// The store's change events, published on NATS.
pub struct NatsChanges {
    tx: mpsc::Sender<Change>,
    client: async_nats::Client,
    counts: Arc<Counts>,
    target: String,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Default)]
struct Counts {
    published: AtomicU64,
    dropped: AtomicU64,
}

impl NatsChanges {
    /// Connects to the NATS server at `url` (`nats://host:port`, credentials allowed in
    /// the URL) as node `node`, publishing under `prefix` (e.g. `silent-nas.events`).
    /// Returns at once: an unreachable server is retried in the background (readiness
    /// reports it as degraded meanwhile).
    pub fn start(url: &str, node: &str, prefix: &str) -> Result<NatsChanges, ClusterError> {
        if node.is_empty() || prefix.is_empty() {
            return Err(ClusterError::Config(
                "change events need a node name and a subject prefix".into(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nats-events")
            .enable_all()
            .build()?;
        let opts = async_nats::ConnectOptions::new()
            .name(format!("silent-nas {node}"))
            .retry_on_initial_connect();
        let client = runtime
            .block_on(opts.connect(url))
            .map_err(|e| ClusterError::Config(format!("NATS {}: {e}", without_secret(url))))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        runtime.spawn(run(
            client.clone(),
            rx,
            counts.clone(),
            node.to_owned(),
            prefix.to_owned(),
        ));
        Ok(NatsChanges {
            tx,
            client,
            counts,
            target: without_secret(url),
            _runtime: runtime,
        })
    }
}

impl ChangeSink for NatsChanges {
    fn publish(&self, change: Change) {
        if self.tx.try_send(change).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn status(&self) -> SinkStatus {
        let degraded = match self.client.connection_state() {
            State::Connected => None,
            s => Some(format!(
                "NATS is unreachable ({s:?}): change events wait in a queue of {QUEUE}, \
                 then are dropped; other nodes' caches fall back to short lifetimes"
            )),
        };
        SinkStatus {
            target: self.target.clone(),
            degraded,
            published: self.counts.published.load(Ordering::Relaxed),
            dropped: self.counts.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The publisher: one message per change, in order.
async fn run(
    client: async_nats::Client,
    mut rx: mpsc::Receiver<Change>,
    counts: Arc<Counts>,
    node: String,
    prefix: String,
) {
    while let Some(c) = rx.recv().await {
        let subject = subject_for(&prefix, &c);
        let body = to_json(&c, &node);
        match client.publish(subject, body.into()).await {
            Ok(()) => counts.published.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                tracing::debug!("change event not published: {e}");
                counts.dropped.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// The subject of a change: `PREFIX.<home>.<kind>`. A home name's characters that NATS
/// gives a meaning in subjects (`.`, `*`, `>`, white space) become `_` (the message's
/// `user` field has the name as it is).
pub fn subject_for(prefix: &str, c: &Change) -> String {
    let home: String = c
        .home
        .chars()
        .map(|ch| match ch {
            '.' | '*' | '>' => '_',
            ch if ch.is_whitespace() || ch.is_control() => '_',
            ch => ch,
        })
        .collect();
    format!("{prefix}.{home}.{}", c.kind.as_str())
}

/// The message body (`docs/api/events.md`).
fn to_json(c: &Change, node: &str) -> Vec<u8> {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(c.time_ns.max(0) as u64);
    let v = serde_json::json!({
        "kind": c.kind.as_str(),
        "user": c.home,
        "path": c.path,
        "from": c.from,
        "dir": c.dir,
        "file_id": c.node.0,
        "version": c.version,
        "size": c.size,
        "hash": c.hash.map(|h| h.to_string()),
        "node": node,
        "time": humantime::format_rfc3339_nanos(time).to_string(),
    });
    v.to_string().into_bytes()
}

/// `url` without a password (for readiness and logs).
fn without_secret(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_loses_its_credentials() {
        assert_eq!(
            without_secret("nats://u:p@127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
        assert_eq!(without_secret("nats://h:1"), "nats://h:1");
    }
}
