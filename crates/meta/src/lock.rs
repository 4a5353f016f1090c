//! Object lock of one version (WORM): a retention (mode and date) and a legal hold, kept
//! in the version's row (schema 18). The database itself refuses to delete a version
//! while it is retained or held (a trigger), so no code path — door, worker or CLI — can
//! destroy one; the engine checks first to answer with a clear error and to skip such
//! versions in plans. The rules: `docs/design/versions-and-gc.md` ("Object lock").

/// How strict a retention is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionMode {
    /// May be shortened or removed, and the version deleted, by a caller allowed to bypass
    /// it (see the engine's `LockBypass`).
    Governance,
    /// Nobody can shorten or remove it, or delete the version, before its date.
    Compliance,
}

impl RetentionMode {
    /// The code stored in `versions.lock_mode`.
    pub fn code(self) -> i64 {
        match self {
            RetentionMode::Governance => 1,
            RetentionMode::Compliance => 2,
        }
    }

    /// The mode of a stored code.
    pub fn from_code(c: i64) -> Option<Self> {
        match c {
            1 => Some(RetentionMode::Governance),
            2 => Some(RetentionMode::Compliance),
            _ => None,
        }
    }
}

/// A retention: a mode and the moment until which the version is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Governance or compliance.
    pub mode: RetentionMode,
    /// Kept until this moment (nanoseconds since the Unix epoch).
    pub until_ns: i64,
}

/// The lock of one version: none by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectLock {
    /// A retention, if one was set (it may have passed).
    pub retention: Option<Retention>,
    /// A legal hold: kept, whatever the retention, until the hold is lifted.
    pub legal_hold: bool,
}

impl ObjectLock {
    /// The retention, if it still holds at `now_ns`.
    pub fn active_retention(&self, now_ns: i64) -> Option<Retention> {
        self.retention.filter(|r| r.until_ns > now_ns)
    }

    /// Whether the version may not be deleted at `now_ns`; `bypass_governance` lets a
    /// governance retention (not a compliance one, not a legal hold) be passed over.
    pub fn blocks_delete(&self, now_ns: i64, bypass_governance: bool) -> bool {
        if self.legal_hold {
            return true;
        }
        match self.active_retention(now_ns) {
            None => false,
            Some(r) => r.mode == RetentionMode::Compliance || !bypass_governance,
        }
    }

    /// Whether anything protects the version at `now_ns`.
    pub fn is_locked(&self, now_ns: i64) -> bool {
        self.blocks_delete(now_ns, false)
    }
}

impl ObjectLock {
    /// Whether the lock may be replaced by `new` at `now_ns`: a running compliance
    /// retention only by a compliance one at least as long; a running governance one by a
    /// retention at least as long (either mode), or by anything with `bypass_governance`.
    /// A legal hold may always be set or lifted. `Err` says why not.
    pub fn may_become(
        &self,
        new: &ObjectLock,
        now_ns: i64,
        bypass_governance: bool,
    ) -> Result<(), &'static str> {
        let Some(old) = self.active_retention(now_ns) else {
            return Ok(());
        };
        let kept = new.retention.is_some_and(|n| n.until_ns >= old.until_ns);
        match old.mode {
            RetentionMode::Compliance => {
                let still = new
                    .retention
                    .is_some_and(|n| n.mode == RetentionMode::Compliance);
                if kept && still {
                    Ok(())
                } else {
                    Err(
                        "a compliance retention can only be extended, never shortened or removed, until its date",
                    )
                }
            }
            RetentionMode::Governance if kept || bypass_governance => Ok(()),
            RetentionMode::Governance => Err(
                "a governance retention can be shortened or removed only with permission to bypass it",
            ),
        }
    }
}

/// One change of a version's lock: its retention or its legal hold (the other part
/// stays as it is, read and written in one transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockChange {
    /// Sets (or, with `None`, removes) the retention.
    Retention(Option<Retention>),
    /// Sets or lifts the legal hold.
    LegalHold(bool),
}

impl ObjectLock {
    /// This lock with `change` made.
    pub fn with(&self, change: LockChange) -> ObjectLock {
        match change {
            LockChange::Retention(retention) => ObjectLock { retention, ..*self },
            LockChange::LegalHold(legal_hold) => ObjectLock {
                legal_hold,
                ..*self
            },
        }
    }
}

/// SQL for "now" in nanoseconds, as the lock triggers compute it.
pub(crate) const SQL_NOW_NS: &str = "CAST(unixepoch('subsec') * 1000000000 AS INTEGER)";

/// The prefix of the message of the database's refusal (see [`crate::MetaError::Retained`]).
pub(crate) const RETAINED_PREFIX: &str = "retained:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compliance_blocks_even_with_bypass_until_its_date() {
        let l = ObjectLock {
            retention: Some(Retention {
                mode: RetentionMode::Compliance,
                until_ns: 100,
            }),
            legal_hold: false,
        };
        assert!(l.blocks_delete(99, true));
        assert!(!l.blocks_delete(100, false));
    }

    #[test]
    fn retentions_are_extended_freely_and_shortened_only_as_allowed() {
        let at = |mode, until_ns| ObjectLock {
            retention: Some(Retention { mode, until_ns }),
            legal_hold: false,
        };
        let comp = at(RetentionMode::Compliance, 100);
        let gov = at(RetentionMode::Governance, 100);
        assert!(
            comp.may_become(&at(RetentionMode::Compliance, 200), 0, false)
                .is_ok()
        );
        assert!(
            comp.may_become(&at(RetentionMode::Compliance, 50), 0, true)
                .is_err()
        );
        assert!(
            comp.may_become(&at(RetentionMode::Governance, 300), 0, true)
                .is_err()
        );
        assert!(comp.may_become(&ObjectLock::default(), 100, false).is_ok());
        assert!(
            gov.may_become(&at(RetentionMode::Compliance, 100), 0, false)
                .is_ok()
        );
        assert!(
            gov.may_become(&at(RetentionMode::Governance, 50), 0, false)
                .is_err()
        );
        assert!(gov.may_become(&ObjectLock::default(), 0, true).is_ok());
    }

    #[test]
    fn governance_gives_way_to_bypass_but_a_hold_does_not() {
        let mut l = ObjectLock {
            retention: Some(Retention {
                mode: RetentionMode::Governance,
                until_ns: 100,
            }),
            legal_hold: false,
        };
        assert!(l.blocks_delete(50, false));
        assert!(!l.blocks_delete(50, true));
        l.legal_hold = true;
        assert!(l.blocks_delete(500, true));
    }
}
