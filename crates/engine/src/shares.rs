//! Share links: the engine's rules for a link that gives anyone holding it access to one
//! file or folder of its owner's home, without an account. Doors translate; the rules live
//! here (design: `docs/design/shares.md`).
//!
//! - A share points at a **node**, not a path: it follows its target through renames and
//!   moves (as Nextcloud's do); a target in the trash or purged makes it unknown (404).
//! - The **token** is 24 bytes from the operating system's RNG (192 bits), written as 32
//!   base64url characters. Only its BLAKE3 hash is stored and a link is looked up by that
//!   hash, so a copy of the database does not give working links. The token exists only in
//!   the return value of [`Home::create_share`].
//! - **Read** shares give a file, or a folder's tree; **drop** shares (folders only) take
//!   new files and never list or read.
//! - An optional **password** (an argon2id PHC string made and checked by `nas-auth`: the
//!   engine only keeps it), an optional **expiry** (410 after it), an optional **download
//!   limit** counted atomically by [`OpenShare::take_download`] (never exceeded, even by
//!   parallel requests). Revoking deletes the record: the next request is refused.
//! - A share dies with its owner's account (deleted with it) and is refused while the
//!   account is disabled.
//!
//! ```
//! use nas_engine::{NewShare, ShareKind, Store, WriteOptions};
//! use nas_types::NasPath;
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path(), Default::default()).unwrap();
//! # nas_engine::Accounts::open(dir.path()).unwrap().create(&nas_engine::UserRecord {
//! #     name: "ann".into(), password: String::new(), role: "user".into(), quota: None,
//! #     disabled: false, created_ns: 0, keep_versions: None, keep_days: None,
//! #     sessions_epoch: 0 }).unwrap();
//! let home = store.home("ann").unwrap();
//! let p = NasPath::parse("/a.txt").unwrap();
//! home.write_all(&p, b"hi", WriteOptions::default()).unwrap();
//! let (rec, token) = home.create_share(&p, NewShare::read()).unwrap();
//! let open = store.open_share(&token).unwrap();
//! assert_eq!(open.root, p);
//! home.rename(&p, &NasPath::parse("/b.txt").unwrap(), false).unwrap();
//! assert_eq!(store.open_share(&token).unwrap().root.as_str(), "/b.txt");
//! assert!(home.revoke_share(&rec.id).unwrap());
//! assert!(store.open_share(&token).is_err());
//! ```

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::store::Store;
use crate::time::now_ns;
use nas_meta::NodeKind;
pub use nas_meta::{ShareKind, ShareRecord};
use nas_types::NasPath;
use thiserror::Error;

/// Bytes of randomness in a token (192 bits).
pub const SHARE_TOKEN_BYTES: usize = 24;
/// Characters of a token (base64url, no padding).
pub const SHARE_TOKEN_LEN: usize = SHARE_TOKEN_BYTES * 4 / 3;
/// Shares one account may hold.
pub const MAX_SHARES_PER_USER: usize = 1_000;

/// What a new share is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShare {
    /// Read or drop.
    pub kind: ShareKind,
    /// An argon2id PHC string of the password (made by `nas-auth`), if any.
    pub password_hash: Option<String>,
    /// When it stops working, ns since the epoch (must be in the future).
    pub expires_ns: Option<i64>,
    /// Downloads it gives at most (at least 1).
    pub max_downloads: Option<u64>,
}

impl NewShare {
    /// A read share with no password, expiry or limit.
    pub fn read() -> NewShare {
        NewShare {
            kind: ShareKind::Read,
            password_hash: None,
            expires_ns: None,
            max_downloads: None,
        }
    }
}

/// A share as its owner sees it: the record and where its target is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The stored record (with the token's hash, never the token).
    pub record: ShareRecord,
    /// The target's current path; `None` when it is in the trash or gone.
    pub path: Option<NasPath>,
    /// Whether the target is a folder.
    pub is_dir: bool,
}

/// Why a share link is refused.
#[derive(Debug, Error)]
pub enum ShareError {
    /// No such link: never made, revoked, its target deleted, or its owner gone or
    /// disabled (one answer, so a recipient learns nothing more).
    #[error("no such share")]
    Unknown,
    /// The link has expired.
    #[error("this share has expired")]
    Expired,
    /// The link has given all its downloads.
    #[error("this share has reached its download limit")]
    Exhausted,
    /// The store failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<nas_meta::MetaError> for ShareError {
    fn from(e: nas_meta::MetaError) -> Self {
        ShareError::Engine(e.into())
    }
}

/// A share link that passed its checks: its record, the owner's home and the target's
/// current path. The door decides what the request may do with it (by `record.kind`).
#[derive(Clone)]
pub struct OpenShare {
    /// The record.
    pub record: ShareRecord,
    /// The owner's home.
    pub home: Home,
    /// The target's path in the home, now.
    pub root: NasPath,
    /// File or folder.
    pub kind: NodeKind,
}

impl std::fmt::Debug for OpenShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenShare")
            .field("id", &self.record.id)
            .field("root", &self.root)
            .finish()
    }
}

impl OpenShare {
    /// The author recorded on a version uploaded through this link: `share:<id>` (the
    /// share's id, never its token).
    pub fn author(&self) -> String {
        format!("share:{}", self.record.id)
    }
}

/// BLAKE3 of a token: what is stored and looked up.
pub fn share_token_hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// Whether `token` has the shape of a share token (a cheap test before a lookup).
pub fn looks_like_share_token(token: &str) -> bool {
    token.len() == SHARE_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Base64url without padding (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// `n` bytes from the operating system's RNG.
fn os_random<const N: usize>() -> EngineResult<[u8; N]> {
    use rand::TryRngCore;
    let mut b = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| EngineError::Internal(format!("the OS RNG failed: {e}")))?;
    Ok(b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Home {
    /// Creates a share of `path` (a drop share needs a folder): the stored record and the
    /// token, which exists only in this return value.
    pub fn create_share(
        &self,
        path: &NasPath,
        new: NewShare,
    ) -> EngineResult<(ShareRecord, String)> {
        let node = self.resolve(path)?;
        if new.kind == ShareKind::Drop && node.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(format!(
                "{path}: a file drop needs a folder"
            )));
        }
        let now = now_ns();
        if new.expires_ns.is_some_and(|e| e <= now) {
            return Err(EngineError::InvalidArgument(
                "the expiry is in the past".into(),
            ));
        }
        if new.max_downloads == Some(0) {
            return Err(EngineError::InvalidArgument(
                "a download limit is at least 1".into(),
            ));
        }
        if self.inner.meta.shares(self.name())?.len() >= MAX_SHARES_PER_USER {
            return Err(EngineError::InvalidArgument(format!(
                "an account holds at most {MAX_SHARES_PER_USER} shares: revoke one first"
            )));
        }
        let token = base64url(&os_random::<SHARE_TOKEN_BYTES>()?);
        let rec = ShareRecord {
            id: hex(&os_random::<8>()?),
            owner: self.name().to_owned(),
            node: node.id,
            kind: new.kind,
            token_hash: share_token_hash(&token),
            password: new.password_hash,
            expires_ns: new.expires_ns,
            max_downloads: new.max_downloads,
            downloads: 0,
            created_ns: now,
        };
        self.inner.meta.create_share(&rec)?;
        Ok((rec, token))
    }

    /// This home's shares, oldest first, with where their targets are now.
    pub fn shares(&self) -> EngineResult<Vec<Share>> {
        let mut out = Vec::new();
        for record in self.inner.meta.shares(self.name())? {
            let (path, is_dir) = match self.live_path(&record)? {
                Some((p, k)) => (Some(p), k == NodeKind::Dir),
                None => (None, false),
            };
            out.push(Share {
                record,
                path,
                is_dir,
            });
        }
        Ok(out)
    }

    /// Revokes (deletes) one of this home's shares: false if it has none with that id.
    pub fn revoke_share(&self, id: &str) -> EngineResult<bool> {
        Ok(self.inner.meta.delete_share(self.name(), id)?)
    }

    /// The path of a share's target if it is live in this home (resolved back to the same
    /// node, so a target moved to the trash meanwhile is never served).
    fn live_path(&self, rec: &ShareRecord) -> EngineResult<Option<(NasPath, NodeKind)>> {
        let meta = &self.inner.meta;
        if !meta.is_live(rec.node)? {
            return Ok(None);
        }
        let Some(raw) = meta.node_path(rec.node)? else {
            return Ok(None);
        };
        let path = if raw.is_empty() {
            NasPath::root()
        } else {
            NasPath::parse(&raw)?
        };
        match self.resolve(&path) {
            Ok(n) if n.id == rec.node && n.home == self.rec.id => Ok(Some((path, n.kind))),
            Ok(_) | Err(EngineError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Store {
    /// The share whose token is `token`, checked: known, owner enabled, not expired,
    /// target live. The download limit is checked here (410 once reached) and counted by
    /// [`OpenShare::take_download`].
    pub fn open_share(&self, token: &str) -> Result<OpenShare, ShareError> {
        if !looks_like_share_token(token) {
            return Err(ShareError::Unknown);
        }
        let meta = &self.inner.meta;
        let Some(rec) = meta.share_by_hash(&share_token_hash(token))? else {
            return Err(ShareError::Unknown);
        };
        match meta.user(&rec.owner)? {
            Some(u) if !u.disabled => {}
            _ => return Err(ShareError::Unknown),
        }
        if rec.expires_ns.is_some_and(|e| e <= now_ns()) {
            return Err(ShareError::Expired);
        }
        let home = self.home(&rec.owner)?;
        let Some((root, kind)) = home.live_path(&rec)? else {
            return Err(ShareError::Unknown);
        };
        if rec.max_downloads.is_some_and(|m| rec.downloads >= m) {
            return Err(ShareError::Exhausted);
        }
        Ok(OpenShare {
            record: rec,
            home,
            root,
            kind,
        })
    }
}

impl OpenShare {
    /// The path of `rel` (a path inside the shared folder; `/` is the folder itself) in
    /// the owner's home. A file share has only `/`.
    pub fn path(&self, rel: &NasPath) -> EngineResult<NasPath> {
        if rel.is_root() {
            return Ok(self.root.clone());
        }
        if self.kind != NodeKind::Dir {
            return Err(EngineError::NotFound(rel.to_string()));
        }
        let mut p = self.root.clone();
        for seg in rel.segments() {
            p = p.join(seg)?;
        }
        Ok(p)
    }

    /// Counts one download, atomically: [`ShareError::Exhausted`] when the limit was
    /// reached (by this request's rivals too), so a limit is never exceeded. A link without
    /// a limit is counted too, for the owner's list, but never refused: a count that cannot
    /// be written (a full disk) does not stop the download.
    pub fn take_download(&self) -> Result<(), ShareError> {
        if self.record.max_downloads.is_none() {
            let _ = self.home.inner.meta.take_share_download(&self.record.id);
            return Ok(());
        }
        if self.home.inner.meta.take_share_download(&self.record.id)? {
            Ok(())
        } else {
            Err(ShareError::Exhausted)
        }
    }

    /// A name in the shared folder that nothing uses yet, for a dropped file: `name`
    /// itself, else `stem (2).ext`, `stem (3).ext`… (a drop never overwrites). The caller
    /// commits with [`crate::Expect::Absent`], so a rival taking the name meanwhile makes
    /// the commit fail rather than overwrite.
    pub fn free_name(&self, name: &str) -> EngineResult<NasPath> {
        let first = self.root.join(name)?;
        if !self.home.exists(&first)? {
            return Ok(first);
        }
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 => (&name[..i], &name[i..]),
            _ => (name, ""),
        };
        for n in 2..1_000 {
            let p = self.root.join(&format!("{stem} ({n}){ext}"))?;
            if !self.home.exists(&p)? {
                return Ok(p);
            }
        }
        Err(EngineError::AlreadyExists(format!("{name}: no free name")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64url_matches_the_rfc() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        let t = base64url(&os_random::<SHARE_TOKEN_BYTES>().unwrap());
        assert_eq!(t.len(), SHARE_TOKEN_LEN);
        assert!(looks_like_share_token(&t));
        assert!(!looks_like_share_token("short"));
    }
}
