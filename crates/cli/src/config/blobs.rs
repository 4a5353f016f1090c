//! The `[blobs]` section: the object-storage tier. Off unless `remote` is set; then sealed
//! packs are uploaded to that S3-compatible bucket and read from it when not on the local
//! disk (`docs/design/object-storage.md`); `policy` says what stays local (`mirror`:
//! everything; `tiered`: a hot tier the mover keeps under `hot_size`, evicting packs not
//! read for `cold_after`). Credentials come from the file or, when absent
//! there, from the AWS environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`…); they are never logged (the settings' `Debug` redacts the secret).
//! Every field can also come from `SILENT_NAS_BLOBS_<FIELD>` (which wins over the file).

use super::env;
use anyhow::{Result, anyhow, bail};
use nas_engine::{RemoteConfig, TierPolicy, TieredPolicy};
use serde::Deserialize;
use std::time::Duration;

/// The `[blobs]` table of the configuration file (every field optional).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsFile {
    /// `s3://bucket/prefix`: the object-storage tier (off when unset).
    pub remote: Option<String>,
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`); AWS when unset.
    pub endpoint: Option<String>,
    /// Region (`us-east-1` when unset).
    pub region: Option<String>,
    /// Access key id (else `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret access key (else `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
    /// Memory kept for recently read remote ranges (`256MiB`).
    pub cache_size: Option<String>,
    /// Bytes fetched per ranged GET of a remote pack (`8MiB`).
    pub block_size: Option<String>,
    /// Blocks fetched ahead of a sequential reader (`4`).
    pub read_ahead: Option<u32>,
    /// Packs are sealed (and uploaded, with a tier) at about this size (`64MiB`; at least
    /// `1MiB`). Applies with or without a remote tier.
    pub pack_size: Option<String>,
    /// `mirror` (every sealed pack local and remote; the default) or `tiered` (the local
    /// disk is a hot tier; the mover evicts).
    pub policy: Option<String>,
    /// Tiered: local packs above this are evicted, least recently read first (`10GB`).
    pub hot_size: Option<String>,
    /// Tiered: a pack not read for this long is evicted (`7d`; a bare number is days).
    pub cold_after: Option<String>,
    /// Tiered: how often the mover runs (`1h`).
    pub mover_interval: Option<String>,
    /// Tiered: packs evicted per run at most (`100`).
    pub mover_batch: Option<usize>,
    /// Tiered: bytes of packs evicted per second at most (`64MiB`; `unlimited`).
    pub mover_rate: Option<String>,
    /// A pack's last read is recorded at most this often (`1h`).
    pub read_mark_interval: Option<String>,
    /// Bound of one request to the object store, retries included (`2m`).
    pub request_timeout: Option<String>,
    /// Bound of the ranged GET a reader of a cold file waits for (`20s`).
    pub read_timeout: Option<String>,
    /// When a write is acknowledged: `local` (durable on the local disk; uploaded in the
    /// background; the default) or `remote` (only once uploaded and verified).
    pub ack: Option<String>,
    /// How often the metadata is backed up to the object store (`1h`; `off`).
    pub meta_backup_interval: Option<String>,
    /// Metadata backups kept in the object store (`24`).
    pub meta_backup_keep: Option<usize>,
}

impl std::fmt::Debug for BlobsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobsFile")
            .field("remote", &self.remote)
            .field("endpoint", &self.endpoint)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

fn pick(var: &str, file: Option<String>) -> Option<String> {
    env(var).or(file)
}

/// The validated `[blobs]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blobs {
    /// The object-storage tier, when on.
    pub remote: Option<RemoteConfig>,
    /// Size at which packs are sealed.
    pub pack_size: u64,
    /// What the tier keeps where (`Mirror` without a remote tier: nothing moves).
    pub policy: TierPolicy,
    /// How often the metadata is backed up to the object store (`None`: never; only with
    /// a remote tier).
    pub meta_backup_interval: Option<Duration>,
    /// Metadata backups kept.
    pub meta_backup_keep: usize,
}

/// Default [`Blobs::meta_backup_interval`].
pub const META_BACKUP_INTERVAL: Duration = Duration::from_secs(3600);
/// Default [`Blobs::meta_backup_keep`].
pub const META_BACKUP_KEEP: usize = 24;

/// Resolves `[blobs]` against the environment and validates it.
pub fn resolve(f: Option<BlobsFile>) -> Result<Blobs> {
    let mut f = f.unwrap_or_default();
    let pack_size = match pick("SILENT_NAS_BLOBS_PACK_SIZE", f.pack_size.take()) {
        None => nas_engine::StoreOptions::default().pack_size,
        Some(v) => {
            let n = crate::cmd::user::parse_size(&v)
                .map_err(|e| anyhow!("[blobs] pack_size: {e} (e.g. 64MiB)"))?;
            if !(1 << 20..=4 << 30).contains(&n) {
                bail!("[blobs] pack_size: {n} bytes is not between 1 MiB and 4 GiB");
            }
            n
        }
    };
    let policy = policy(&mut f)?;
    let (meta_backup_interval, meta_backup_keep) = meta_backup(&mut f)?;
    let read_mark = duration(
        "SILENT_NAS_BLOBS_READ_MARK_INTERVAL",
        f.read_mark_interval.take(),
        "read_mark_interval",
    )?;
    let request_timeout = duration(
        "SILENT_NAS_BLOBS_REQUEST_TIMEOUT",
        f.request_timeout.take(),
        "request_timeout",
    )?;
    let read_timeout = duration(
        "SILENT_NAS_BLOBS_READ_TIMEOUT",
        f.read_timeout.take(),
        "read_timeout",
    )?;
    for (key, d) in [
        ("request_timeout", request_timeout),
        ("read_timeout", read_timeout),
    ] {
        if d.is_some_and(|d| d < Duration::from_secs(1)) {
            bail!("[blobs] {key}: at least 1s");
        }
    }
    let ack_remote = match pick("SILENT_NAS_BLOBS_ACK", f.ack.take()).as_deref() {
        None | Some("local") => false,
        Some("remote") => true,
        Some(other) => bail!("[blobs] ack: {other:?} is not local or remote"),
    };
    let mut remote = remote(f)?;
    if ack_remote && remote.is_none() {
        bail!("[blobs] ack = \"remote\" needs a remote tier (set remote)");
    }
    if let Some(r) = remote.as_mut() {
        r.ack_remote = ack_remote;
        if let Some(d) = read_mark {
            r.read_mark_interval = d;
        }
        if let Some(d) = request_timeout {
            r.request_timeout = d;
        }
        if let Some(d) = read_timeout {
            r.read_timeout = d;
        }
    }
    if remote.is_none() && matches!(policy, TierPolicy::Tiered(_)) {
        bail!("[blobs] policy = \"tiered\" needs a remote tier (set remote)");
    }
    Ok(Blobs {
        remote,
        pack_size,
        policy,
        meta_backup_interval,
        meta_backup_keep,
    })
}

/// The metadata backup's interval (`off`: none) and how many backups are kept.
fn meta_backup(f: &mut BlobsFile) -> Result<(Option<Duration>, usize)> {
    let every = match pick(
        "SILENT_NAS_BLOBS_META_BACKUP_INTERVAL",
        f.meta_backup_interval.take(),
    ) {
        None => Some(META_BACKUP_INTERVAL),
        Some(v) if matches!(v.trim(), "off" | "never" | "disabled") => None,
        Some(v) => {
            let d = humantime::parse_duration(v.trim()).map_err(|e| {
                anyhow!("[blobs] meta_backup_interval: {v:?}: {e} (e.g. 1h, 30m, or off)")
            })?;
            if d.is_zero() {
                bail!("[blobs] meta_backup_interval must be longer than zero (or off)");
            }
            Some(d)
        }
    };
    let keep = env("SILENT_NAS_BLOBS_META_BACKUP_KEEP")
        .map(|v| v.trim().parse::<usize>())
        .transpose()
        .map_err(|e| anyhow!("SILENT_NAS_BLOBS_META_BACKUP_KEEP: {e}"))?
        .or(f.meta_backup_keep.take())
        .unwrap_or(META_BACKUP_KEEP);
    if keep == 0 {
        bail!("[blobs] meta_backup_keep must be at least 1");
    }
    Ok((every, keep))
}

fn duration(var: &str, file: Option<String>, key: &str) -> Result<Option<Duration>> {
    pick(var, file)
        .map(|v| {
            humantime::parse_duration(v.trim())
                .map_err(|e| anyhow!("[blobs] {key}: {v:?}: {e} (e.g. 90s, 6h, 7d)"))
        })
        .transpose()
}

/// The tier policy and, for `tiered`, its settings (the seed's defaults).
fn policy(f: &mut BlobsFile) -> Result<TierPolicy> {
    let name = pick("SILENT_NAS_BLOBS_POLICY", f.policy.take());
    let mut t = TieredPolicy::default();
    if let Some(v) = pick("SILENT_NAS_BLOBS_HOT_SIZE", f.hot_size.take()) {
        t.hot_size = crate::cmd::user::parse_size(&v)
            .map_err(|e| anyhow!("[blobs] hot_size: {e} (e.g. 10GB)"))?;
    }
    if let Some(v) = pick("SILENT_NAS_BLOBS_COLD_AFTER", f.cold_after.take()) {
        t.cold_after = match v.trim().parse::<u64>() {
            Ok(days) => Duration::from_secs(days.saturating_mul(86_400)),
            Err(_) => humantime::parse_duration(v.trim())
                .map_err(|e| anyhow!("[blobs] cold_after: {v:?}: {e} (e.g. 7d, 36h, or 7)"))?,
        };
    }
    if let Some(d) = duration(
        "SILENT_NAS_BLOBS_MOVER_INTERVAL",
        f.mover_interval.take(),
        "mover_interval",
    )? {
        if d.is_zero() {
            bail!("[blobs] mover_interval must be longer than zero");
        }
        t.interval = d;
    }
    let batch = env("SILENT_NAS_BLOBS_MOVER_BATCH")
        .map(|v| v.trim().parse::<usize>())
        .transpose()
        .map_err(|e| anyhow!("SILENT_NAS_BLOBS_MOVER_BATCH: {e}"))?
        .or(f.mover_batch);
    if let Some(n) = batch {
        if n == 0 {
            bail!("[blobs] mover_batch must be at least 1");
        }
        t.batch = n;
    }
    match pick("SILENT_NAS_BLOBS_MOVER_RATE", f.mover_rate.take()) {
        None => {}
        Some(v) if matches!(v.trim(), "off" | "unlimited") => t.rate = None,
        Some(v) => {
            let n = crate::cmd::user::parse_size(v.trim().trim_end_matches("/s"))
                .map_err(|e| anyhow!("[blobs] mover_rate: {e} (e.g. 64MiB, or unlimited)"))?;
            if n == 0 {
                bail!("[blobs] mover_rate must be above zero (or unlimited)");
            }
            t.rate = Some(n);
        }
    }
    match name.as_deref().map(str::trim) {
        None | Some("mirror") => Ok(TierPolicy::Mirror),
        Some("tiered") => Ok(TierPolicy::Tiered(t)),
        Some(other) => bail!("[blobs] policy: {other:?} is not mirror or tiered"),
    }
}

fn remote(f: BlobsFile) -> Result<Option<RemoteConfig>> {
    let Some(url) = pick("SILENT_NAS_BLOBS_REMOTE", f.remote) else {
        return Ok(None);
    };
    let mut c = RemoteConfig::from_url(url.trim()).map_err(|e| anyhow!("[blobs] remote: {e}"))?;
    if let Some(e) = pick("SILENT_NAS_BLOBS_ENDPOINT", f.endpoint) {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            bail!("[blobs] endpoint: {e:?} is not an http:// or https:// URL");
        }
        c.endpoint = Some(e.trim_end_matches('/').to_owned());
    }
    if let Some(r) = pick("SILENT_NAS_BLOBS_REGION", f.region) {
        c.region = r;
    }
    c.access_key_id = pick("SILENT_NAS_BLOBS_ACCESS_KEY_ID", f.access_key_id);
    c.secret_access_key = pick("SILENT_NAS_BLOBS_SECRET_ACCESS_KEY", f.secret_access_key);
    if c.access_key_id.is_some() != c.secret_access_key.is_some() {
        bail!("[blobs]: access_key_id and secret_access_key go together");
    }
    if let Some(v) = pick("SILENT_NAS_BLOBS_BLOCK_SIZE", f.block_size) {
        c.block_size = crate::cmd::user::parse_size(&v)
            .map_err(|e| anyhow!("[blobs] block_size: {e} (e.g. 8MiB)"))?;
        if !(64 << 10..=256 << 20).contains(&c.block_size) {
            bail!(
                "[blobs] block_size: {} bytes is not between 64 KiB and 256 MiB",
                c.block_size
            );
        }
    }
    let ahead = env("SILENT_NAS_BLOBS_READ_AHEAD")
        .map(|v| v.trim().parse::<u32>())
        .transpose()
        .map_err(|e| anyhow!("SILENT_NAS_BLOBS_READ_AHEAD: {e}"))?
        .or(f.read_ahead);
    if let Some(n) = ahead {
        if n > 64 {
            bail!("[blobs] read_ahead: {n} blocks is more than 64");
        }
        c.read_ahead = n;
    }
    if let Some(v) = pick("SILENT_NAS_BLOBS_CACHE_SIZE", f.cache_size) {
        c.cache_size = crate::cmd::user::parse_size(&v)
            .map_err(|e| anyhow!("[blobs] cache_size: {e} (e.g. 256MiB, 1G)"))?;
        if c.cache_size > 1 << 40 {
            bail!(
                "[blobs] cache_size: {} bytes is more than 1 TiB",
                c.cache_size
            );
        }
    }
    Ok(Some(c))
}

/// The settings from the environment alone (the commands other than `serve` read no
/// configuration file).
pub fn from_env() -> Result<Blobs> {
    resolve(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<RemoteConfig>> {
        let fc: crate::config::FileConfig = toml::from_str(text)?;
        Ok(resolve(fc.blobs)?.remote)
    }

    #[test]
    fn off_by_default_parsed_when_set_and_bad_values_refused() {
        assert_eq!(parse("").unwrap(), None);
        let c = parse(
            "[blobs]\nremote = \"s3://bkt/nas/one\"\nendpoint = \"http://127.0.0.1:9000/\"\n\
             region = \"eu-1\"\naccess_key_id = \"AK\"\nsecret_access_key = \"SK-secret\"\n\
             cache_size = \"64MiB\"\nblock_size = \"4MiB\"\nread_ahead = 16\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("bkt", "nas/one"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.region, "eu-1");
        assert_eq!(c.cache_size, 64 << 20);
        assert_eq!((c.block_size, c.read_ahead), (4 << 20, 16));
        assert!(!format!("{c:?}").contains("SK-secret"));
        for bad in [
            "remote = \"http://bkt\"",
            "remote = \"s3://b\"\nendpoint = \"ftp://x\"",
            "remote = \"s3://b\"\naccess_key_id = \"AK\"",
            "remote = \"s3://b\"\ncache_size = \"lots\"",
            "remote = \"s3://b\"\nbucket = \"x\"",
            "pack_size = \"100K\"",
            "remote = \"s3://b\"\nblock_size = \"1K\"",
            "remote = \"s3://b\"\nread_ahead = 100",
        ] {
            assert!(parse(&format!("[blobs]\n{bad}\n")).is_err(), "{bad}");
        }
        let fc: crate::config::FileConfig =
            toml::from_str("[blobs]\npack_size = \"8MiB\"\n").unwrap();
        let b = resolve(fc.blobs).unwrap();
        assert_eq!((b.remote, b.pack_size), (None, 8 << 20));
        assert_eq!(b.policy, TierPolicy::Mirror);
    }

    #[test]
    fn metadata_backups_hourly_keeping_24_by_default_off_or_set_and_bad_values_refused() {
        let b = blobs("[blobs]\nremote = \"s3://b\"\n").unwrap();
        assert_eq!(
            (b.meta_backup_interval, b.meta_backup_keep),
            (Some(Duration::from_secs(3600)), 24)
        );
        let b = blobs(
            "[blobs]\nremote = \"s3://b\"\nmeta_backup_interval = \"15m\"\nmeta_backup_keep = 3\n",
        )
        .unwrap();
        assert_eq!(
            (b.meta_backup_interval, b.meta_backup_keep),
            (Some(Duration::from_secs(900)), 3)
        );
        let b = blobs("[blobs]\nremote = \"s3://b\"\nmeta_backup_interval = \"off\"\n").unwrap();
        assert_eq!(b.meta_backup_interval, None);
        for bad in [
            "meta_backup_interval = \"0s\"",
            "meta_backup_interval = \"hourly\"",
            "meta_backup_keep = 0",
        ] {
            assert!(
                blobs(&format!("[blobs]\nremote = \"s3://b\"\n{bad}\n")).is_err(),
                "{bad}"
            );
        }
    }

    fn blobs(text: &str) -> Result<Blobs> {
        let fc: crate::config::FileConfig = toml::from_str(text)?;
        resolve(fc.blobs)
    }

    #[test]
    fn policies_mirror_by_default_tiered_with_the_seed_defaults_and_bad_values_refused() {
        let b = blobs("[blobs]\nremote = \"s3://b\"\n").unwrap();
        assert_eq!(b.policy, TierPolicy::Mirror);
        assert_eq!(
            b.remote.unwrap().read_mark_interval,
            Duration::from_secs(3600)
        );
        let b = blobs("[blobs]\nremote = \"s3://b\"\npolicy = \"tiered\"\n").unwrap();
        assert_eq!(b.policy, TierPolicy::Tiered(TieredPolicy::default()));
        let d = TieredPolicy::default();
        assert_eq!((d.hot_size, d.batch), (10 << 30, 100));
        assert_eq!(d.cold_after, Duration::from_secs(7 * 86_400));
        assert_eq!(d.interval, Duration::from_secs(3600));
        let b = blobs(
            "[blobs]\nremote = \"s3://b\"\npolicy = \"tiered\"\nhot_size = \"3MiB\"\n\
             cold_after = \"2\"\nmover_interval = \"10m\"\nmover_batch = 5\n\
             mover_rate = \"unlimited\"\nread_mark_interval = \"0s\"\n",
        )
        .unwrap();
        let TierPolicy::Tiered(t) = b.policy else {
            panic!("tiered")
        };
        assert_eq!((t.hot_size, t.batch, t.rate), (3 << 20, 5, None));
        assert_eq!(t.cold_after, Duration::from_secs(2 * 86_400));
        assert_eq!(t.interval, Duration::from_secs(600));
        assert_eq!(b.remote.unwrap().read_mark_interval, Duration::ZERO);
        for bad in [
            "policy = \"tiered\"",
            "remote = \"s3://b\"\npolicy = \"cold\"",
            "remote = \"s3://b\"\ncold_after = \"soon\"",
            "remote = \"s3://b\"\nmover_batch = 0",
            "remote = \"s3://b\"\nmover_interval = \"0s\"",
            "remote = \"s3://b\"\nhot_size = \"big\"",
        ] {
            assert!(blobs(&format!("[blobs]\n{bad}\n")).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_default_to_two_minutes_and_twenty_seconds_and_are_at_least_a_second() {
        let r = blobs("[blobs]\nremote = \"s3://b\"\n")
            .unwrap()
            .remote
            .unwrap();
        assert_eq!(
            (r.request_timeout, r.read_timeout),
            (Duration::from_secs(120), Duration::from_secs(20))
        );
        let r = blobs(
            "[blobs]\nremote = \"s3://b\"\nrequest_timeout = \"5m\"\nread_timeout = \"3s\"\n",
        )
        .unwrap()
        .remote
        .unwrap();
        assert_eq!(
            (r.request_timeout, r.read_timeout),
            (Duration::from_secs(300), Duration::from_secs(3))
        );
        for bad in ["read_timeout = \"0s\"", "request_timeout = \"soon\""] {
            assert!(
                blobs(&format!("[blobs]\nremote = \"s3://b\"\n{bad}\n")).is_err(),
                "{bad}"
            );
        }
    }
}
