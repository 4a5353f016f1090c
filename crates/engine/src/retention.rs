//! Retention of old versions: a policy (keep the newest N versions of each file, keep the
//! versions younger than D days), which a user's account may override rule by rule
//! ([`UserRetention`], stored with the account), planned and then executed so a dry run
//! is free. A plan deletes version rows only; GC later frees the chunks nothing else uses.

use crate::error::{EngineError, EngineResult};
use crate::progress::{Progress, ProgressUnit, ignore};
use crate::store::Store;
use crate::time::now_ns;
use nas_meta::{UserRecord, VersionRecord};
use nas_types::{HomeId, NodeId, VersionNum};
use std::collections::HashMap;
use std::time::Duration;

/// Which old versions to keep. A version is kept when *any* rule keeps it; the newest
/// version is always kept. With no rule set, nothing is pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep the newest N versions of each file.
    pub keep_last: Option<usize>,
    /// Keep versions younger than this.
    pub keep_within: Option<Duration>,
}

impl RetentionPolicy {
    /// True when no rule is set: every version is kept.
    pub fn keeps_everything(&self) -> bool {
        self.keep_last.is_none() && self.keep_within.is_none()
    }
}

/// Longest age a user's `keep_days` may name (100 years).
pub const MAX_KEEP_DAYS: u32 = 36_500;
/// Most versions a user's `keep_versions` may name.
pub const MAX_KEEP_VERSIONS: u32 = 1_000_000;

/// A user's own retention rules, each overriding the server's rule of the same kind: `None`
/// follows the server, `Some(0)` turns the rule off for this user, `Some(n)` keeps the
/// newest `n` versions / the versions younger than `n` days. Both rules off (`Some(0)`,
/// `Some(0)`) keeps every version of the user's files whatever the server's policy.
///
/// ```
/// use nas_engine::{RetentionPolicy, UserRetention};
/// use std::time::Duration;
/// let server = RetentionPolicy { keep_last: Some(5), keep_within: None };
/// let days_only = UserRetention { keep_versions: Some(0), keep_days: Some(30) };
/// let p = days_only.apply(&server);
/// assert_eq!(p.keep_last, None);
/// assert_eq!(p.keep_within, Some(Duration::from_secs(30 * 86_400)));
/// let everything = UserRetention { keep_versions: Some(0), keep_days: Some(0) };
/// assert!(everything.apply(&server).keeps_everything());
/// assert_eq!(UserRetention::default().apply(&server), server);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserRetention {
    /// Keep the newest N versions of each file.
    pub keep_versions: Option<u32>,
    /// Keep versions younger than D days.
    pub keep_days: Option<u32>,
}

impl UserRetention {
    /// The overrides stored with an account.
    pub fn of(u: &UserRecord) -> UserRetention {
        UserRetention {
            keep_versions: u.keep_versions,
            keep_days: u.keep_days,
        }
    }

    /// Stores these overrides in an account record (after [`UserRetention::validate`]).
    pub fn store_in(&self, u: &mut UserRecord) {
        u.keep_versions = self.keep_versions;
        u.keep_days = self.keep_days;
    }

    /// `Invalid` when a value is out of range (at most [`MAX_KEEP_VERSIONS`] versions and
    /// [`MAX_KEEP_DAYS`] days).
    pub fn validate(&self) -> EngineResult<()> {
        if self.keep_versions.is_some_and(|n| n > MAX_KEEP_VERSIONS) {
            return Err(EngineError::InvalidArgument(format!(
                "keep_versions must be between 0 (no count rule) and {MAX_KEEP_VERSIONS}"
            )));
        }
        if self.keep_days.is_some_and(|n| n > MAX_KEEP_DAYS) {
            return Err(EngineError::InvalidArgument(format!(
                "keep_days must be between 0 (no age rule) and {MAX_KEEP_DAYS}"
            )));
        }
        Ok(())
    }

    /// The policy for this user's home: `server`'s rules with these overrides applied.
    pub fn apply(&self, server: &RetentionPolicy) -> RetentionPolicy {
        RetentionPolicy {
            keep_last: match self.keep_versions {
                None => server.keep_last,
                Some(0) => None,
                Some(n) => Some(n as usize),
            },
            keep_within: match self.keep_days {
                None => server.keep_within,
                Some(0) => None,
                Some(d) => Some(Duration::from_secs(u64::from(d) * 86_400)),
            },
        }
    }
}

/// Versions a retention run would delete.
#[derive(Debug, Clone, Default)]
pub struct RetentionPlan {
    /// `(file, path if live, version, size)` to delete.
    pub victims: Vec<(NodeId, Option<String>, VersionNum, u64)>,
    /// Versions the rules would delete but that are under object lock (a running
    /// retention or a legal hold): kept, and counted here.
    pub retained: usize,
}

impl RetentionPlan {
    /// Logical bytes of the versions in the plan.
    pub fn bytes(&self) -> u64 {
        self.victims.iter().map(|v| v.3).sum()
    }
}

fn doomed(policy: &RetentionPolicy, versions: &[VersionRecord], now: i64) -> Vec<VersionNum> {
    if policy.keeps_everything() {
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
    /// Plans a retention run applying `policy` to every file of every home (users'
    /// overrides are not consulted: `silent-nas prune --ignore-user-overrides`).
    pub fn retention_plan(&self, policy: &RetentionPolicy) -> EngineResult<RetentionPlan> {
        self.plan_retention(policy, &HashMap::new(), &mut ignore)
    }

    /// Plans a retention run in which each user's home follows that user's policy
    /// ([`UserRetention`] applied to `server`) and every other home (staging areas, homes
    /// of deleted users) follows `server`. `progress` hears of the files examined.
    pub fn retention_plan_by_user(
        &self,
        server: &RetentionPolicy,
        progress: &mut dyn FnMut(Progress),
    ) -> EngineResult<RetentionPlan> {
        let users: HashMap<String, RetentionPolicy> = self
            .inner
            .meta
            .users()?
            .iter()
            .map(|u| (u.name.clone(), UserRetention::of(u).apply(server)))
            .collect();
        let mut by_home = HashMap::new();
        for h in self.inner.meta.homes()? {
            if let Some(p) = users.get(&h.name) {
                by_home.insert(h.id, *p);
            }
        }
        self.plan_retention(server, &by_home, progress)
    }

    fn plan_retention(
        &self,
        default: &RetentionPolicy,
        by_home: &HashMap<HomeId, RetentionPolicy>,
        progress: &mut dyn FnMut(Progress),
    ) -> EngineResult<RetentionPlan> {
        let meta = &self.inner.meta;
        let mut plan = RetentionPlan::default();
        // only files with more versions than the smallest count any policy keeps can lose one
        let Some(floor) = std::iter::once(default)
            .chain(by_home.values())
            .filter(|p| !p.keeps_everything())
            .map(|p| p.keep_last.unwrap_or(1).max(1))
            .min()
        else {
            return Ok(plan);
        };
        let now = now_ns();
        let files = meta.files_with_versions_over(floor)?;
        let total = Some(files.len() as u64);
        progress(Progress::new(0, total, ProgressUnit::Files));
        for (i, (node, home)) in files.iter().enumerate() {
            let policy = by_home.get(home).unwrap_or(default);
            let versions = meta.versions(*node)?;
            let gone = doomed(policy, &versions, now);
            if !gone.is_empty() {
                let path = meta.node_path(*node)?;
                for v in versions.iter().filter(|v| gone.contains(&v.num)) {
                    if v.lock.is_locked(now) {
                        plan.retained += 1;
                    } else {
                        plan.victims.push((*node, path.clone(), v.num, v.size));
                    }
                }
            }
            progress(Progress::new(i as u64 + 1, total, ProgressUnit::Files));
        }
        Ok(plan)
    }

    /// Deletes the versions of a plan (skipping any that are already gone, or that came
    /// under object lock since the plan was made).
    pub fn retention_execute(&self, plan: &RetentionPlan) -> EngineResult<usize> {
        self.retention_execute_with(plan, &mut ignore)
    }

    /// [`Store::retention_execute`], telling `progress` how many of the plan's versions
    /// are done.
    pub fn retention_execute_with(
        &self,
        plan: &RetentionPlan,
        progress: &mut dyn FnMut(Progress),
    ) -> EngineResult<usize> {
        let total = Some(plan.victims.len() as u64);
        progress(Progress::new(0, total, ProgressUnit::Versions));
        let mut done = 0;
        for (i, (node, _, num, _)) in plan.victims.iter().enumerate() {
            match self.inner.meta.delete_version(*node, *num) {
                Ok(()) => done += 1,
                Err(
                    nas_meta::MetaError::NotFound(_)
                    | nas_meta::MetaError::Invalid(_)
                    | nas_meta::MetaError::Retained(_),
                ) => {}
                Err(e) => return Err(e.into()),
            }
            progress(Progress::new(i as u64 + 1, total, ProgressUnit::Versions));
        }
        Ok(done)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use nas_types::ContentHash;

    /// A version of node 1 written at `created_ns` (also used by `lifecycle`'s tests).
    pub(crate) fn v(num: u64, created_ns: i64) -> VersionRecord {
        VersionRecord {
            node: NodeId(1),
            num: VersionNum(num),
            size: 1,
            mtime_ns: 0,
            created_ns,
            hash: ContentHash::of(b""),
            attrs: Default::default(),
            author: None,
            lock: Default::default(),
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

    #[test]
    fn user_overrides_replace_one_rule_at_a_time() {
        let server = RetentionPolicy {
            keep_last: Some(5),
            keep_within: Some(Duration::from_secs(7 * 86_400)),
        };
        let u = |keep_versions, keep_days| UserRetention {
            keep_versions,
            keep_days,
        };
        assert_eq!(u(None, None).apply(&server), server);
        let more = u(Some(20), None).apply(&server);
        assert_eq!(more.keep_last, Some(20));
        assert_eq!(more.keep_within, server.keep_within);
        let count_only = u(None, Some(0)).apply(&server);
        assert_eq!(count_only.keep_last, Some(5));
        assert_eq!(count_only.keep_within, None);
        assert!(u(Some(0), Some(0)).apply(&server).keeps_everything());
        // a user may prune where the server keeps everything
        let own = u(Some(2), None).apply(&RetentionPolicy::default());
        assert_eq!(own.keep_last, Some(2));
        assert!(
            u(Some(MAX_KEEP_VERSIONS), Some(MAX_KEEP_DAYS))
                .validate()
                .is_ok()
        );
        assert!(u(Some(MAX_KEEP_VERSIONS + 1), None).validate().is_err());
        assert!(u(None, Some(MAX_KEEP_DAYS + 1)).validate().is_err());
    }
}
