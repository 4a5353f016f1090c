//! What the object-storage tier needs of local packs besides the `BlobStore` calls: an
//! open handle on a sealed pack (its upload), an in-place rewrite of a damaged frame with its
//! verified remote copy (self-repair), and a lost or truncated pack put back whole from
//! its verified remote copy.

use super::LocalPackStore;
use crate::{BlobError, BlobLocation};
use nas_types::PackId;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

impl LocalPackStore {
    /// Writes `frame` over the frame at `loc` of a sealed pack and fsyncs it: a repair
    /// putting back verified bytes the frame had when it was made durable (never new
    /// content; refused for the active pack).
    pub fn rewrite_frame(&self, loc: &BlobLocation, frame: &[u8]) -> Result<(), BlobError> {
        if self.active_id() == Some(loc.pack) || frame.len() != loc.len as usize {
            return Err(BlobError::Io(std::io::Error::other(
                "a frame is rewritten only in place, in a sealed pack",
            )));
        }
        let f = OpenOptions::new()
            .write(true)
            .open(self.pack_path(loc.pack))?;
        if f.metadata()?.len() < loc.offset + u64::from(loc.len) {
            return Err(BlobError::Missing {
                pack: loc.pack,
                offset: loc.offset,
                reason: "frame lies past the end of its pack",
            });
        }
        f.write_all_at(frame, loc.offset)?;
        f.sync_data()?;
        Ok(())
    }

    /// The file of a sealed pack, open for reading (an upload in parts reads it piece by
    /// piece). Refused for the active pack; `Missing` when the file is gone.
    pub fn open_sealed(&self, pack: PackId) -> Result<fs::File, BlobError> {
        if self.active_id() == Some(pack) {
            return Err(BlobError::Io(std::io::Error::other(
                "the active pack is still being written",
            )));
        }
        match fs::File::open(self.pack_path(pack)) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::Missing {
                pack,
                offset: 0,
                reason: "pack file not found",
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the file of `pack` is on the disk.
    pub fn has_pack(&self, pack: PackId) -> bool {
        self.pack_path(pack).exists()
    }

    /// The size of the file of `pack` (`None`: not on the disk).
    pub fn pack_len(&self, pack: PackId) -> Option<u64> {
        fs::metadata(self.pack_path(pack)).ok().map(|m| m.len())
    }

    /// Puts a sealed pack back whole (`data`: its verified remote copy): written beside,
    /// fsynced, renamed over whatever is there, the folder fsynced; readers open the new
    /// file from then on. Refused for the active pack.
    pub fn restore_pack(&self, pack: PackId, data: &[u8]) -> Result<(), BlobError> {
        if self.active_id() == Some(pack) {
            return Err(BlobError::Io(std::io::Error::other(
                "the active pack is never restored",
            )));
        }
        let path = self.pack_path(pack);
        let dir = path
            .parent()
            .ok_or_else(|| std::io::Error::other("a pack path has a folder"))?;
        fs::create_dir_all(dir)?;
        let tmp = path.with_extension("pack.restore");
        {
            let mut f = fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, data)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        fs::File::open(dir)?.sync_all()?;
        super::lock(&self.handles).remove(&pack);
        Ok(())
    }
}
