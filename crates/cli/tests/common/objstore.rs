//! The object-storage tier in tests: a configuration pointing the server at a real
//! S3-compatible server (`rclone serve s3` on loopback, [`S3Server`]), the same settings
//! for a command through the environment, and the tier's metrics.

use super::{Server, sample, scrape_as_admin};
use nas_testkit::rclone::{ACCESS_KEY, S3Server, SECRET_KEY};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The bucket every tier test uses.
pub const BUCKET: &str = "bkt";
/// `[blobs] remote` of every tier test.
pub const REMOTE: &str = "s3://bkt/nas";

/// Writes `dir/nas.toml`: `[blobs]` on `s3` (credentials in the file, 1 MiB packs so that a
/// few MB of files seal several, an 8 MiB read cache), then `extra` (more `[blobs]` keys,
/// or further sections).
pub fn tier_config(s3: &S3Server, dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("nas.toml");
    std::fs::write(
        &p,
        format!(
            "[blobs]\nremote = \"{REMOTE}\"\nendpoint = \"{}\"\naccess_key_id = \"{ACCESS_KEY}\"\n\
             secret_access_key = \"{SECRET_KEY}\"\ncache_size = \"8MiB\"\npack_size = \"1MiB\"\n{extra}",
            s3.endpoint
        ),
    )
    .unwrap();
    p
}

/// `command` with the tier of [`tier_config`] set by the environment (`SILENT_NAS_BLOBS_*`),
/// as the commands other than `serve` read it.
pub fn with_tier<'a>(command: &'a mut Command, s3: &S3Server) -> &'a mut Command {
    command
        .env("SILENT_NAS_BLOBS_REMOTE", REMOTE)
        .env("SILENT_NAS_BLOBS_ENDPOINT", &s3.endpoint)
        .env("SILENT_NAS_BLOBS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("SILENT_NAS_BLOBS_SECRET_ACCESS_KEY", SECRET_KEY)
}

/// One series of the server's `/metrics` (0 when absent).
pub fn metric(s: &Server, series: &str) -> f64 {
    let r = scrape_as_admin(s, "/metrics");
    assert_eq!(r.status, 200);
    sample(&r.text(), series).unwrap_or(0.0)
}

/// Waits until at least `n` packs were uploaded and none waits (at most 90 s).
pub fn wait_uploaded(s: &Server, n: f64) {
    let until = Instant::now() + Duration::from_secs(90);
    while metric(s, "silent_nas_remote_uploaded_packs_total") < n
        || metric(s, "silent_nas_remote_upload_queue_packs") > 0.0
    {
        assert!(Instant::now() < until, "uploads did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
}
