//! [`NatsChanges`]: the store's change events on NATS, both ways. Each committed change
//! becomes one JSON message on `PREFIX.<home>.<kind>` (`docs/api/events.md`); a change of
//! an account record one on `PREFIX.<user>.account`; and the account changes other nodes
//! publish are handed to this node's caches ([`ChangeListener`]).
//!
//! The engine calls [`ChangeSink::publish`] on its committer and request threads; it only
//! queues the change (bounded, [`QUEUE`]) and returns. One task on a one-thread runtime of
//! this sink's own turns changes into messages and hands them to the NATS client, which
//! reconnects by itself. While NATS is unreachable the client holds what it can, then the
//! queue fills and further changes are dropped and counted: a write never waits for the
//! bus and never fails because of it (events are hints; the metadata is the record).
//!
//! Another task follows the connection: the listener is told the bus is heard only once
//! the subscription is in place on a connected client (a flush after `Connected`), and
//! that it is not on `Disconnected`, `Closed` or a slow-consumer drop — so a cache trusts
//! its entries longer only while no event can be missed unnoticed.

use crate::ClusterError;
use async_nats::connection::State;
use futures_util::StreamExt;
use nas_engine::changes::{Change, ChangeListener, ChangeSink, SinkStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Changes waiting for the publisher before new ones are dropped.
pub const QUEUE: usize = 16_384;
/// Account changes waiting for their own publisher.
pub const ACCOUNT_QUEUE: usize = 1_024;

/// The store's change events, published on NATS.
pub struct NatsChanges {
    tx: mpsc::Sender<Out>,
    accounts_tx: mpsc::Sender<Out>,
    client: async_nats::Client,
    /// Other nodes' account changes are followed (this node caches users' records).
    listens: bool,
    counts: Arc<Counts>,
    target: String,
    _runtime: tokio::runtime::Runtime,
}

/// What the publisher sends.
enum Out {
    Change(Change),
    /// An account record changed: the user's name, when (ns).
    Account(String, i64),
}

#[derive(Default)]
struct Counts {
    published: AtomicU64,
    dropped: AtomicU64,
}

impl NatsChanges {
    /// Connects to the NATS server at `url` (`nats://host:port`, credentials allowed in
    /// the URL) as node `node`, publishing under `prefix` (e.g. `silent-nas.events`), and
    /// telling `listener` (this node's caches) of other nodes' account changes and of the
    /// bus's state. Returns at once: an unreachable server is retried in the background
    /// (readiness reports it as degraded meanwhile).
    pub fn start(
        url: &str,
        node: &str,
        prefix: &str,
        listener: Option<Arc<dyn ChangeListener>>,
    ) -> Result<NatsChanges, ClusterError> {
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
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let opts = async_nats::ConnectOptions::new()
            .name(format!("silent-nas {node}"))
            .retry_on_initial_connect()
            .event_callback(move |e| {
                let _ = events_tx.send(e);
                async {}
            });
        let client = runtime
            .block_on(opts.connect(url))
            .map_err(|e| ClusterError::Config(format!("NATS {}: {e}", without_secret(url))))?;
        let listens = listener.is_some();
        if let Some(listener) = listener {
            let subject = format!("{prefix}.*.account");
            let subscription = runtime
                .block_on(client.subscribe(subject))
                .map_err(|e| ClusterError::Config(format!("NATS subscription: {e}")))?;
            let deaf = Arc::new(AtomicBool::new(false));
            runtime.spawn(follow(
                client.clone(),
                events_rx,
                listener.clone(),
                deaf.clone(),
            ));
            runtime.spawn(listen(subscription, listener, node.to_owned(), deaf));
        }
        let counts = Arc::new(Counts::default());
        // two publishers: a burst of file changes filling its queue never holds back or
        // drops an account change, which other nodes' caches wait for
        let (tx, rx) = mpsc::channel(QUEUE);
        let (accounts_tx, accounts_rx) = mpsc::channel(ACCOUNT_QUEUE);
        for rx in [rx, accounts_rx] {
            runtime.spawn(run(
                client.clone(),
                rx,
                counts.clone(),
                node.to_owned(),
                prefix.to_owned(),
            ));
        }
        Ok(NatsChanges {
            tx,
            accounts_tx,
            client,
            listens,
            counts,
            target: without_secret(url),
            _runtime: runtime,
        })
    }
}

impl ChangeSink for NatsChanges {
    fn publish(&self, change: Change) {
        if self.tx.try_send(Out::Change(change)).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn account_changed(&self, name: &str) {
        let now = nas_engine::now_ns();
        if self
            .accounts_tx
            .try_send(Out::Account(name.to_owned(), now))
            .is_err()
        {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn status(&self) -> SinkStatus {
        let degraded = match self.client.connection_state() {
            State::Connected => None,
            s => {
                let mut why = format!(
                    "NATS is unreachable ({s:?}): change events wait in a queue of \
                     {QUEUE}, then are dropped"
                );
                if self.listens {
                    why += &format!(
                        "; the cache of users' records trusts an entry for {} s instead of {} s",
                        nas_engine::UNLINKED_TTL.as_secs(),
                        nas_engine::LINKED_TTL.as_secs()
                    );
                }
                Some(why)
            }
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
    mut rx: mpsc::Receiver<Out>,
    counts: Arc<Counts>,
    node: String,
    prefix: String,
) {
    while let Some(out) = rx.recv().await {
        let (subject, body) = match out {
            Out::Change(c) => (subject_for(&prefix, &c), to_json(&c, &node)),
            Out::Account(name, time_ns) => (
                format!("{prefix}.{}.account", subject_token(&name)),
                account_json(&name, &node, time_ns),
            ),
        };
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
    format!("{prefix}.{}.{}", subject_token(&c.home), c.kind.as_str())
}

/// A home or user name as one subject token.
fn subject_token(name: &str) -> String {
    name.chars()
        .map(|ch| match ch {
            '.' | '*' | '>' => '_',
            ch if ch.is_whitespace() || ch.is_control() => '_',
            ch => ch,
        })
        .collect()
}

/// Follows the connection's events and tells `listener` whether the bus is heard: after
/// `Connected`, once a flush proves the subscription is in place on the server. A server
/// that refuses the subscription says so only in an error event: then (or when the
/// subscription ends) this node is `deaf` until it restarts, and its caches keep to the
/// short lifetime.
async fn follow(
    client: async_nats::Client,
    mut events: mpsc::UnboundedReceiver<async_nats::Event>,
    listener: Arc<dyn ChangeListener>,
    deaf: Arc<AtomicBool>,
) {
    use async_nats::{Event, ServerError};
    let heard = |deaf: &AtomicBool| !deaf.load(Ordering::Acquire);
    if client.connection_state() == State::Connected && client.flush().await.is_ok() && heard(&deaf)
    {
        listener.linked(true);
    }
    while let Some(e) = events.recv().await {
        match e {
            Event::Connected if client.flush().await.is_ok() && heard(&deaf) => {
                listener.linked(true)
            }
            Event::Disconnected | Event::Closed => listener.linked(false),
            Event::SlowConsumer(_) | Event::ServerError(ServerError::SlowConsumer(_)) => {
                listener.missed()
            }
            Event::ServerError(ServerError::Other(why)) if why.contains("Subscription") => {
                deaf.store(true, Ordering::Release);
                listener.linked(false);
                tracing::error!(
                    "NATS refused the subscription to account changes ({why}): this node \
                     trusts a cached user record for {} s only until it restarts",
                    nas_engine::UNLINKED_TTL.as_secs()
                );
            }
            _ => {}
        }
    }
}

/// Hands other nodes' account changes to `listener`.
async fn listen(
    mut subscription: async_nats::Subscriber,
    listener: Arc<dyn ChangeListener>,
    node: String,
    deaf: Arc<AtomicBool>,
) {
    while let Some(m) = subscription.next().await {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m.payload) else {
            continue;
        };
        if v["node"].as_str() == Some(node.as_str()) {
            continue; // this node dropped its own entry when it made the change
        }
        match v["user"].as_str() {
            Some(name) => listener.account_changed(name),
            None => listener.missed(), // not ours to read: drop everything rather than guess
        }
    }
    // the subscription is gone (the client closed it): nothing will drop entries now
    deaf.store(true, Ordering::Release);
    listener.linked(false);
}

/// The body of an account change (`docs/api/events.md`): who, where, when — no secret.
fn account_json(name: &str, node: &str, time_ns: i64) -> Vec<u8> {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(time_ns.max(0) as u64);
    let v = serde_json::json!({
        "kind": "account",
        "user": name,
        "node": node,
        "time": humantime::format_rfc3339_nanos(time).to_string(),
    });
    v.to_string().into_bytes()
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
