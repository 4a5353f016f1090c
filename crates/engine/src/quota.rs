//! The quota rule, as the engine applies it. The metadata store keeps each home's usage
//! counters in the transaction that changes them and refuses, in that same transaction,
//! any change that takes the counted bytes over the account's quota
//! ([`nas_meta::MetaError::QuotaExceeded`] → [`EngineError::QuotaExceeded`]): that is the
//! rule, atomic with every commit, copy and restore, whatever door asked. This module adds
//! the early refusal of a write whose bytes, as they arrive, can no longer fit (so a door
//! stops reading a too-big body instead of storing it), and the store-wide choice of what
//! the quota counts. `docs/design/quota.md` says why.

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::store::Store;
use nas_meta::{NodeRecord, QuotaCounts};

impl Store {
    /// Chooses what quotas count, for every account (kept in the metadata).
    pub fn set_quota_counts(&self, counts: QuotaCounts) -> EngineResult<()> {
        if self.quota_counts()? != counts {
            self.inner
                .meta
                .set_setting(QuotaCounts::SETTING, counts.as_str())?;
        }
        Ok(())
    }

    /// What quotas count.
    pub fn quota_counts(&self) -> EngineResult<QuotaCounts> {
        Ok(self
            .inner
            .meta
            .setting(QuotaCounts::SETTING)?
            .as_deref()
            .and_then(QuotaCounts::parse)
            .unwrap_or_default())
    }
}

/// What a write may add before it is refused as its bytes arrive (the commit checks again,
/// atomically).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room {
    /// Bytes the new version may hold.
    pub bytes: u64,
    quota: u64,
    used: u64,
}

impl Room {
    /// The room of a new version of `existing` (or of a new file) in `home`; `None` when
    /// the account has no quota.
    pub fn of(home: &Home, existing: Option<&NodeRecord>) -> EngineResult<Option<Room>> {
        let u = home.usage()?;
        let (Some(quota), Some(room)) = (u.quota, u.room()) else {
            return Ok(None);
        };
        let replaced = match u.counts {
            QuotaCounts::Current => existing.and_then(|n| n.head.as_ref()).map_or(0, |h| h.size),
            QuotaCounts::All => 0,
        };
        Ok(Some(Room {
            bytes: room + replaced,
            quota,
            used: u.used(),
        }))
    }

    /// Fails when `size` bytes do not fit.
    pub fn check(&self, size: u64) -> EngineResult<()> {
        if size <= self.bytes {
            return Ok(());
        }
        Err(EngineError::QuotaExceeded {
            quota: self.quota,
            used: self.used,
            adding: size,
        })
    }
}

impl Home {
    /// Fails with [`EngineError::QuotaExceeded`] when `size` more bytes — a new version of
    /// `replacing`, or a new file — cannot fit now: an early answer for a size declared
    /// before the bytes come (tus `Upload-Length`). The commit checks again, atomically.
    pub fn check_room(
        &self,
        replacing: Option<&nas_types::NasPath>,
        size: u64,
    ) -> EngineResult<()> {
        let existing = match replacing.map(|p| self.resolve(p)) {
            None | Some(Err(EngineError::NotFound(_))) => None,
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => return Err(e),
        };
        match Room::of(self, existing.as_ref())? {
            Some(room) => room.check(size),
            None => Ok(()),
        }
    }
}
