//! Server configuration: typed, read from a TOML file, overridden by `SILENT_NAS_*`
//! environment variables, overridden by flags; validated once at start-up. Every field is
//! documented in `docs/configuration.md`. Secrets never appear here (passwords are hashed in
//! the database; the first admin password comes from `SILENT_NAS_ADMIN_PASSWORD` or is
//! generated and printed once).

pub mod blobs;
mod cluster;
mod limits;
pub mod meta;
mod storage;
mod workers;

pub use cluster::Cluster;
pub use limits::{Limits, MetricsConfig};
pub use storage::Storage;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The configuration file's shape (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory.
    pub data: Option<PathBuf>,
    /// Address to listen on.
    pub listen: Option<String>,
    /// Public base URL when behind a proxy, e.g. `https://nas.example.com`.
    pub public_url: Option<String>,
    /// Log filter (`info`, `debug`, `silent_nas=debug,nas_webdav=trace`…).
    pub log: Option<String>,
    /// Log line format: `text` (default) or `json` (one object per line).
    pub log_format: Option<String>,
    /// TLS certificate and key: serve HTTPS directly.
    pub tls: Option<TlsFiles>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<String>>,
    /// Address of the S3-compatible listener (off when unset).
    pub s3_listen: Option<String>,
    /// Base domain for virtual-host-style S3 requests (`bucket.DOMAIN`).
    pub s3_domain: Option<String>,
    /// Background workers: GC, retention, trash expiry, scrub, the search index.
    pub workers: Option<workers::WorkersFile>,
    /// Entries the audit log keeps (the oldest are deleted beyond this).
    pub audit_max_entries: Option<u64>,
    /// What one client may hold: timeouts and connections.
    pub limits: Option<limits::LimitsFile>,
    /// Who may read `/metrics`, and its own listener.
    pub metrics: Option<limits::MetricsFile>,
    /// Answer WebDAV `PROPFIND Depth: infinity` (off: refused with `propfind-finite-depth`).
    pub propfind_infinity: Option<bool>,
    /// Serve anonymous S3 reads where a bucket's or object's ACL or policy makes them
    /// public (off: every unsigned S3 request is refused).
    pub s3_public_access: Option<bool>,
    /// The free-space reserve, and readiness's free-space threshold.
    pub storage: Option<storage::StorageFile>,
    /// The object-storage tier (off unless `remote` is set).
    pub blobs: Option<blobs::BlobsFile>,
    /// What quotas count: `current` (the current content, default) or `all` (every
    /// version and the trash too).
    pub quota_counts: Option<String>,
    /// What this node shares with other nodes: change events on NATS.
    pub cluster: Option<cluster::ClusterFile>,
    /// Where the metadata lives (`url = "postgres://…"`; the data directory's SQLite when
    /// unset).
    pub meta: Option<meta::MetaFile>,
}

/// PEM files for HTTPS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory.
    pub data: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Public base URL, if set.
    pub public_url: Option<String>,
    /// Log filter.
    pub log: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// HTTPS certificate and key, when serving TLS directly.
    pub tls: Option<TlsFiles>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// S3 listener address, when enabled.
    pub s3_listen: Option<SocketAddr>,
    /// Base domain for virtual-host-style S3 requests.
    pub s3_domain: Option<String>,
    /// Schedules and limits of the background workers.
    pub workers: nas_engine::workers::MaintenanceConfig,
    /// Age after which unfinished S3 multipart uploads are removed (`None`: never).
    pub s3_upload_expiry: Option<std::time::Duration>,
    /// Schedule and limits of cold recompression.
    pub recompress: nas_engine::workers::RecompressConfig,
    /// How often buckets' lifecycle rules are applied (`None`: never).
    pub lifecycle_interval: Option<std::time::Duration>,
    /// How long a lifecycle rule's day is.
    pub lifecycle_day: std::time::Duration,
    /// Entries the audit log keeps (≥ 1).
    pub audit_max_entries: u64,
    /// Age after which an idle tus upload (REST) is removed (`None`: never).
    pub upload_expiry: Option<std::time::Duration>,
    /// Timeouts and limits of every listener.
    pub limits: Limits,
    /// Who may read `/metrics`.
    pub metrics: MetricsConfig,
    /// Whether WebDAV answers `PROPFIND Depth: infinity`.
    pub propfind_infinity: bool,
    /// Whether anonymous S3 reads of public buckets and objects are served.
    pub s3_public_access: bool,
    /// The free-space reserve and readiness's free-space threshold.
    pub storage: Storage,
    /// The object-storage tier (when on) and the pack size.
    pub blobs: blobs::Blobs,
    /// What quotas count.
    pub quota_counts: nas_engine::QuotaCounts,
    /// This node's name and its change events.
    pub cluster: Cluster,
    /// Where the metadata lives.
    pub meta: nas_engine::MetaLocation,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people: one line per event, coloured only on a terminal.
    #[default]
    Text,
    /// For log collectors: one JSON object per line (never coloured).
    Json,
}

impl LogFormat {
    fn parse(v: &str) -> Result<LogFormat> {
        match v.trim() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => bail!("log_format: expected \"text\" or \"json\", not {other:?}"),
        }
    }
}

/// Entries the audit log keeps by default (about 20 MB of database).
pub const DEFAULT_AUDIT_MAX_ENTRIES: u64 = 100_000;

/// Values given on the command line (highest precedence).
#[derive(Debug, Default)]
pub struct Overrides {
    pub data: Option<PathBuf>,
    pub listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub s3_listen: Option<String>,
    pub s3_domain: Option<String>,
    pub log_format: Option<LogFormat>,
    pub nats: Option<String>,
    pub meta: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// An on/off setting: the environment variable `name` if set, else the file's value.
fn switch(name: &str, file: bool) -> Result<bool> {
    match env(name) {
        Some(v) => match v.trim() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            other => bail!("{name}: expected true or false, not {other:?}"),
        },
        None => Ok(file),
    }
}

impl Config {
    /// File, then environment, then flags.
    pub fn load(file: Option<&Path>, flags: Overrides) -> Result<Config> {
        let fc: FileConfig = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("invalid config {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let data = flags
            .data
            .or_else(|| env("SILENT_NAS_DATA").map(PathBuf::from))
            .or(fc.data)
            .context(
                "no data directory: give --data, SILENT_NAS_DATA or `data` in the config file",
            )?;
        let listen_s = flags
            .listen
            .or_else(|| env("SILENT_NAS_LISTEN"))
            .or(fc.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen: SocketAddr = listen_s
            .parse()
            .with_context(|| format!("invalid listen address {listen_s:?}"))?;
        let public_url = env("SILENT_NAS_PUBLIC_URL").or(fc.public_url);
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            bail!("public_url must start with http:// or https://: {u:?}");
        }
        let log = env("RUST_LOG")
            .or_else(|| env("SILENT_NAS_LOG"))
            .or(fc.log)
            .unwrap_or_else(|| "info".to_owned());
        let log_format = match flags.log_format {
            Some(f) => f,
            None => match env("SILENT_NAS_LOG_FORMAT").or(fc.log_format) {
                Some(v) => LogFormat::parse(&v)?,
                None => LogFormat::default(),
            },
        };
        let cert = flags
            .tls_cert
            .or_else(|| env("SILENT_NAS_TLS_CERT").map(PathBuf::from));
        let key = flags
            .tls_key
            .or_else(|| env("SILENT_NAS_TLS_KEY").map(PathBuf::from));
        let tls = match (cert, key, fc.tls) {
            (Some(cert), Some(key), _) => Some(TlsFiles { cert, key }),
            (None, None, t) => t,
            _ => bail!("TLS needs both a certificate and a key"),
        };
        if let Some(t) = &tls {
            for f in [&t.cert, &t.key] {
                if !f.is_file() {
                    bail!("TLS file {} does not exist", f.display());
                }
            }
        }
        let proxies: Vec<String> = match env("SILENT_NAS_TRUSTED_PROXIES") {
            Some(v) => v
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            None => fc.trusted_proxies.unwrap_or_default(),
        };
        let trusted_proxies = proxies
            .iter()
            .map(|p| {
                p.parse()
                    .with_context(|| format!("invalid trusted proxy address {p:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let s3_listen = match flags
            .s3_listen
            .or_else(|| env("SILENT_NAS_S3_LISTEN"))
            .or(fc.s3_listen)
        {
            Some(a) => Some(
                a.parse()
                    .with_context(|| format!("invalid S3 listen address {a:?}"))?,
            ),
            None => None,
        };
        let s3_domain = flags
            .s3_domain
            .or_else(|| env("SILENT_NAS_S3_DOMAIN"))
            .or(fc.s3_domain)
            .map(|d| d.trim_matches('.').to_ascii_lowercase());
        if let Some(d) = &s3_domain
            && (d.is_empty() || d.contains(['/', ':', ' ']))
        {
            bail!("s3_domain must be a bare domain name like s3.example.com: {d:?}");
        }
        let s3_upload_expiry = workers::s3_upload_expiry(fc.workers.as_ref())?;
        let upload_expiry = workers::upload_expiry(fc.workers.as_ref())?;
        let (lifecycle_interval, lifecycle_day) = workers::lifecycle(fc.workers.as_ref())?;
        let recompress = workers::recompress(fc.workers.as_ref())?;
        let workers = workers::resolve(fc.workers)?;
        let audit_max_entries = match env("SILENT_NAS_AUDIT_MAX_ENTRIES") {
            Some(v) => v
                .parse()
                .with_context(|| format!("invalid SILENT_NAS_AUDIT_MAX_ENTRIES {v:?}"))?,
            None => fc.audit_max_entries.unwrap_or(DEFAULT_AUDIT_MAX_ENTRIES),
        };
        if audit_max_entries == 0 {
            bail!("audit_max_entries must be at least 1");
        }
        let propfind_infinity = switch(
            "SILENT_NAS_PROPFIND_INFINITY",
            fc.propfind_infinity.unwrap_or(false),
        )?;
        let s3_public_access = switch(
            "SILENT_NAS_S3_PUBLIC_ACCESS",
            fc.s3_public_access.unwrap_or(false),
        )?;
        let quota_counts = match env("SILENT_NAS_QUOTA_COUNTS").or(fc.quota_counts) {
            None => nas_engine::QuotaCounts::default(),
            Some(v) => nas_engine::QuotaCounts::parse(v.trim()).with_context(|| {
                format!("quota_counts: expected \"current\" or \"all\", not {v:?}")
            })?,
        };
        let limits = limits::resolve(fc.limits)?;
        let storage = storage::resolve(fc.storage)?;
        let blobs = blobs::resolve(fc.blobs)?;
        let metrics = limits::resolve_metrics(fc.metrics)?;
        let cluster = cluster::resolve(fc.cluster, flags.nats)?;
        let meta = meta::resolve(fc.meta, flags.meta)?;
        Ok(Config {
            meta,
            cluster,
            storage,
            blobs,
            quota_counts,
            propfind_infinity,
            s3_public_access,
            limits,
            metrics,
            data,
            listen,
            public_url,
            log,
            log_format,
            tls,
            trusted_proxies,
            s3_listen,
            s3_domain,
            workers,
            s3_upload_expiry,
            recompress,
            lifecycle_interval,
            lifecycle_day,
            audit_max_entries,
            upload_expiry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "data = \"/srv/nas\"\nlisten = \"127.0.0.1:9999\"\nlog = \"debug\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f), Overrides::default()).unwrap();
        assert_eq!(c.data, PathBuf::from("/srv/nas"));
        assert_eq!(c.listen.port(), 9999);
        let c = Config::load(
            Some(&f),
            Overrides {
                listen: Some("127.0.0.1:1234".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen.port(), 1234);
        let half = Overrides {
            tls_cert: Some("/nonexistent.pem".into()),
            ..Default::default()
        };
        assert!(
            Config::load(Some(&f), half).is_err(),
            "a certificate without a key is refused"
        );
        std::fs::write(
            &f,
            "data = \"/x\"\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n",
        )
        .unwrap();
        assert_eq!(
            Config::load(Some(&f), Overrides::default())
                .unwrap()
                .trusted_proxies
                .len(),
            2
        );
        std::fs::write(&f, "data = \"/x\"\ntrusted_proxies = [\"proxy.local\"]\n").unwrap();
        assert!(
            Config::load(Some(&f), Overrides::default()).is_err(),
            "addresses, not names"
        );
        std::fs::write(&f, "data = \"/x\"\naudit_max_entries = 50\n").unwrap();
        let c = Config::load(Some(&f), Overrides::default()).unwrap();
        assert_eq!(c.audit_max_entries, 50);
        std::fs::write(&f, "data = \"/x\"\naudit_max_entries = 0\n").unwrap();
        assert!(Config::load(Some(&f), Overrides::default()).is_err());
        std::fs::write(&f, "bogus = 1\n").unwrap();
        assert!(Config::load(Some(&f), Overrides::default()).is_err());
    }

    #[test]
    fn log_format_from_file_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "data = \"/x\"\nlog_format = \"json\"\n").unwrap();
        let c = Config::load(Some(&f), Overrides::default()).unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        let flag = Overrides {
            log_format: Some(LogFormat::Text),
            ..Default::default()
        };
        assert_eq!(
            Config::load(Some(&f), flag).unwrap().log_format,
            LogFormat::Text
        );
        std::fs::write(&f, "data = \"/x\"\nlog_format = \"xml\"\n").unwrap();
        let e = Config::load(Some(&f), Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains("log_format"), "{e:#}");
    }

    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../../../deploy/silent-nas.example.toml");
        let fc: FileConfig = toml::from_str(text).unwrap();
        assert!(fc.data.is_some());
    }
}
