//! The `[cluster]` section: what a node shares with other nodes. The change events
//! (`docs/api/events.md`): with `nats` set, every committed change is published on NATS
//! under `events_prefix`, from a node called `node`. Without it nothing is published and
//! nothing is needed (the single-node default). And GC's grace period (`gc_grace`), which
//! several nodes over one database need.

use super::env;
use anyhow::{Result, bail};
use serde::Deserialize;

/// Subjects start with this unless `events_prefix` says otherwise.
pub const DEFAULT_EVENTS_PREFIX: &str = "silent-nas.events";

/// The `[cluster]` table of the configuration file (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// This node's name in events (default: the host name).
    pub node: Option<String>,
    /// NATS server for change events (`nats://host:4222`; off when unset).
    pub nats: Option<String>,
    /// Subject prefix of change events.
    pub events_prefix: Option<String>,
    /// GC deletes a chunk only once unreferenced this long (`0s`; `1h` with several nodes).
    pub gc_grace: Option<String>,
}

/// The validated `[cluster]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// This node's name.
    pub node: String,
    /// NATS server URL, when change events are on.
    pub nats: Option<String>,
    /// Subject prefix.
    pub events_prefix: String,
    /// GC's grace period (see `nas_engine::StoreOptions::gc_grace`).
    pub gc_grace: std::time::Duration,
}

/// File, then environment (`SILENT_NAS_NODE`, `SILENT_NAS_NATS`,
/// `SILENT_NAS_EVENTS_PREFIX`), then the `--nats` flag.
pub fn resolve(file: Option<ClusterFile>, flag_nats: Option<String>) -> Result<Cluster> {
    let f = file.unwrap_or_default();
    let node = env("SILENT_NAS_NODE").or(f.node).unwrap_or_else(host_name);
    let nats = flag_nats.or_else(|| env("SILENT_NAS_NATS")).or(f.nats);
    if let Some(u) = &nats
        && !(u.starts_with("nats://") || u.starts_with("tls://"))
    {
        bail!("[cluster] nats must be a nats:// or tls:// URL, not {u:?}");
    }
    let events_prefix = env("SILENT_NAS_EVENTS_PREFIX")
        .or(f.events_prefix)
        .unwrap_or_else(|| DEFAULT_EVENTS_PREFIX.to_owned());
    let token_ok = |t: &str| !t.is_empty() && !t.contains(['*', '>', ' ', '\t']);
    if !events_prefix.split('.').all(token_ok) {
        bail!(
            "[cluster] events_prefix must be dot-separated words without wildcards: {events_prefix:?}"
        );
    }
    if node.is_empty() {
        bail!("[cluster] node must not be empty");
    }
    let gc_grace = match env("SILENT_NAS_GC_GRACE").or(f.gc_grace) {
        None => std::time::Duration::ZERO,
        Some(v) => humantime::parse_duration(v.trim())
            .map_err(|e| anyhow::anyhow!("[cluster] gc_grace: {e} (e.g. 1h, 0s)"))?,
    };
    Ok(Cluster {
        node,
        nats,
        events_prefix,
        gc_grace,
    })
}

/// The machine's host name (`node` when unset), or `node` if it cannot be read.
fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_str()
        .ok()
        .filter(|n| !n.is_empty())
        .map_or_else(|| "node".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_with_wildcards_or_a_bad_url_is_refused() {
        let f = |prefix: &str, nats: &str| ClusterFile {
            node: Some("a".into()),
            nats: Some(nats.into()),
            events_prefix: Some(prefix.into()),
            gc_grace: None,
        };
        assert!(resolve(Some(f("x.y", "nats://127.0.0.1:4222")), None).is_ok());
        assert!(resolve(Some(f("x.*", "nats://127.0.0.1:4222")), None).is_err());
        assert!(resolve(Some(f("x..y", "nats://127.0.0.1:4222")), None).is_err());
        assert!(resolve(Some(f("x", "http://127.0.0.1:4222")), None).is_err());
        let c = resolve(None, None).unwrap();
        assert_eq!(c.nats, None);
        assert_eq!(c.events_prefix, DEFAULT_EVENTS_PREFIX);
        assert!(!c.node.is_empty());
        assert_eq!(c.gc_grace, std::time::Duration::ZERO);
        let g = ClusterFile {
            gc_grace: Some("1h".into()),
            ..ClusterFile::default()
        };
        assert_eq!(resolve(Some(g), None).unwrap().gc_grace.as_secs(), 3600);
        let bad = ClusterFile {
            gc_grace: Some("soon".into()),
            ..ClusterFile::default()
        };
        assert!(resolve(Some(bad), None).is_err());
    }
}
