//! [`RemoteConfig`]: where the object-storage tier is and how to reach it. Parsed and
//! validated once (by the binary, from its configuration file or environment); the secret
//! key never appears in `Debug` output, logs or metrics.

use std::fmt;
use std::time::Duration;

/// The object-storage tier's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// Bucket name (from `s3://BUCKET/prefix`).
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty). Packs are stored at
    /// `PREFIX/packs/<pack id>.pack`.
    pub prefix: String,
    /// Endpoint URL of an S3-compatible server (`None`: AWS S3 for the region).
    pub endpoint: Option<String>,
    /// Region (S3-compatible servers mostly accept any, e.g. `us-east-1`).
    pub region: String,
    /// Access key id (`None`: from `AWS_ACCESS_KEY_ID` and the AWS environment).
    pub access_key_id: Option<String>,
    /// Secret access key (`None`: from `AWS_SECRET_ACCESS_KEY`). Never printed.
    pub secret_access_key: Option<String>,
    /// Bytes of remote pack ranges kept in memory for reads.
    pub cache_size: u64,
    /// Bytes fetched per ranged GET (a read of a cold pack fetches whole blocks).
    pub block_size: u64,
    /// Blocks fetched ahead of a sequential reader.
    pub read_ahead: u32,
    /// Bound of one request to the object store (a stalled server is an error, not a hang).
    pub request_timeout: Duration,
    /// Bound of one ranged GET a reader waits for (a block of `block_size`): a client
    /// reading a cold file from a stalled object store gets an error after this long,
    /// not after `request_timeout` and its retries.
    pub read_timeout: Duration,
    /// Packs larger than this are uploaded in parts (S3 multipart), read from the disk a
    /// part at a time, so an upload's memory is bounded whatever `pack_size` is.
    pub multipart_threshold: u64,
    /// Bytes per part of a multipart upload (at least 5 MiB, S3's minimum).
    pub part_size: u64,
    /// A pack's last read is recorded at most once per this interval (the mover's
    /// `cold_after` is measured in days; an hour is precise enough and costs nothing).
    pub read_mark_interval: Duration,
    /// When a commit is acknowledged: `false` once its data is durable on the local disk
    /// (uploaded later, in the background); `true` only once the packs holding it are
    /// uploaded and verified (cluster mode: a node's disk is only a cache, so losing the
    /// node loses nothing acknowledged). See `docs/design/object-storage.md`.
    pub ack_remote: bool,
    /// The placement log is shared with other nodes (cluster mode: the metadata is in
    /// PostgreSQL). A pack this store has no placement for is looked up in the log (one
    /// row) instead of being taken as absent, and GC, fsck and the mover list placements
    /// from the log, not from memory. The engine sets it from where the metadata lives.
    pub shared: bool,
}

/// Default [`RemoteConfig::cache_size`].
pub const DEFAULT_CACHE_SIZE: u64 = 256 << 20;
/// Default [`RemoteConfig::read_timeout`]: an 8 MiB block in 20 s is 0.4 MB/s, far below
/// any object store that works.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`RemoteConfig::block_size`].
pub const DEFAULT_BLOCK_SIZE: u64 = 8 << 20;

impl RemoteConfig {
    /// Settings for `url` (`s3://bucket` or `s3://bucket/some/prefix`) with the defaults.
    pub fn from_url(url: &str) -> Result<RemoteConfig, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?}: expected s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty()
            || !bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        {
            return Err(format!("{url:?}: not a valid bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|s| s == "." || s == "..") || prefix.contains("//") {
            return Err(format!("{url:?}: the prefix has an empty, . or .. segment"));
        }
        Ok(RemoteConfig {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: None,
            region: "us-east-1".to_owned(),
            access_key_id: None,
            secret_access_key: None,
            cache_size: DEFAULT_CACHE_SIZE,
            block_size: DEFAULT_BLOCK_SIZE,
            read_ahead: 4,
            request_timeout: Duration::from_secs(120),
            read_timeout: DEFAULT_READ_TIMEOUT,
            multipart_threshold: 128 << 20,
            part_size: 16 << 20,
            read_mark_interval: Duration::from_secs(3600),
            ack_remote: false,
            shared: false,
        })
    }

    /// The URL it was made from (no credentials).
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// `PREFIX/` followed by `rest` (just `rest` without a prefix).
    pub(crate) fn key(&self, rest: &str) -> String {
        if self.prefix.is_empty() {
            rest.to_owned()
        } else {
            format!("{}/{rest}", self.prefix)
        }
    }

    /// The object key of a pack.
    pub(crate) fn pack_key(&self, pack: nas_types::PackId) -> String {
        if self.prefix.is_empty() {
            format!("packs/{pack}.pack")
        } else {
            format!("{}/packs/{pack}.pack", self.prefix)
        }
    }
}

impl fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url())
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("cache_size", &self.cache_size)
            .field("block_size", &self.block_size)
            .field("read_ahead", &self.read_ahead)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .field("ack_remote", &self.ack_remote)
            .field("shared", &self.shared)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_prefixes_and_the_secret_kept_out_of_debug() {
        let c = RemoteConfig::from_url("s3://bkt/a/b/").unwrap();
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("bkt", "a/b"));
        assert_eq!(c.url(), "s3://bkt/a/b");
        assert_eq!(
            c.pack_key(nas_types::PackId(0xab)),
            "a/b/packs/00000000000000ab.pack"
        );
        let c = RemoteConfig::from_url("s3://bkt").unwrap();
        assert_eq!(c.prefix, "");
        assert_eq!(
            c.pack_key(nas_types::PackId(1)),
            "packs/0000000000000001.pack"
        );
        for bad in ["bkt/x", "s3://", "s3://b b/x", "s3://b/../x", "s3://b/x//y"] {
            assert!(RemoteConfig::from_url(bad).is_err(), "{bad}");
        }
        let mut c = RemoteConfig::from_url("s3://b/p").unwrap();
        c.secret_access_key = Some("hunter2-secret".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
