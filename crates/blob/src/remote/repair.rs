//! Self-repair of whole packs ([`BlobStore::repair_packs`](crate::BlobStore::repair_packs)):
//! a pack the placement table says is both local and remote, whose local file is missing
//! or is not the size of its verified remote copy, is fetched whole from the object store,
//! checked (size, and MD5 when recorded), and put back (`LocalPackStore::restore_pack`:
//! written beside, fsynced, renamed). Frames damaged inside a pack of the right size are
//! repaired one by one by `repair_frame`, which checks each against its chunk id; this
//! handles what that cannot: the file is gone or cut short.

use super::RemotePackStore;
use super::placement::lock;
use super::upload::{hex, md5_of};
use crate::{BlobError, BlobStore, PackRepair};
use std::sync::atomic::Ordering;

impl RemotePackStore {
    /// See the module docs; every pack that needed it, with what was wrong and whether it
    /// was put back.
    pub(crate) fn repair_local_packs(&self) -> Result<Vec<PackRepair>, BlobError> {
        if self.reader {
            return Ok(Vec::new());
        }
        let shared = &self.shared;
        let mut out = Vec::new();
        for p in shared.placements.all() {
            if !(p.local && p.remote) || shared.local.active_pack() == Some(p.pack) {
                continue;
            }
            let problem = match shared.local.pack_len(p.pack) {
                Some(n) if n == p.size => continue,
                Some(n) => format!(
                    "local pack {} is {n} bytes, its remote copy {}",
                    p.pack, p.size
                ),
                None => format!("local pack {} is missing", p.pack),
            };
            // GC's delete_pack and evictions wait for this; the row is read again under it
            let _busy = lock(&shared.upload_lock);
            let Some(p) = shared
                .placements
                .get(p.pack)
                .filter(|p| p.local && p.remote)
            else {
                continue;
            };
            let result = self.fetch_verified(p.pack, p.size, p.md5.as_deref());
            let result = result.and_then(|data| shared.local.restore_pack(p.pack, &data));
            let c = &shared.counters;
            match &result {
                Ok(()) => {
                    c.repairs.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(pack = %p.pack, %problem, "local pack restored from its remote copy");
                }
                Err(e) => {
                    c.unrepairable.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(pack = %p.pack, %problem, error = %e, "local pack not restored");
                }
            }
            self.cache.forget(p.pack);
            out.push(PackRepair {
                pack: p.pack,
                problem,
                result: result.map_err(|e| e.to_string()),
            });
        }
        Ok(out)
    }

    /// A pack's whole object, checked against the recorded size and MD5.
    fn fetch_verified(
        &self,
        pack: nas_types::PackId,
        size: u64,
        md5: Option<&str>,
    ) -> Result<Vec<u8>, BlobError> {
        let rx = self.shared.client.spawn(self.shared.client.get_range_fut(
            pack,
            0..size,
            self.shared.client.request_timeout(),
        ));
        let data = rx
            .recv()
            .map_err(|_| std::io::Error::other("the object client stopped"))??;
        if data.len() as u64 != size {
            return Err(std::io::Error::other(format!(
                "the object of pack {pack} is {} bytes, not {size}",
                data.len()
            ))
            .into());
        }
        if let Some(want) = md5
            && !hex(&md5_of(&data)).eq_ignore_ascii_case(want)
        {
            return Err(std::io::Error::other(format!(
                "the object of pack {pack} does not match its recorded MD5"
            ))
            .into());
        }
        Ok(data.to_vec())
    }
}
