//! Versions of a file (list, restore, delete, version at a time) and the retention policy that
//! prunes old ones — a plan, then an execution, so a dry run is free.

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::store::Store;
use crate::time::now_ns;
use nas_meta::{NodeKind, VersionRecord};
use nas_types::{NasPath, NodeId, VersionNum};
use std::time::Duration;

/// Which old versions to keep. A version is kept when *any* rule keeps it; the newest
/// version is always kept. With no rule set, nothing is pruned.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetentionPolicy {
    /// Keep the newest N versions of each file.
    pub keep_last: Option<usize>,
    /// Keep versions younger than this.
    pub keep_within: Option<Duration>,
}

/// Versions a retention run would delete.
#[derive(Debug, Clone, Default)]
pub struct RetentionPlan {
    /// `(file, path if live, version)` to delete.
    pub victims: Vec<(NodeId, Option<String>, VersionNum, u64)>,
}

impl RetentionPlan {
    /// Logical bytes of the versions in the plan.
    pub fn bytes(&self) -> u64 {
        self.victims.iter().map(|v| v.3).sum()
    }
}

fn doomed(policy: &RetentionPolicy, versions: &[VersionRecord], now: i64) -> Vec<VersionNum> {
    if policy.keep_last.is_none() && policy.keep_within.is_none() {
        return Vec::new();
    }
    let n = versions.len();
    versions
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            let rank = n - 1 - i; // 0 = newest
            if rank == 0 {
                return false;
            }
            let kept_by_count = policy.keep_last.is_some_and(|k| rank < k);
            let kept_by_age = policy
                .keep_within
                .is_some_and(|d| now.saturating_sub(v.created_ns) < crate::time::duration_ns(d));
            !(kept_by_count || kept_by_age)
        })
        .map(|(_, v)| v.num)
        .collect()
}

impl Store {
    /// Plans a retention run over every file of every home.
    pub fn retention_plan(&self, policy: &RetentionPolicy) -> EngineResult<RetentionPlan> {
        let meta = &self.inner.meta;
        let now = now_ns();
        let mut plan = RetentionPlan::default();
        let floor = policy.keep_last.unwrap_or(1).max(1);
        for node in meta.files_with_versions_over(floor)? {
            let versions = meta.versions(node)?;
            let gone = doomed(policy, &versions, now);
            if gone.is_empty() {
                continue;
            }
            let path = meta.node_path(node)?;
            for v in versions.iter().filter(|v| gone.contains(&v.num)) {
                plan.victims.push((node, path.clone(), v.num, v.size));
            }
        }
        Ok(plan)
    }

    /// Deletes the versions of a plan (skipping any that are already gone).
    pub fn retention_execute(&self, plan: &RetentionPlan) -> EngineResult<usize> {
        let mut done = 0;
        for (node, _, num, _) in &plan.victims {
            match self.inner.meta.delete_version(*node, *num) {
                Ok(()) => done += 1,
                Err(nas_meta::MetaError::NotFound(_) | nas_meta::MetaError::Invalid(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }
}

impl Home {
    fn file(&self, path: &NasPath) -> EngineResult<NodeId> {
        let n = self.resolve(path)?;
        if n.kind == NodeKind::Dir {
            return Err(EngineError::IsADirectory(path.to_string()));
        }
        Ok(n.id)
    }

    /// Every version of a file, oldest first.
    pub fn versions(&self, path: &NasPath) -> EngineResult<Vec<VersionRecord>> {
        let id = self.file(path)?;
        Ok(self.inner.meta.versions(id)?)
    }

    /// Makes version `num` the newest again (a new version sharing its chunks; nothing is
    /// copied and nothing is lost).
    pub fn restore_version(&self, path: &NasPath, num: VersionNum) -> EngineResult<VersionRecord> {
        let id = self.file(path)?;
        self.inner
            .meta
            .restore_version(id, num, now_ns())
            .map_err(|e| EngineError::from(e).at(&format!("{path} version {num}")))
    }

    /// Deletes one version (not the only one).
    pub fn delete_version(&self, path: &NasPath, num: VersionNum) -> EngineResult<()> {
        let id = self.file(path)?;
        self.inner
            .meta
            .delete_version(id, num)
            .map_err(|e| EngineError::from(e).at(&format!("{path} version {num}")))
    }

    /// The version that was current at `at_ns` (the newest created at or before it).
    pub fn version_at(&self, path: &NasPath, at_ns: i64) -> EngineResult<Option<VersionRecord>> {
        Ok(self
            .versions(path)?
            .into_iter()
            .rev()
            .find(|v| v.created_ns <= at_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_types::ContentHash;

    fn v(num: u64, created_ns: i64) -> VersionRecord {
        VersionRecord {
            node: NodeId(1),
            num: VersionNum(num),
            size: 1,
            mtime_ns: 0,
            created_ns,
            hash: ContentHash::of(b""),
            attrs: Default::default(),
        }
    }

    #[test]
    fn policy_rules() {
        let day = 86_400_000_000_000i64;
        let now = 100 * day;
        let vs: Vec<_> = (1..=5).map(|i| v(i, now - (6 - i as i64) * day)).collect();
        let none = RetentionPolicy::default();
        assert!(doomed(&none, &vs, now).is_empty());
        let last2 = RetentionPolicy {
            keep_last: Some(2),
            keep_within: None,
        };
        assert_eq!(
            doomed(&last2, &vs, now),
            vec![VersionNum(1), VersionNum(2), VersionNum(3)]
        );
        let within = RetentionPolicy {
            keep_last: None,
            keep_within: Some(Duration::from_secs(3 * 86_400 + 60)),
        };
        assert_eq!(
            doomed(&within, &vs, now),
            vec![VersionNum(1), VersionNum(2)]
        );
        let both = RetentionPolicy {
            keep_last: Some(4),
            keep_within: Some(Duration::from_secs(60)),
        };
        assert_eq!(doomed(&both, &vs, now), vec![VersionNum(1)]);
        let zero = RetentionPolicy {
            keep_last: Some(0),
            keep_within: None,
        };
        assert_eq!(
            doomed(&zero, &vs, now).len(),
            4,
            "the newest is always kept"
        );
    }
}
