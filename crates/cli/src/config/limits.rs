//! The `[limits]` and `[metrics]` sections: what one client may hold on a listener (time
//! to send a request head, pauses inside a body, how long a response may wait on a client
//! that does not read, connections per listener), and who may read
//! `/metrics`. Every value can also come from a `SILENT_NAS_*` variable; durations are
//! humantime (`30s`, `2m`). The defaults and their reasons: `docs/security.md`.

use super::env;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The `[limits]` table of the configuration file (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Time to send a whole request head; also how long an idle keep-alive connection stays open (`30s`).
    pub header_timeout: Option<String>,
    /// Longest pause inside a request body (`60s`).
    pub body_idle_timeout: Option<String>,
    /// Longest a response may wait on a client that does not read it (`60s`).
    pub write_timeout: Option<String>,
    /// Open connections per listener (`4096`).
    pub max_connections: Option<usize>,
}

/// The `[metrics]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// Bearer token that may scrape `/metrics` (prefer `token_file`).
    pub token: Option<String>,
    /// File holding that token (its first line).
    pub token_file: Option<PathBuf>,
    /// A listener of the metrics' own (`/metrics`, `/healthz`, `/readyz` only); open to
    /// whoever reaches it unless a token is set.
    pub listen: Option<String>,
}

/// The validated limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// Who may scrape, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The bearer token (never logged).
    pub token: Option<String>,
    /// The metrics' own listener.
    pub listen: Option<SocketAddr>,
}

fn duration(var: &str, file: Option<String>, default: Duration) -> Result<Duration> {
    let Some((v, from)) = env(var)
        .map(|v| (v, var.to_owned()))
        .or_else(|| file.map(|v| (v, format!("[limits] {}", key(var)))))
    else {
        return Ok(default);
    };
    let d = humantime::parse_duration(v.trim())
        .with_context(|| format!("{from}: invalid duration {v:?} (e.g. 30s, 2m)"))?;
    if d.is_zero() {
        bail!("{from}: must be longer than zero");
    }
    Ok(d)
}

fn key(var: &str) -> String {
    var.trim_start_matches("SILENT_NAS_").to_ascii_lowercase()
}

fn count(var: &str, file: Option<usize>, default: usize, min: usize) -> Result<usize> {
    let n = match env(var) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{var}: invalid number {v:?}"))?,
        None => file.unwrap_or(default),
    };
    if n < min {
        bail!("{}: must be at least {min}", key(var));
    }
    Ok(n)
}

/// Resolves `[limits]` against the environment and validates it.
pub fn resolve(f: Option<LimitsFile>) -> Result<Limits> {
    let f = f.unwrap_or_default();
    let d = Limits::default();
    Ok(Limits {
        header_timeout: duration(
            "SILENT_NAS_HEADER_TIMEOUT",
            f.header_timeout,
            d.header_timeout,
        )?,
        body_idle_timeout: duration(
            "SILENT_NAS_BODY_IDLE_TIMEOUT",
            f.body_idle_timeout,
            d.body_idle_timeout,
        )?,
        write_timeout: duration("SILENT_NAS_WRITE_TIMEOUT", f.write_timeout, d.write_timeout)?,
        max_connections: count(
            "SILENT_NAS_MAX_CONNECTIONS",
            f.max_connections,
            d.max_connections,
            1,
        )?,
    })
}

/// Resolves `[metrics]`: `SILENT_NAS_METRICS_TOKEN` over `token_file` over `token`.
pub fn resolve_metrics(f: Option<MetricsFile>) -> Result<MetricsConfig> {
    let f = f.unwrap_or_default();
    let token = match (env("SILENT_NAS_METRICS_TOKEN"), f.token_file, f.token) {
        (Some(t), _, _) => Some(t),
        (None, Some(p), _) => {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read metrics token file {}", p.display()))?;
            Some(text.lines().next().unwrap_or("").trim().to_owned())
        }
        (None, None, t) => t,
    };
    if let Some(t) = &token
        && t.len() < 16
    {
        bail!("the metrics token must be at least 16 characters");
    }
    let listen = match env("SILENT_NAS_METRICS_LISTEN").or(f.listen) {
        Some(a) => Some(
            a.parse()
                .with_context(|| format!("invalid metrics listen address {a:?}"))?,
        ),
        None => None,
    };
    Ok(MetricsConfig { token, listen })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        assert_eq!(resolve(None).unwrap(), Limits::default());
        let f = LimitsFile {
            header_timeout: Some("2s".into()),
            max_connections: Some(10),
            ..Default::default()
        };
        let l = resolve(Some(f)).unwrap();
        assert_eq!(l.header_timeout, Duration::from_secs(2));
        assert_eq!(l.max_connections, 10);
        let zero = LimitsFile {
            write_timeout: Some("0s".into()),
            ..Default::default()
        };
        assert!(resolve(Some(zero)).is_err());
        let none = LimitsFile {
            max_connections: Some(0),
            ..Default::default()
        };
        assert!(resolve(Some(none)).is_err());
        let short = MetricsFile {
            token: Some("short".into()),
            ..Default::default()
        };
        assert!(resolve_metrics(Some(short)).is_err());
    }
}
