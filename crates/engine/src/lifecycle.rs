//! Lifecycle rules of a home's top-level folder (an S3 bucket): expire current files after
//! N days (to the trash, as any delete), delete noncurrent versions N days after they
//! stopped being current (keeping the newest M of them), each rule for the files whose
//! path below the folder starts with its prefix. The rules are the folder's dead property
//! (namespace [`LIFECYCLE_NS`]); the `lifecycle` worker plans a run over every home's
//! top-level folders and executes it ([`Store::lifecycle_plan`], then
//! [`Store::lifecycle_execute`]). `abort_upload_days` is kept for the S3 door, whose
//! multipart uploads it governs (their staging is the door's).
//!
//! Files in the trash below the folder (deleted, or expired by a rule) count as having no
//! current version: noncurrent rules delete their versions, the newest counted from the
//! deletion, and a trash entry none of whose versions is kept is purged.
//!
//! A rule's "day" is the worker's `day` (one day, unless a test shortens it). Ages count
//! from a version's creation in the store (not its modification time, which WebDAV
//! clients may set): a file's current version from when it was written, a noncurrent
//! version from when the version after it was written.

use crate::error::{EngineError, EngineResult};
use crate::home::Home;
use crate::store::Store;
use nas_meta::{DeadProp, NodeKind, PropOp, VersionRecord};
use nas_types::{NasPath, TrashId, VersionNum};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Namespace of the dead property holding a folder's rules.
pub const LIFECYCLE_NS: &str = "urn:silent-nas:lifecycle";
const NAME: &str = "rules";

/// One rule. Days count in the worker's `day`; `None` disables that action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// The client's name for the rule.
    #[serde(default)]
    pub id: Option<String>,
    /// Applies to files whose path below the folder starts with this (empty: all).
    #[serde(default)]
    pub prefix: String,
    /// A disabled rule is kept but does nothing.
    pub enabled: bool,
    /// Current files older than this many days go to the trash.
    #[serde(default)]
    pub expire_days: Option<u32>,
    /// Noncurrent versions are deleted this many days after they stopped being current…
    #[serde(default)]
    pub noncurrent_days: Option<u32>,
    /// …except the newest this many noncurrent versions of each file.
    #[serde(default)]
    pub newer_noncurrent: Option<u32>,
    /// Unfinished S3 multipart uploads below the folder are removed after this many days
    /// (applied by the S3 door's upload worker).
    #[serde(default)]
    pub abort_upload_days: Option<u32>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Home {
    /// The lifecycle rules of the folder at `folder` (empty: none).
    pub fn lifecycle(&self, folder: &NasPath) -> EngineResult<Vec<LifecycleRule>> {
        let props = self.props(folder)?;
        let Some(p) = props
            .iter()
            .find(|p| p.ns == LIFECYCLE_NS && p.name == NAME)
        else {
            return Ok(Vec::new());
        };
        let xml = String::from_utf8_lossy(&p.value);
        let body = xml
            .split_once('>')
            .and_then(|(_, b)| b.rsplit_once('<'))
            .map(|(b, _)| unescape(b))
            .unwrap_or_default();
        serde_json::from_str(&body).map_err(|e| {
            EngineError::InvalidArgument(format!("the lifecycle rules of {folder}: {e}"))
        })
    }

    /// Replaces the lifecycle rules of the folder at `folder` (empty: removes them).
    pub fn set_lifecycle(&self, folder: &NasPath, rules: &[LifecycleRule]) -> EngineResult<()> {
        if self.stat(folder)?.kind != NodeKind::Dir {
            return Err(EngineError::NotADirectory(folder.to_string()));
        }
        let op = if rules.is_empty() {
            PropOp::Remove(LIFECYCLE_NS.into(), NAME.into())
        } else {
            let json = serde_json::to_string(rules)
                .map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
            PropOp::Set(DeadProp {
                ns: LIFECYCLE_NS.into(),
                prefix: "lc".into(),
                name: NAME.into(),
                value: format!(
                    "<lc:{NAME} xmlns:lc=\"{LIFECYCLE_NS}\">{}</lc:{NAME}>",
                    escape(&json)
                )
                .into_bytes(),
            })
        };
        self.patch_props(folder, &[op])
    }
}

/// What a lifecycle run would do.
#[derive(Debug, Clone, Default)]
pub struct LifecyclePlan {
    /// `(home, file, its current version)` to move to the trash.
    pub expire: Vec<(String, NasPath, VersionNum)>,
    /// `(home, file, version)` to delete for good.
    pub versions: Vec<(String, NasPath, VersionNum)>,
    /// `(home, trash entry, version)` of a deleted file to delete for good.
    pub trashed: Vec<(String, TrashId, VersionNum)>,
    /// `(home, trash entry)` of a deleted file none of whose versions is kept: purged.
    pub purge: Vec<(String, TrashId)>,
    /// Folders whose rules could not be read (skipped).
    pub problems: Vec<String>,
}

/// The versions (oldest first) that `rules` delete, and whether the file expires. A file in
/// the trash (`deleted_ns`) has no current version: its newest stopped being current when
/// it was deleted.
fn judge(
    rules: &[&LifecycleRule],
    versions: &[VersionRecord],
    deleted_ns: Option<i64>,
    day: Duration,
    now: i64,
) -> (bool, Vec<VersionNum>) {
    let older_than = |days: u32, since: i64| {
        let age = crate::time::duration_ns(day).saturating_mul(i64::from(days));
        now.saturating_sub(since) >= age
    };
    let Some(head) = versions.last() else {
        return (false, Vec::new());
    };
    let expire = deleted_ns.is_none()
        && rules
            .iter()
            .filter_map(|r| r.expire_days)
            .any(|d| older_than(d, head.created_ns));
    let mut gone = Vec::new();
    // noncurrent versions, newest first, each with when it stopped being current
    let n = versions.len();
    let noncurrent = if deleted_ns.is_some() { n } else { n - 1 };
    for (rank, i) in (0..noncurrent).rev().enumerate() {
        let since = match versions.get(i + 1) {
            Some(next) => next.created_ns,
            None => deleted_ns.unwrap_or(now),
        };
        let doomed = rules.iter().any(|r| {
            r.noncurrent_days.is_some_and(|d| {
                rank >= r.newer_noncurrent.unwrap_or(0) as usize && older_than(d, since)
            })
        });
        if doomed {
            gone.push(versions[i].num);
        }
    }
    gone.reverse();
    (expire, gone)
}

impl Store {
    /// Plans a lifecycle run: the rules of every home's top-level folders applied to the
    /// files below them, `day` long days, as of `now_ns`.
    pub fn lifecycle_plan(&self, day: Duration, now_ns: i64) -> EngineResult<LifecyclePlan> {
        let mut plan = LifecyclePlan::default();
        for name in self.homes()? {
            let home = self.home(&name)?;
            for folder in all_entries(&home, &NasPath::root())? {
                if folder.kind != NodeKind::Dir {
                    continue;
                }
                let rules = match home.lifecycle(&folder.path) {
                    Ok(r) => r,
                    Err(e) => {
                        plan.problems.push(e.to_string());
                        continue;
                    }
                };
                let rules: Vec<&LifecycleRule> = rules
                    .iter()
                    .filter(|r| {
                        r.enabled && (r.expire_days.is_some() || r.noncurrent_days.is_some())
                    })
                    .collect();
                if !rules.is_empty() {
                    plan_folder(&home, &name, &folder.path, &rules, day, now_ns, &mut plan)?;
                }
            }
        }
        Ok(plan)
    }

    /// Executes a plan: expired files go to the trash (unless written again since it was
    /// made), versions are deleted (those already gone, and those under object lock, are
    /// skipped: a locked version outlives every rule until its date). Returns how many
    /// files and versions went.
    pub fn lifecycle_execute(&self, plan: &LifecyclePlan) -> EngineResult<usize> {
        let mut done = 0;
        for (name, path, num) in &plan.versions {
            match self.home(name)?.delete_version(path, *num) {
                Ok(()) => done += 1,
                // gone meanwhile, the only version left, or under object lock
                Err(
                    EngineError::NotFound(_) | EngineError::Conflict(_) | EngineError::Retained(_),
                ) => {}
                Err(e) => return Err(e),
            }
        }
        for (name, id, num) in &plan.trashed {
            match self.home(name)?.trash_delete_version(*id, *num) {
                Ok(()) => done += 1,
                Err(
                    EngineError::NotFound(_) | EngineError::Conflict(_) | EngineError::Retained(_),
                ) => {}
                Err(e) => return Err(e),
            }
        }
        for (name, id) in &plan.purge {
            match self.home(name)?.trash_purge(*id) {
                Ok(()) => done += 1,
                Err(EngineError::NotFound(_) | EngineError::Retained(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for (name, path, num) in &plan.expire {
            let home = self.home(name)?;
            match home.stat(path) {
                Ok(e) if e.version == Some(*num) => {
                    home.delete(path)?;
                    done += 1;
                }
                Ok(_) | Err(EngineError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// Every entry of a folder.
fn all_entries(home: &Home, dir: &NasPath) -> EngineResult<Vec<crate::home::Entry>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = home.list(dir, after.as_deref(), 1000)?;
        out.extend(page.entries);
        match page.next_after {
            Some(a) => after = Some(a),
            None => return Ok(out),
        }
    }
}

fn plan_folder(
    home: &Home,
    name: &str,
    root: &NasPath,
    rules: &[&LifecycleRule],
    day: Duration,
    now: i64,
    plan: &mut LifecyclePlan,
) -> EngineResult<()> {
    let base = format!("{}/", root.as_str());
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in all_entries(home, &dir)? {
            if e.kind == NodeKind::Dir {
                stack.push(e.path);
                continue;
            }
            let rel = e.path.as_str().strip_prefix(&base).unwrap_or_default();
            let matching: Vec<&LifecycleRule> = rules
                .iter()
                .copied()
                .filter(|r| rel.starts_with(&r.prefix))
                .collect();
            if matching.is_empty() {
                continue;
            }
            let versions = match home.versions(&e.path) {
                Ok(v) => v,
                Err(EngineError::NotFound(_)) => continue, // deleted meanwhile
                Err(err) => return Err(err),
            };
            let (expire, gone) = judge(&matching, &versions, None, day, now);
            for num in gone {
                plan.versions.push((name.to_owned(), e.path.clone(), num));
            }
            if expire && let Some(head) = versions.last() {
                plan.expire
                    .push((name.to_owned(), e.path.clone(), head.num));
            }
        }
    }
    // deleted files below the folder: every version is noncurrent
    for t in home.trash_list()? {
        let Some(rel) = t.path.strip_prefix(&base) else {
            continue;
        };
        if t.kind != NodeKind::File {
            continue;
        }
        let matching: Vec<&LifecycleRule> = rules
            .iter()
            .copied()
            .filter(|r| rel.starts_with(&r.prefix) && r.noncurrent_days.is_some())
            .collect();
        if matching.is_empty() {
            continue;
        }
        let versions = match home.trash_versions(t.id) {
            Ok(v) => v,
            Err(EngineError::NotFound(_)) => continue, // purged meanwhile
            Err(err) => return Err(err),
        };
        let (_, gone) = judge(&matching, &versions, Some(t.deleted_ns), day, now);
        if gone.is_empty() {
            continue;
        }
        if gone.len() == versions.len() {
            plan.purge.push((name.to_owned(), t.id));
        } else {
            for num in gone {
                plan.trashed.push((name.to_owned(), t.id, num));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::tests::v;

    #[test]
    fn rules_judge_by_creation_and_noncurrent_age() {
        let day = Duration::from_secs(10);
        let d = 10_000_000_000i64;
        // versions written at days 0, 1, 2, 5; now is day 6
        let vs = [v(1, 0), v(2, d), v(3, 2 * d), v(4, 5 * d)];
        let now = 6 * d;
        let rule = |expire, nc, newer| LifecycleRule {
            enabled: true,
            expire_days: expire,
            noncurrent_days: nc,
            newer_noncurrent: newer,
            ..Default::default()
        };
        assert_eq!(
            judge(&[&rule(Some(1), None, None)], &vs, None, day, now),
            (true, vec![])
        );
        assert_eq!(
            judge(&[&rule(Some(2), None, None)], &vs, None, day, now),
            (false, vec![])
        );
        // noncurrent since days 1, 2, 5 (v1, v2, v3): 4 days or more: v1 and v2
        let four = rule(None, Some(4), None);
        assert_eq!(
            judge(&[&four], &vs, None, day, now),
            (false, vec![VersionNum(1), VersionNum(2)])
        );
        // keeping the newest 2 noncurrent versions: only v1
        let keep2 = rule(None, Some(1), Some(2));
        assert_eq!(
            judge(&[&keep2], &vs, None, day, now),
            (false, vec![VersionNum(1)])
        );
        // the current version is never a noncurrent one
        let zero = rule(None, Some(0), None);
        assert_eq!(judge(&[&zero], &vs, None, day, now).1.len(), 3);
        // deleted on day 5.5: every version is noncurrent, the newest since the delete;
        // a deleted file never expires again
        let deleted = Some(5 * d + d / 2);
        let one = rule(Some(1), None, None);
        assert_eq!(judge(&[&one], &vs, deleted, day, now), (false, vec![]));
        assert_eq!(judge(&[&zero], &vs, deleted, day, now).1.len(), 4);
        assert_eq!(
            judge(&[&four], &vs, deleted, day, now).1,
            vec![VersionNum(1), VersionNum(2)]
        );
        assert_eq!(judge(&[&keep2], &vs, deleted, day, now).1.len(), 2);
    }
}
