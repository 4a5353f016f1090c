//! `silent-nas restore`: two modes of one word. Without `--from` it makes an old version of
//! a file the newest again (`--home`, a path, `--version`). With `--from s3://bucket/prefix`
//! it is disaster recovery: it rebuilds the data directory `--data` (absent or empty) from
//! the object store alone — the newest metadata backup (or `--backup NAME`; `--list` shows
//! them), verified, with every pack recorded as living in the object store — and writes a
//! configuration whose `[blobs]` points at that object store under the `tiered` policy (the
//! local disk is a cache), then says what it did and which files are at risk. The issue
//! and the operators' guide name it `restore --from`; the two modes share no option but
//! `--data`, and clap refuses a mix.
//!
//! The object store's endpoint, region and credentials come from `--endpoint`/`--region`
//! or the `SILENT_NAS_BLOBS_*` environment, else the AWS environment, as for `tier`; the
//! credentials are never written to the configuration or printed.

use crate::output::size;
use anyhow::{Context, Result, anyhow};
use nas_engine::{RemoteConfig, list_remote_backups, restore_from_remote};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// Data directory (with --from: the one to rebuild, absent or empty).
    #[arg(long, env = "SILENT_NAS_DATA")]
    data: PathBuf,
    /// Disaster recovery: rebuild --data from the metadata backups and packs in this
    /// object store (s3://bucket/prefix, as `[blobs] remote` had it).
    #[arg(long, value_name = "URL", conflicts_with_all = ["home", "path", "version"])]
    from: Option<String>,
    /// With --from: the backup to restore (a name --list shows); the newest by default.
    #[arg(long, requires = "from", value_name = "NAME")]
    backup: Option<String>,
    /// With --from: list the backups in the object store and stop.
    #[arg(long, requires = "from")]
    list: bool,
    /// With --from: endpoint of an S3-compatible server (else SILENT_NAS_BLOBS_ENDPOINT).
    #[arg(long, requires = "from", value_name = "URL")]
    endpoint: Option<String>,
    /// With --from: region (else SILENT_NAS_BLOBS_REGION, else us-east-1).
    #[arg(long, requires = "from")]
    region: Option<String>,
    /// With --from: where to write the configuration (default DATA/silent-nas.toml).
    #[arg(long, requires = "from", value_name = "FILE")]
    config_out: Option<PathBuf>,
    /// Home (one tree per user).
    #[arg(long, required_unless_present = "from")]
    home: Option<String>,
    /// File path.
    #[arg(required_unless_present = "from")]
    path: Option<String>,
    /// Version number to make the newest again.
    #[arg(long, required_unless_present = "from")]
    version: Option<u64>,
}

pub fn run(a: RestoreArgs) -> Result<ExitCode> {
    let Some(from) = a.from.clone() else {
        let (Some(home), Some(path), Some(version)) = (a.home, a.path, a.version) else {
            return Err(anyhow!("--home, a path and --version are required"));
        };
        return super::browse::restore_version(&a.data, &home, &path, version);
    };
    // what it rebuilds is a data directory's SQLite: PostgreSQL has pg_restore
    crate::DataArgs::dir(a.data.clone())
        .location()?
        .require_sqlite("restore --from")?;
    let cfg = remote_config(&from, a.endpoint.as_deref(), a.region.as_deref())?;
    if a.list {
        for name in list_remote_backups(&cfg)? {
            println!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let started = std::time::Instant::now();
    let r = restore_from_remote(&a.data, &cfg, a.backup.as_deref())
        .with_context(|| format!("cannot restore {} from {}", a.data.display(), cfg.url()))?;
    let conf = a
        .config_out
        .clone()
        .unwrap_or_else(|| a.data.join("silent-nas.toml"));
    write_config(&conf, &a.data, &cfg, &r.manifest.name)?;
    let m = &r.manifest;
    println!("restored {} from {}", a.data.display(), cfg.url());
    println!(
        "backup          {} (schema {}, {} of metadata)",
        m.name,
        m.schema,
        size(m.db_bytes)
    );
    println!(
        "packs           {} referenced, {} in the object store ({}), {} missing",
        r.packs,
        r.packs_found,
        size(r.remote_bytes),
        r.missing_packs.len()
    );
    if r.relocated_chunks > 0 {
        println!(
            "moved by GC     {} chunks found in packs written after the backup",
            r.relocated_chunks
        );
    }
    if r.unreferenced_objects > 0 {
        println!(
            "newer packs     {} objects not named by this backup (written after it; left alone)",
            r.unreferenced_objects
        );
    }
    println!("configuration   {}", conf.display());
    println!("took            {:.1} s", started.elapsed().as_secs_f64());
    if !m.not_uploaded.is_empty() {
        println!(
            "note: when the backup was taken, {} packs were not uploaded yet",
            m.not_uploaded.len()
        );
    }
    for f in &r.at_risk {
        println!("AT RISK {f}: its data is in a pack missing from the object store");
    }
    println!(
        "next: give the object store's credentials to the server (environment or the \
         configuration), then `silent-nas serve --config {}`; `silent-nas fsck \
         --verify-data` checks every byte",
        conf.display()
    );
    Ok(if r.missing_packs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The object store's settings: the URL given, the rest from the flags or the
/// `SILENT_NAS_BLOBS_*` environment (`[blobs]`'s rules and checks).
fn remote_config(from: &str, endpoint: Option<&str>, region: Option<&str>) -> Result<RemoteConfig> {
    let file = crate::config::blobs::BlobsFile {
        remote: Some(from.to_owned()),
        endpoint: endpoint.map(str::to_owned),
        region: region.map(str::to_owned),
        ..Default::default()
    };
    let mut cfg = crate::config::blobs::resolve(Some(file))?
        .remote
        .ok_or_else(|| anyhow!("--from: no object store"))?;
    // the URL given wins over SILENT_NAS_BLOBS_REMOTE, as the flags do over the environment
    let url = RemoteConfig::from_url(from.trim()).map_err(|e| anyhow!("--from: {e}"))?;
    cfg.bucket = url.bucket;
    cfg.prefix = url.prefix;
    if let Some(e) = endpoint {
        cfg.endpoint = Some(e.trim_end_matches('/').to_owned());
    }
    if let Some(r) = region {
        cfg.region = r.to_owned();
    }
    Ok(cfg)
}

/// A configuration serving the restored directory from the object store (no credentials).
fn write_config(path: &Path, data: &Path, cfg: &RemoteConfig, backup: &str) -> Result<()> {
    // a JSON string is a valid TOML basic string (the same escapes)
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let data = std::fs::canonicalize(data).unwrap_or_else(|_| data.to_path_buf());
    let mut text = format!(
        "# Written by `silent-nas restore --from {url}` (backup {backup}).\n\
         # The object store's credentials are not written here: set AWS_ACCESS_KEY_ID and\n\
         # AWS_SECRET_ACCESS_KEY (or SILENT_NAS_BLOBS_ACCESS_KEY_ID / _SECRET_ACCESS_KEY) for\n\
         # the server, or add access_key_id and secret_access_key under [blobs]. Merge in the\n\
         # rest of your own configuration (listeners, TLS, workers, retention).\n\
         data = {data}\n\n[blobs]\nremote = {remote}\nregion = {region}\n",
        url = cfg.url(),
        data = q(&data.display().to_string()),
        remote = q(&cfg.url()),
        region = q(&cfg.region),
    );
    if let Some(e) = &cfg.endpoint {
        text.push_str(&format!("endpoint = {}\n", q(e)));
    }
    text.push_str(
        "# every pack is in the object store; the local disk keeps what the mover leaves\n\
         policy = \"tiered\"\n",
    );
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}
