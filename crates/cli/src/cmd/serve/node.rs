//! This node's entry in the cluster's node registry (cluster mode only; a single server
//! has no registry): announced when the server starts, renewed every
//! [`NODE_BEAT`](nas_engine::NODE_BEAT) on a thread of its own, removed when the server
//! stops. A node that died keeps its entry, shown as not live after
//! [`NODE_LIVE`](nas_engine::NODE_LIVE), until any node's heartbeat drops it after
//! [`NODE_FORGET`](nas_engine::NODE_FORGET). Two processes announcing one name are told in
//! the log: node names must be unique.

use nas_engine::{ClusterNode, NODE_BEAT, NODE_FORGET, NODE_LIVE, NodeRegistry};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;

/// This node, announced; [`leave`](Announced::leave) takes it out of the registry.
pub struct Announced {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

/// Announces this node as `name`, process `instance` ([`instance_id`]), serving at
/// `address`, and keeps announcing it.
pub fn announce(
    registry: Arc<dyn NodeRegistry>,
    name: &str,
    instance: &str,
    address: &str,
) -> Announced {
    let me = ClusterNode {
        name: name.to_owned(),
        instance: instance.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        address: address.to_owned(),
        started_ns: nas_engine::now_ns(),
        age_ns: 0,
    };
    let mut failing = !beat(registry.as_ref(), &me, false);
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("node-heartbeat".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(NODE_BEAT) {
                failing = !beat(registry.as_ref(), &me, failing);
            }
            match registry.leave(&me.name, &me.instance) {
                Ok(_) => tracing::info!(node = %me.name, "left the cluster's node registry"),
                Err(e) => {
                    tracing::warn!(node = %me.name, error = %e, "could not leave the node registry")
                }
            }
        })
        .map_err(|e| tracing::warn!(error = %e, "cannot start the node heartbeat"))
        .ok();
    tracing::info!(node = %name, %address, "announced in the cluster's node registry");
    Announced { stop, thread }
}

impl Announced {
    /// Stops announcing and removes this node's entry.
    pub fn leave(mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One heartbeat; whether it was written (a failure is logged once until one succeeds).
fn beat(registry: &dyn NodeRegistry, me: &ClusterNode, was_failing: bool) -> bool {
    match registry.heartbeat(me, NODE_FORGET.as_nanos() as i64) {
        Ok(other) => {
            if let Some((instance, age)) = other
                && age < NODE_LIVE.as_nanos() as i64
            {
                tracing::warn!(node = %me.name, other = %instance,
                    "another live process announces itself under this node name: give each node its own [cluster] node name");
            }
            if was_failing {
                tracing::info!(node = %me.name, "node heartbeat written again");
            }
            true
        }
        Err(e) => {
            if !was_failing {
                tracing::warn!(node = %me.name, error = %e, "cannot write the node heartbeat");
            }
            false
        }
    }
}

/// A random id of this process (the first 16 of 32 random hex digits).
pub fn instance_id() -> String {
    let mut id = nas_engine::new_upload_id();
    id.truncate(16);
    id
}
