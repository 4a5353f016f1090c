//! Tier policies and the mover's plan (`docs/design/object-storage.md`). With an
//! object-storage tier, `mirror` keeps every sealed pack both local and remote (the local
//! disk holds everything; the remote copy repairs it); `tiered` makes the local disk a hot
//! tier: a pack not read for `cold_after` leaves it, and while the local packs weigh more
//! than `hot_size` the least recently read leave first. Leaving means
//! `BlobStore::evict_local`: only a sealed pack with a verified remote copy that is still
//! there loses its local copy, so a mover stopped or killed at any point loses nothing;
//! a pack whose upload is pending waits (the plan counts it) and moves in a later run.
//!
//! The plan is computed from `BlobStore::tier_packs` (sizes, places, each pack's coarse
//! last read) and is pure: [`plan`] is tested on its own; the mover worker
//! (`workers::mover_worker`) executes it in batches, throttled.

use crate::error::EngineResult;
use crate::store::Store;
use nas_blob::TierPack;
use nas_types::PackId;
use std::time::Duration;

/// What the object-storage tier keeps where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierPolicy {
    /// Every sealed pack local and remote (the default when a remote tier is set).
    Mirror,
    /// The local disk is a hot tier.
    Tiered(TieredPolicy),
}

/// The `tiered` policy's settings (defaults: the seed's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TieredPolicy {
    /// Local packs above this many bytes are evicted, least recently read first.
    pub hot_size: u64,
    /// A pack not read for this long is evicted.
    pub cold_after: Duration,
    /// How often the mover runs.
    pub interval: Duration,
    /// At most this many packs are evicted per run.
    pub batch: usize,
    /// Bytes of packs evicted per second at most (`None`: unlimited): paces the HEAD and
    /// unlink of each pack.
    pub rate: Option<u64>,
}

impl Default for TieredPolicy {
    fn default() -> Self {
        TieredPolicy {
            hot_size: 10 << 30,
            cold_after: Duration::from_secs(7 * 86_400),
            interval: Duration::from_secs(3600),
            batch: 100,
            rate: Some(64 << 20),
        }
    }
}

/// Why a pack leaves the local disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveReason {
    /// Not read for `cold_after`.
    Cold,
    /// The local packs weigh more than `hot_size`.
    OverHotSize,
}

/// One pack to evict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// The pack.
    pub pack: PackId,
    /// Its bytes.
    pub size: u64,
    /// Why.
    pub reason: MoveReason,
}

/// What the mover would do now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MovePlan {
    /// Packs to evict, in order (cold ones oldest-read first, then for the size limit
    /// oldest-read first); a run takes the first `batch`.
    pub moves: Vec<Move>,
    /// Bytes of local packs now (the active one included).
    pub local_bytes: u64,
    /// Local packs now.
    pub local_packs: u64,
    /// Sealed local packs the policy would move but whose upload is still pending.
    pub waiting_upload: u64,
    /// Local bytes once the moves are done.
    pub local_bytes_after: u64,
}

/// The plan for `packs` under `policy` at `now_ns`.
pub fn plan(packs: &[TierPack], policy: &TieredPolicy, now_ns: i64) -> MovePlan {
    let cold_ns = i64::try_from(policy.cold_after.as_nanos()).unwrap_or(i64::MAX);
    let local: Vec<&TierPack> = packs.iter().filter(|p| p.local).collect();
    let local_bytes: u64 = local.iter().map(|p| p.size).sum();
    let mut out = MovePlan {
        local_bytes,
        local_packs: local.len() as u64,
        ..MovePlan::default()
    };
    // candidates: sealed local packs, least recently read first (then by id)
    let mut sealed: Vec<&TierPack> = local.into_iter().filter(|p| !p.active).collect();
    sealed.sort_by_key(|p| (p.last_read_ns, p.id));
    let is_cold = |p: &TierPack| now_ns.saturating_sub(p.last_read_ns) >= cold_ns;
    let mut left = local_bytes;
    for p in sealed.iter().filter(|p| is_cold(p)) {
        if p.remote {
            out.moves.push(Move {
                pack: p.id,
                size: p.size,
                reason: MoveReason::Cold,
            });
            left = left.saturating_sub(p.size);
        } else {
            out.waiting_upload += 1;
        }
    }
    for p in sealed.iter().filter(|p| !is_cold(p)) {
        if left <= policy.hot_size {
            break;
        }
        if p.remote {
            out.moves.push(Move {
                pack: p.id,
                size: p.size,
                reason: MoveReason::OverHotSize,
            });
            left = left.saturating_sub(p.size);
        } else {
            out.waiting_upload += 1;
        }
    }
    out.local_bytes_after = left;
    out
}

impl Store {
    /// The mover's plan under `policy` now (empty without an object-storage tier). The
    /// reads noted since the last record are written first.
    pub fn mover_plan(&self, policy: &TieredPolicy) -> EngineResult<MovePlan> {
        let packs = self.inner.blobs.tier_packs()?;
        Ok(plan(&packs, policy, crate::time::now_ns()))
    }

    /// Drops the local copy of `pack` if its remote copy is verified and still there
    /// (true when a local copy was dropped).
    pub fn evict_local_pack(&self, pack: PackId) -> EngineResult<bool> {
        Ok(self.inner.blobs.evict_local(pack)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(id: u64, size: u64, remote: bool, last_read_ns: i64) -> TierPack {
        TierPack {
            id: PackId(id),
            size,
            local: true,
            remote,
            active: false,
            last_read_ns,
        }
    }

    const DAY: i64 = 86_400_000_000_000;

    #[test]
    fn cold_packs_go_then_the_oldest_read_until_under_the_hot_size() {
        let policy = TieredPolicy {
            hot_size: 250,
            cold_after: Duration::from_secs(7 * 86_400),
            ..TieredPolicy::default()
        };
        let now = 100 * DAY;
        let mut packs = vec![
            pack(1, 100, true, now - DAY),      // warm, read long ago-ish
            pack(2, 100, true, now - 8 * DAY),  // cold
            pack(3, 100, true, now - 2 * DAY),  // warm, older than 1
            pack(4, 100, false, now - 9 * DAY), // cold, not uploaded yet
            pack(5, 100, true, now),            // just read
        ];
        packs.push(TierPack {
            active: true,
            remote: false,
            ..pack(6, 50, false, 0)
        });
        packs.push(TierPack {
            local: false,
            ..pack(7, 100, true, 0)
        });
        let p = plan(&packs, &policy, now);
        assert_eq!((p.local_packs, p.local_bytes), (6, 550));
        let moved: Vec<(u64, MoveReason)> = p.moves.iter().map(|m| (m.pack.0, m.reason)).collect();
        // 2 is cold; 4 is cold but waits; then 550-100 = 450 > 250: 3, then 1 (oldest read)
        assert_eq!(
            moved,
            vec![
                (2, MoveReason::Cold),
                (3, MoveReason::OverHotSize),
                (1, MoveReason::OverHotSize)
            ]
        );
        assert_eq!((p.waiting_upload, p.local_bytes_after), (1, 250));
        // everything under the limit and warm: nothing moves
        let p = plan(&packs[..1], &policy, now);
        assert!(p.moves.is_empty());
        // cold_after zero: every uploaded sealed pack is cold, the active one never moves
        let p = plan(
            &packs,
            &TieredPolicy {
                cold_after: Duration::ZERO,
                hot_size: u64::MAX,
                ..policy
            },
            now,
        );
        assert_eq!(p.moves.len(), 4);
        assert!(p.moves.iter().all(|m| m.pack.0 != 6 && m.pack.0 != 4));
    }
}
