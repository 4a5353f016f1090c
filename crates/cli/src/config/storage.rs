//! The `[storage]` section: the free-space reserve new data leaves on the data directory's
//! file system (so deletes, trash purges and GC always have room for the metadata
//! database), and the free space below which readiness fails. Sizes are bytes with an
//! optional unit (`64MiB`, `1G`; powers of 1024). Why these defaults: `docs/operations.md`,
//! "A full disk".

use super::env;
use anyhow::{Result, anyhow, bail};
use serde::Deserialize;

/// The `[storage]` table of the configuration file (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageFile {
    /// Free space new data never takes (`64MiB`; `0` keeps none).
    pub reserve: Option<String>,
    /// Readiness fails below this much free space (`1GiB`).
    pub ready_min_free: Option<String>,
    /// Store new chunks as deltas against similar stored chunks when that pays.
    pub delta: Option<bool>,
    /// Keep versions' extent lists and chunk records in memory after a read (on).
    pub read_cache: Option<bool>,
    /// Bytes of decoded chunks kept after a read (`100MiB`; `0` keeps none).
    pub chunk_cache: Option<String>,
}

/// The validated `[storage]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storage {
    /// Bytes new data leaves free (see `nas_engine::StoreOptions::reserve`).
    pub reserve: u64,
    /// Readiness fails when less than this is free.
    pub ready_min_free: u64,
    /// Delta chunks for new writes (see `nas_engine::StoreOptions::delta`).
    pub delta: bool,
    /// The read cache (see `nas_engine::StoreOptions::read_cache`).
    pub read_cache: bool,
    /// Bytes of decoded chunks kept (see `nas_engine::StoreOptions::chunk_cache`).
    pub chunk_cache: u64,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            reserve: nas_engine::DEFAULT_RESERVE,
            ready_min_free: 1 << 30,
            delta: nas_engine::DEFAULT_DELTA,
            read_cache: true,
            chunk_cache: nas_engine::DEFAULT_CHUNK_CACHE,
        }
    }
}

impl Storage {
    /// The settings from the environment alone (the commands other than `serve` read no
    /// configuration file).
    pub fn from_env() -> Result<Storage> {
        resolve(None)
    }
}

fn size(var: &str, key: &str, file: Option<String>, default: u64) -> Result<u64> {
    let Some((v, from)) = env(var)
        .map(|v| (v, var.to_owned()))
        .or_else(|| file.map(|v| (v, format!("[storage] {key}"))))
    else {
        return Ok(default);
    };
    crate::cmd::user::parse_size(&v).map_err(|e| anyhow!("{from}: {e} (e.g. 64MiB, 1G)"))
}

/// Resolves `[storage]` against the environment and validates it.
pub fn resolve(f: Option<StorageFile>) -> Result<Storage> {
    let f = f.unwrap_or_default();
    let d = Storage::default();
    let s = Storage {
        reserve: size(
            "SILENT_NAS_STORAGE_RESERVE",
            "reserve",
            f.reserve,
            d.reserve,
        )?,
        ready_min_free: size(
            "SILENT_NAS_READY_MIN_FREE",
            "ready_min_free",
            f.ready_min_free,
            d.ready_min_free,
        )?,
        delta: super::switch("SILENT_NAS_STORAGE_DELTA", f.delta.unwrap_or(d.delta))?,
        read_cache: super::switch(
            "SILENT_NAS_STORAGE_READ_CACHE",
            f.read_cache.unwrap_or(d.read_cache),
        )?,
        chunk_cache: size(
            "SILENT_NAS_STORAGE_CHUNK_CACHE",
            "chunk_cache",
            f.chunk_cache,
            d.chunk_cache,
        )?,
    };
    if s.reserve > 1 << 40 {
        bail!("[storage] reserve: {} bytes is more than 1 TiB", s.reserve);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Storage> {
        let fc: crate::config::FileConfig = toml::from_str(text)?;
        resolve(fc.storage)
    }

    #[test]
    fn sizes_with_units_defaults_and_refusals() {
        assert_eq!(parse("").unwrap(), Storage::default());
        assert_eq!(Storage::default().reserve, 64 << 20);
        let s = parse("[storage]\nreserve = \"8MiB\"\nready_min_free = \"10M\"\n").unwrap();
        assert_eq!((s.reserve, s.ready_min_free), (8 << 20, 10 << 20));
        assert_eq!(parse("[storage]\nreserve = \"0\"\n").unwrap().reserve, 0);
        assert!(parse("[storage]\ndelta = true\n").unwrap().delta);
        assert!(!parse("[storage]\ndelta = false\n").unwrap().delta);
        assert!(parse("[storage]\ndelta = \"maybe\"\n").is_err());
        assert!(parse("").unwrap().read_cache, "on by default");
        assert!(!parse("[storage]\nread_cache = false\n").unwrap().read_cache);
        assert_eq!(parse("").unwrap().chunk_cache, 100 << 20);
        let c = parse("[storage]\nchunk_cache = \"0\"\n").unwrap();
        assert_eq!(c.chunk_cache, 0);
        for bad in [
            "reserve = \"lots\"",
            "reserve = \"2P\"",
            "reserve = \"2048G\"",
            "spare = 1",
        ] {
            assert!(parse(&format!("[storage]\n{bad}\n")).is_err(), "{bad}");
        }
    }
}
