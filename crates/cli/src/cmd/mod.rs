//! One module per command family.

pub mod app_password;
pub mod browse;
pub mod export;
pub mod import;
pub mod key;
pub mod locks;
pub mod maintain;
pub mod recover;
pub mod serve;
pub mod tier;
pub mod trash;
pub mod user;

use crate::{DataArgs, HomeArgs};
use anyhow::{Context, Result};
use nas_engine::{Home, Store, StoreOptions};
use nas_types::NasPath;

/// Opens the store (exclusively: refuses when another process has it).
pub fn open(d: &DataArgs) -> Result<Store> {
    open_with(d, StoreOptions::default())
}

/// Opens the store with options; the free-space reserve comes from
/// `SILENT_NAS_STORAGE_RESERVE` as for the server (default 64 MiB), the object-storage
/// tier from `SILENT_NAS_BLOBS_*` (off by default), the metadata from `--meta` /
/// `SILENT_NAS_META_URL` (the data directory's SQLite by default).
pub fn open_with(d: &DataArgs, opts: StoreOptions) -> Result<Store> {
    let storage = crate::config::Storage::from_env()?;
    let blobs = crate::config::blobs::from_env()?;
    let opts = StoreOptions {
        reserve: storage.reserve,
        delta: storage.delta,
        remote: blobs.remote,
        meta: d.location()?,
        ..opts
    };
    Store::open(&d.data, opts).with_context(|| format!("cannot open store {}", d.data.display()))
}

/// Opens the store and the home.
pub fn open_home(h: &HomeArgs) -> Result<(Store, Home)> {
    let s = open(&h.data)?;
    let home = s.home(&h.home)?;
    Ok((s, home))
}

/// Opens the store read-only (no lock: works while the server runs), for commands that
/// only read.
pub fn open_read(d: &DataArgs) -> Result<Store> {
    let remote = crate::config::blobs::from_env()?.remote;
    Store::open_read_only_at(&d.data, &d.location()?, remote.as_ref())
        .with_context(|| format!("cannot open store {} to read", d.data.display()))
}

/// Opens the store read-only and the home (which must exist).
pub fn open_home_read(h: &HomeArgs) -> Result<(Store, Home)> {
    let s = open_read(&h.data)?;
    let home = s.home(&h.home)?;
    Ok((s, home))
}

/// Parses a path argument.
pub fn path(p: &str) -> Result<NasPath> {
    NasPath::parse(p).with_context(|| format!("bad path {p:?}"))
}
