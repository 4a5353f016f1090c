//! [`RemoteArchive`]: the object store's objects other than what the pack store reads and
//! writes frame by frame — the metadata backups of disaster recovery under
//! `PREFIX/meta/`, and a listing and the records of the pack objects under
//! `PREFIX/packs/` (what a restore finds there). A running [`RemotePackStore`](super::RemotePackStore) hands out one
//! sharing its client ([`BlobStore::archive`](crate::BlobStore::archive)); a restore, which
//! has no store yet, opens one from the settings ([`RemoteArchive::open`]).
//!
//! Names given to the `*_meta` calls are relative to `PREFIX/meta/` and must be plain
//! (no `/`, not `.` or `..`). Every call is one request (a listing may be several pages),
//! bounded like every other request of the tier; errors never name a credential.

use super::client::{ObjectClient, RemoteError};
use super::config::RemoteConfig;
use crate::{BlobLocation, PACK_MAGIC};
use bytes::Bytes;
use nas_types::{ChunkId, PackId};
use std::sync::Arc;

/// Where metadata backups live under the tier's prefix.
const META_DIR: &str = "meta";
/// Where pack objects live under the tier's prefix.
const PACKS_DIR: &str = "packs";

/// One object of `PREFIX/meta/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedObject {
    /// Its name under `PREFIX/meta/`.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Backups and listings of the object store (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct RemoteArchive {
    client: Arc<ObjectClient>,
}

impl std::fmt::Debug for RemoteArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteArchive")
            .field("url", &self.url())
            .finish()
    }
}

fn plain(name: &str) -> Result<&str, RemoteError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(RemoteError::Other(format!("invalid object name {name:?}")));
    }
    Ok(name)
}

impl RemoteArchive {
    /// An archive over the object store `cfg` names (its own client: for a restore).
    pub fn open(cfg: &RemoteConfig) -> Result<RemoteArchive, RemoteError> {
        Ok(RemoteArchive {
            client: Arc::new(ObjectClient::new(cfg)?),
        })
    }

    pub(crate) fn sharing(client: Arc<ObjectClient>) -> RemoteArchive {
        RemoteArchive { client }
    }

    /// `s3://bucket/prefix` (no credentials).
    pub fn url(&self) -> String {
        self.client.config().url()
    }

    fn meta_key(&self, name: &str) -> Result<String, RemoteError> {
        Ok(self
            .client
            .config()
            .key(&format!("{META_DIR}/{}", plain(name)?)))
    }

    /// Uploads `data` as `PREFIX/meta/NAME` (replacing an object of that name).
    pub fn put_meta(&self, name: &str, data: Vec<u8>) -> Result<(), RemoteError> {
        self.client
            .put_key(&self.meta_key(name)?, Bytes::from(data))
    }

    /// The object `PREFIX/meta/NAME`, whole.
    pub fn get_meta(&self, name: &str) -> Result<Vec<u8>, RemoteError> {
        Ok(self.client.get_key(&self.meta_key(name)?)?.to_vec())
    }

    /// Deletes `PREFIX/meta/NAME` (a missing object is fine).
    pub fn delete_meta(&self, name: &str) -> Result<(), RemoteError> {
        self.client.delete_key(&self.meta_key(name)?)
    }

    /// Every object directly under `PREFIX/meta/`, by name.
    pub fn list_meta(&self) -> Result<Vec<ArchivedObject>, RemoteError> {
        let dir = self.client.config().key(META_DIR);
        let mut out: Vec<ArchivedObject> = self
            .client
            .list_keys(&dir)?
            .into_iter()
            .filter_map(|(key, size)| {
                let name = key.strip_prefix(&dir)?.strip_prefix('/')?;
                (!name.contains('/')).then(|| ArchivedObject {
                    name: name.to_owned(),
                    size,
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Every pack object under `PREFIX/packs/` with its size (objects whose names are not
    /// `<16 hex digits>.pack` are not packs and are left out).
    pub fn list_packs(&self) -> Result<Vec<(PackId, u64)>, RemoteError> {
        let dir = self.client.config().key(PACKS_DIR);
        let mut out: Vec<(PackId, u64)> = self
            .client
            .list_keys(&dir)?
            .into_iter()
            .filter_map(|(key, size)| {
                let name = key.strip_prefix(&dir)?.strip_prefix('/')?;
                Some((PackId::parse(name.strip_suffix(".pack")?)?, size))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Every record (chunk id, frame location) of the pack object `pack`, read whole (a
    /// pack is self-describing: what a restore uses to find frames GC moved into a pack
    /// written after the backup). Empty for an object that is not a pack.
    pub fn pack_records(&self, pack: PackId) -> Result<Vec<(ChunkId, BlobLocation)>, RemoteError> {
        let data = self.client.get_key(&self.client.config().pack_key(pack))?;
        if !data.starts_with(PACK_MAGIC) {
            return Ok(Vec::new());
        }
        Ok(super::parse_records(pack, &data))
    }
}
