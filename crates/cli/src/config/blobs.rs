//! The `[blobs]` section: the object-storage tier. Off unless `remote` is set; then sealed
//! packs are uploaded to that S3-compatible bucket and read from it when not on the local
//! disk (`docs/design/object-storage.md`). Credentials come from the file or, when absent
//! there, from the AWS environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`…); they are never logged (the settings' `Debug` redacts the secret).
//! Every field can also come from `SILENT_NAS_BLOBS_<FIELD>` (which wins over the file).

use super::env;
use anyhow::{Result, anyhow, bail};
use nas_engine::RemoteConfig;
use serde::Deserialize;

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
    /// Blocks fetched ahead of a sequential reader (`8`).
    pub read_ahead: Option<u32>,
    /// Packs are sealed (and uploaded, with a tier) at about this size (`64MiB`; at least
    /// `1MiB`). Applies with or without a remote tier.
    pub pack_size: Option<String>,
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
}

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
    Ok(Blobs {
        remote: remote(f)?,
        pack_size,
    })
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
    }
}
