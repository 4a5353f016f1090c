//! Cluster mode over engines people already operate (issue 17). This crate holds what a
//! node adds to the single-node store when it shares its data with other nodes; so far:
//! [`NatsChanges`], the store's change events published on NATS
//! (`docs/api/events.md`). The engine knows only its [`ChangeSink`] seam; everything
//! NATS is here.

mod nats;

pub use nats::{NatsChanges, subject_for};

/// Why a cluster component could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A setting that cannot work (a malformed URL, an empty node name…).
    #[error("{0}")]
    Config(String),
    /// The component's own runtime could not start.
    #[error("cannot start: {0}")]
    Io(#[from] std::io::Error),
}

pub use nas_engine::changes::{Change, ChangeKind, ChangeSink, SinkStatus};
