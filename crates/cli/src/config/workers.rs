//! The `[workers]` section: schedules and limits of the background maintenance (GC,
//! retention of old versions, trash expiry, scrub, the name index behind search). Every value can also come from a
//! `SILENT_NAS_*` variable; durations are humantime (`90s`, `6h`, `30d`), `off` disables.
//! The retention rules here are the server's; an account may override each for its home
//! (`silent-nas user set --keep-versions/--keep-days`, or the admin REST API).

use super::env;
use anyhow::{Context, Result, bail};
use nas_engine::RecompressOptions;
use nas_engine::RetentionPolicy;
use nas_engine::workers::{MaintenanceConfig, RecompressConfig};
use serde::Deserialize;
use std::time::Duration;

/// The `[workers]` table of the configuration file (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersFile {
    /// How often GC runs (`6h`; `off`).
    pub gc_interval: Option<String>,
    /// Keep the newest N versions of each file.
    pub retention_keep_versions: Option<usize>,
    /// Keep versions younger than D days.
    pub retention_keep_days: Option<u64>,
    /// How often retention runs (`1d`).
    pub retention_interval: Option<String>,
    /// Age after which trash entries are purged (`30d`; `off`).
    pub trash_retention: Option<String>,
    /// How often the trash is checked (`1h`).
    pub trash_interval: Option<String>,
    /// How often a scrub runs (`7d`; `off`).
    pub scrub_interval: Option<String>,
    /// Bytes per second a scrub may read (`50MiB`; `unlimited`).
    pub scrub_rate: Option<String>,
    /// How often the name index catches up with new and renamed names (`5s`; `off`).
    pub search_index_interval: Option<String>,
    /// Age after which an unfinished S3 multipart upload is removed (`7d`; `off`).
    pub s3_upload_expiry: Option<String>,
    /// Age after which an idle tus upload (REST, `/api/v1/tus`) is removed (`24h`; `off`).
    pub upload_expiry: Option<String>,
    /// How often the buckets' lifecycle rules are applied (`1h`; `off`).
    pub lifecycle_interval: Option<String>,
    /// How long a lifecycle rule's day is (`1d`; shorter only for tests).
    pub lifecycle_day: Option<String>,
    /// How often cold recompression runs (`1d`; `off`).
    pub recompress_interval: Option<String>,
    /// Age (whole days) after which a pack nobody read is cold and its LZ4 chunks are
    /// re-encoded (`7d`; `0d` takes every pack).
    pub recompress_after: Option<String>,
    /// Frame bytes per second recompression may read (`2MiB`; `unlimited`).
    pub recompress_rate: Option<String>,
    /// zstd level of re-encoded chunks (1..=19; 9).
    pub recompress_level: Option<i32>,
    /// Look for a delta base when re-encoding (true).
    pub recompress_delta: Option<bool>,
}

/// Default age after which unfinished S3 multipart uploads are removed.
pub const S3_UPLOAD_EXPIRY: Duration = Duration::from_secs(7 * 86_400);

/// The age after which unfinished S3 multipart uploads are removed (`None`: never).
pub fn s3_upload_expiry(f: Option<&WorkersFile>) -> Result<Option<Duration>> {
    duration(
        "SILENT_NAS_S3_UPLOAD_EXPIRY",
        f.and_then(|w| w.s3_upload_expiry.clone()),
        Some(S3_UPLOAD_EXPIRY),
        false,
    )
}

/// Default interval of the lifecycle worker.
pub const LIFECYCLE_INTERVAL: Duration = Duration::from_secs(3600);

/// How often the lifecycle worker runs (`None`: never) and how long a rule's day is.
pub fn lifecycle(f: Option<&WorkersFile>) -> Result<(Option<Duration>, Duration)> {
    let every = duration(
        "SILENT_NAS_LIFECYCLE_INTERVAL",
        f.and_then(|w| w.lifecycle_interval.clone()),
        Some(LIFECYCLE_INTERVAL),
        false,
    )?;
    let day = duration(
        "SILENT_NAS_LIFECYCLE_DAY",
        f.and_then(|w| w.lifecycle_day.clone()),
        Some(Duration::from_secs(86_400)),
        false,
    )?
    .context("lifecycle_day cannot be off (set lifecycle_interval = \"off\" instead)")?;
    Ok((every, day))
}

/// Default age after which an idle tus upload is removed.
pub const UPLOAD_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// The age after which an idle tus upload is removed (`None`: never). Zero is refused:
/// it would remove uploads between two PATCHes.
pub fn upload_expiry(f: Option<&WorkersFile>) -> Result<Option<Duration>> {
    duration(
        "SILENT_NAS_UPLOAD_EXPIRY",
        f.and_then(|w| w.upload_expiry.clone()),
        Some(UPLOAD_EXPIRY),
        false,
    )
}

/// Schedule and limits of cold recompression.
pub fn recompress(f: Option<&WorkersFile>) -> Result<RecompressConfig> {
    let d = RecompressConfig::default();
    let interval = duration(
        "SILENT_NAS_RECOMPRESS_INTERVAL",
        f.and_then(|w| w.recompress_interval.clone()),
        d.interval,
        false,
    )?;
    let cold_after = duration(
        "SILENT_NAS_RECOMPRESS_AFTER",
        f.and_then(|w| w.recompress_after.clone()),
        Some(d.options.cold_after),
        true,
    )?
    .context("recompress_after cannot be off (set recompress_interval = \"off\" instead)")?;
    let level = number(
        "SILENT_NAS_RECOMPRESS_LEVEL",
        f.and_then(|w| w.recompress_level),
    )?
    .unwrap_or(d.options.level);
    if !(1..=19).contains(&level) {
        bail!("recompress_level must be between 1 and 19");
    }
    let delta = number(
        "SILENT_NAS_RECOMPRESS_DELTA",
        f.and_then(|w| w.recompress_delta),
    )?
    .unwrap_or(d.options.delta);
    Ok(RecompressConfig {
        interval,
        options: RecompressOptions {
            cold_after,
            level,
            delta,
            ..d.options
        },
        rate: rate(
            "SILENT_NAS_RECOMPRESS_RATE",
            f.and_then(|w| w.recompress_rate.clone()),
            d.rate,
        )?,
    })
}

/// A byte rate (`50MiB`, `50MiB/s`), or `None` for `unlimited`.
fn rate(var: &str, file: Option<String>, default: Option<u64>) -> Result<Option<u64>> {
    match pick(var, file) {
        None => Ok(default),
        Some((v, _)) if matches!(v.trim(), "off" | "unlimited") => Ok(None),
        Some((v, from)) => {
            let per_s = v.trim().trim_end_matches("/s");
            let n = crate::cmd::user::parse_size(per_s)
                .map_err(|e| anyhow::anyhow!("{from}: {e} (e.g. 50MiB, or unlimited)"))?;
            if n == 0 {
                bail!("{from}: the rate must be above zero (use unlimited to remove the limit)");
            }
            Ok(Some(n))
        }
    }
}

fn pick(var: &str, file: Option<String>) -> Option<(String, String)> {
    env(var)
        .map(|v| (v, var.to_owned()))
        .or_else(|| file.map(|v| (v, format!("[workers] {}", var_key(var)))))
}

fn var_key(var: &str) -> String {
    var.trim_start_matches("SILENT_NAS_").to_ascii_lowercase()
}

/// A duration, or `None` for `off`. `allow_zero` is for ages (not intervals).
fn duration(
    var: &str,
    file: Option<String>,
    default: Option<Duration>,
    allow_zero: bool,
) -> Result<Option<Duration>> {
    let Some((v, from)) = pick(var, file) else {
        return Ok(default);
    };
    if matches!(v.trim(), "off" | "never" | "disabled") {
        return Ok(None);
    }
    let d = humantime::parse_duration(v.trim())
        .with_context(|| format!("{from}: invalid duration {v:?} (e.g. 90s, 6h, 30d, or off)"))?;
    if d.is_zero() && !allow_zero {
        bail!("{from}: an interval must be longer than zero (use off to disable)");
    }
    Ok(Some(d))
}

fn number<T: std::str::FromStr>(var: &str, file: Option<T>) -> Result<Option<T>> {
    match env(var) {
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| anyhow::anyhow!("{var}: invalid number {v:?}")),
        None => Ok(file),
    }
}

/// Resolves the section against the environment and validates it.
pub fn resolve(f: Option<WorkersFile>) -> Result<MaintenanceConfig> {
    let f = f.unwrap_or_default();
    let d = MaintenanceConfig::default();
    let keep_last = number(
        "SILENT_NAS_RETENTION_KEEP_VERSIONS",
        f.retention_keep_versions,
    )?;
    if keep_last == Some(0) {
        bail!("retention_keep_versions must be at least 1 (the newest version is always kept)");
    }
    let keep_days = number("SILENT_NAS_RETENTION_KEEP_DAYS", f.retention_keep_days)?;
    let keep_within = match keep_days {
        Some(0) => bail!("retention_keep_days must be at least 1"),
        Some(n) => Some(
            n.checked_mul(86_400)
                .map(Duration::from_secs)
                .context("retention_keep_days is too large")?,
        ),
        None => None,
    };
    let scrub_rate = rate("SILENT_NAS_SCRUB_RATE", f.scrub_rate, d.scrub_rate)?;
    Ok(MaintenanceConfig {
        gc_interval: duration(
            "SILENT_NAS_GC_INTERVAL",
            f.gc_interval,
            d.gc_interval,
            false,
        )?,
        retention: RetentionPolicy {
            keep_last,
            keep_within,
        },
        retention_interval: duration(
            "SILENT_NAS_RETENTION_INTERVAL",
            f.retention_interval,
            d.retention_interval,
            false,
        )?,
        trash_retention: duration(
            "SILENT_NAS_TRASH_RETENTION",
            f.trash_retention,
            d.trash_retention,
            true,
        )?,
        trash_interval: duration(
            "SILENT_NAS_TRASH_INTERVAL",
            f.trash_interval,
            Some(d.trash_interval),
            false,
        )?
        .context(
            "trash_interval cannot be off (set trash_retention = \"off\" to keep the trash)",
        )?,
        scrub_interval: duration(
            "SILENT_NAS_SCRUB_INTERVAL",
            f.scrub_interval,
            d.scrub_interval,
            false,
        )?,
        scrub_rate,
        search_index_interval: duration(
            "SILENT_NAS_SEARCH_INDEX_INTERVAL",
            f.search_index_interval,
            d.search_index_interval,
            false,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<MaintenanceConfig> {
        #[derive(Deserialize)]
        struct W {
            workers: WorkersFile,
        }
        let w: W = toml::from_str(toml_text)?;
        resolve(Some(w.workers))
    }

    #[test]
    fn defaults_and_every_field() {
        let d = resolve(None).unwrap();
        assert_eq!(d.gc_interval, Some(Duration::from_secs(6 * 3600)));
        assert_eq!(d.trash_retention, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(d.scrub_interval, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(d.scrub_rate, Some(50 << 20));
        assert_eq!(upload_expiry(None).unwrap(), Some(UPLOAD_EXPIRY));
        let w = WorkersFile {
            upload_expiry: Some("90s".into()),
            ..WorkersFile::default()
        };
        assert_eq!(
            upload_expiry(Some(&w)).unwrap(),
            Some(Duration::from_secs(90))
        );
        let off = WorkersFile {
            upload_expiry: Some("off".into()),
            ..WorkersFile::default()
        };
        assert_eq!(upload_expiry(Some(&off)).unwrap(), None);
        assert_eq!(
            lifecycle(None).unwrap(),
            (Some(LIFECYCLE_INTERVAL), Duration::from_secs(86_400))
        );
        let fast = WorkersFile {
            lifecycle_interval: Some("1s".into()),
            lifecycle_day: Some("2s".into()),
            ..WorkersFile::default()
        };
        assert_eq!(
            lifecycle(Some(&fast)).unwrap(),
            (Some(Duration::from_secs(1)), Duration::from_secs(2))
        );
        let no_day = WorkersFile {
            lifecycle_day: Some("off".into()),
            ..WorkersFile::default()
        };
        assert!(lifecycle(Some(&no_day)).is_err());
        assert!(d.retention.keep_last.is_none() && d.retention.keep_within.is_none());
        let c = parse(
            "[workers]\ngc_interval = \"90s\"\nretention_keep_versions = 5\nretention_keep_days = 30\n\
             retention_interval = \"12h\"\ntrash_retention = \"7d\"\ntrash_interval = \"10m\"\n\
             scrub_interval = \"off\"\nscrub_rate = \"10MiB/s\"\nsearch_index_interval = \"2s\"\n",
        )
        .unwrap();
        assert_eq!(c.gc_interval, Some(Duration::from_secs(90)));
        assert_eq!(c.retention.keep_last, Some(5));
        assert_eq!(
            c.retention.keep_within,
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(c.retention_interval, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(c.trash_retention, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(c.trash_interval, Duration::from_secs(600));
        assert_eq!(c.scrub_interval, None);
        assert_eq!(c.scrub_rate, Some(10 << 20));
        assert_eq!(c.search_index_interval, Some(Duration::from_secs(2)));
        assert_eq!(d.search_index_interval, Some(Duration::from_secs(5)));
        assert!(
            parse("[workers]\nscrub_rate = \"unlimited\"\n")
                .unwrap()
                .scrub_rate
                .is_none()
        );
        assert!(
            parse("[workers]\ntrash_retention = \"off\"\n")
                .unwrap()
                .trash_retention
                .is_none()
        );
    }

    #[test]
    fn the_example_config_spells_out_the_defaults() {
        let text = include_str!("../../../../deploy/silent-nas.example.toml");
        let fc: super::super::FileConfig = toml::from_str(text).unwrap();
        let c = resolve(fc.workers).unwrap();
        let d = MaintenanceConfig::default();
        assert_eq!(
            (c.gc_interval, c.trash_retention, c.trash_interval),
            (d.gc_interval, d.trash_retention, d.trash_interval)
        );
        assert_eq!(
            (c.scrub_interval, c.scrub_rate, c.search_index_interval),
            (d.scrub_interval, d.scrub_rate, d.search_index_interval)
        );
    }

    #[test]
    fn bad_values_are_refused_at_start_up() {
        for bad in [
            "gc_interval = \"soon\"",
            "gc_interval = \"0s\"",
            "search_index_interval = \"0s\"",
            "retention_keep_versions = 0",
            "retention_keep_days = 0",
            "scrub_rate = \"fast\"",
            "scrub_rate = \"0\"",
            "trash_interval = \"off\"",
            "gc_intervall = \"1h\"",
        ] {
            assert!(parse(&format!("[workers]\n{bad}\n")).is_err(), "{bad}");
        }
    }

    #[test]
    fn recompress_settings_parse_and_bad_ones_are_refused() {
        let d = recompress(None).unwrap();
        assert_eq!(d.interval, Some(Duration::from_secs(86_400)));
        assert_eq!(d.options.cold_after, Duration::from_secs(7 * 86_400));
        assert_eq!((d.options.level, d.options.delta), (9, true));
        assert_eq!(d.rate, Some(2 << 20));
        let w = WorkersFile {
            recompress_interval: Some("1h".into()),
            recompress_after: Some("0d".into()),
            recompress_rate: Some("unlimited".into()),
            recompress_level: Some(15),
            recompress_delta: Some(false),
            ..WorkersFile::default()
        };
        let c = recompress(Some(&w)).unwrap();
        assert_eq!(c.interval, Some(Duration::from_secs(3600)));
        assert_eq!(c.options.cold_after, Duration::ZERO);
        assert_eq!(
            (c.options.level, c.options.delta, c.rate),
            (15, false, None)
        );
        for bad in [
            WorkersFile {
                recompress_level: Some(20),
                ..WorkersFile::default()
            },
            WorkersFile {
                recompress_after: Some("off".into()),
                ..WorkersFile::default()
            },
            WorkersFile {
                recompress_rate: Some("0".into()),
                ..WorkersFile::default()
            },
        ] {
            assert!(recompress(Some(&bad)).is_err(), "{bad:?}");
        }
    }
}
