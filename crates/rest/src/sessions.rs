//! Sign-in sessions of the REST door, persisted by the store's coordinator so that a
//! logout (a revoked session) survives a restart.
//!
//! Every token names a session id; a token is accepted only while its session exists.
//! Login adds a session, logout removes it, expired sessions are dropped whenever the
//! table is rewritten. The table is one small document, `rest-sessions.json`, replaced
//! whole and atomically ([`Coordinator::store_state`]; locally a file of mode 0600 written
//! to a temporary file, fsynced, renamed, the folder fsynced): after a crash it holds the
//! old or the new table, never a mix. See `docs/design/rest-sessions.md`.
//!
//! With one server the in-memory copy is the truth. When the coordinator is shared
//! (cluster mode: the table is a document in PostgreSQL that every node changes), a change
//! is a read-modify-write of the stored table under a cluster-wide keyed lock, and a check
//! re-reads the table when its stored version moved — on a miss at once (a sign-in on
//! another node), otherwise at most once per [`RECHECK`] (a logout on another node ends
//! the session here within that time). See `docs/design/coordination.md`.

use nas_engine::Coordinator;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// In cluster mode, how long a node trusts its copy of the table before it checks the
/// stored version again.
pub const RECHECK: Duration = Duration::from_secs(1);
/// The keyed lock scope of changes to the table (cluster mode).
const LOCK_SCOPE: &str = "rest-sessions";

/// Name of the session table (locally, its file inside the data directory).
pub const SESSIONS_FILE: &str = "rest-sessions.json";
const FORMAT: u32 = 1;
/// Sessions kept per user: a new sign-in beyond this ends the user's oldest session, so a
/// script that logs in on every run cannot grow the table without bound.
pub const MAX_PER_USER: usize = 100;

/// One session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Who signed in.
    pub user: String,
    /// When, Unix seconds.
    pub created: i64,
    /// When its refresh token stops working, Unix seconds.
    pub expires: i64,
    /// Fingerprint of the account's password hash and sessions epoch at sign-in: a
    /// password change, or disabling the account, ends the session.
    #[serde(default)]
    pub password: String,
    /// The generation of the one refresh token that is valid now (absent: 0). Each refresh
    /// raises it; a refresh token of an older generation is a replay and ends the session.
    #[serde(default)]
    pub refresh: u64,
}

/// What [`Sessions::rotate`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: the session's next generation (durable), and its end.
    Rotated {
        /// The new refresh generation.
        generation: u64,
        /// When the session expires, Unix seconds.
        expires: i64,
    },
    /// The token was an older generation: the session is ended (durable).
    Reused,
    /// No such live session.
    Gone,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    sessions: HashMap<String, Session>,
}

/// The session table: in memory, written through to disk on every change. Checks read
/// the in-memory table and never wait for a change's fsync.
pub struct Sessions {
    coord: Arc<dyn Coordinator>,
    table: RwLock<HashMap<String, Session>>,
    /// Serializes changes (read, write the file, swap) so none is lost.
    writer: Mutex<()>,
    /// Cluster mode: the stored version the copy in `table` was read at, and when it was
    /// last compared with the stored one.
    seen: Mutex<(Option<i64>, Instant)>,
}

fn decode(b: &[u8]) -> std::io::Result<HashMap<String, Session>> {
    let d: OnDisk = serde_json::from_slice(b).map_err(|e| {
        std::io::Error::other(format!("the session table {SESSIONS_FILE} is damaged: {e}"))
    })?;
    if d.format != FORMAT {
        return Err(std::io::Error::other(format!(
            "{SESSIONS_FILE}: unknown format {}",
            d.format
        )));
    }
    Ok(d.sessions)
}

impl Sessions {
    /// Loads the table kept by `coord` (empty when there is none yet).
    pub fn load(coord: Arc<dyn Coordinator>) -> std::io::Result<Sessions> {
        // the version first: the bytes read after it are at least as new
        let version = coord.state_version(SESSIONS_FILE)?;
        let table = match coord.load_state(SESSIONS_FILE)? {
            Some(b) => decode(&b)?,
            None => HashMap::new(),
        };
        Ok(Sessions {
            coord,
            table: RwLock::new(table),
            writer: Mutex::new(()),
            seen: Mutex::new((version, Instant::now())),
        })
    }

    /// Cluster mode: re-reads the stored table if its version moved since the copy was
    /// read — checked on a `miss`, or when the last check is older than [`RECHECK`]. A
    /// failed read keeps the copy (and is logged).
    fn recheck(&self, miss: bool) {
        if !self.coord.shared() {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if !miss && seen.1.elapsed() < RECHECK {
            return;
        }
        seen.1 = Instant::now();
        let fresh = (|| -> std::io::Result<()> {
            let version = self.coord.state_version(SESSIONS_FILE)?;
            if version == seen.0 {
                return Ok(());
            }
            let table = match self.coord.load_state(SESSIONS_FILE)? {
                Some(b) => decode(&b)?,
                None => HashMap::new(),
            };
            *self.table.write().unwrap_or_else(|p| p.into_inner()) = table;
            seen.0 = version;
            Ok(())
        })();
        if let Err(e) = fresh {
            tracing::warn!("session table: cannot re-read it: {e}");
        }
    }

    /// Sessions not expired at `now`.
    pub fn live(&self, now: i64) -> usize {
        let t = self.table.read().unwrap_or_else(|p| p.into_inner());
        t.values().filter(|s| s.expires > now).count()
    }

    /// The session `sid`, if it exists and has not expired at `now`.
    pub fn get(&self, sid: &str, now: i64) -> Option<Session> {
        let lookup = || {
            let t = self.table.read().unwrap_or_else(|p| p.into_inner());
            t.get(sid).filter(|s| s.expires > now).cloned()
        };
        if self.coord.shared() {
            let found = lookup();
            self.recheck(found.is_none());
        }
        lookup()
    }

    /// Adds a session (ending the user's oldest beyond [`MAX_PER_USER`]); durable when this
    /// returns. Blocking (fsync).
    pub fn insert(&self, sid: String, s: Session, now: i64) -> std::io::Result<()> {
        self.change(now, |t| {
            let user = s.user.clone();
            t.insert(sid, s);
            let mut mine: Vec<(i64, String)> = t
                .iter()
                .filter(|(_, x)| x.user == user)
                .map(|(id, x)| (x.created, id.clone()))
                .collect();
            if mine.len() > MAX_PER_USER {
                mine.sort();
                for (_, id) in &mine[..mine.len() - MAX_PER_USER] {
                    t.remove(id);
                }
            }
        })
    }

    /// Removes a session (logout); durable when this returns. Blocking (fsync).
    pub fn remove(&self, sid: &str, now: i64) -> std::io::Result<bool> {
        let mut found = false;
        self.change(now, |t| found = t.remove(sid).is_some())?;
        Ok(found)
    }

    /// Rotates the refresh token of `sid` presented at generation `generation`: if it is the
    /// current one the session moves to the next generation; an older one ends the session
    /// (a stolen refresh token used by two parties shows up here). Durable when this
    /// returns. Blocking (fsync).
    pub fn rotate(&self, sid: &str, generation: u64, now: i64) -> std::io::Result<Rotation> {
        let mut out = Rotation::Gone;
        let live = self.get(sid, now).is_some();
        if !live {
            return Ok(out);
        }
        self.change(now, |t| {
            let Some(s) = t.get_mut(sid) else { return };
            if s.refresh == generation {
                s.refresh += 1;
                out = Rotation::Rotated {
                    generation: s.refresh,
                    expires: s.expires,
                };
            } else {
                t.remove(sid);
                out = Rotation::Reused;
            }
        })?;
        Ok(out)
    }

    /// Removes every session of a user (the account was deleted).
    pub fn remove_user(&self, user: &str, now: i64) -> std::io::Result<()> {
        self.change(now, |t| t.retain(|_, s| s.user != user))
    }

    /// Applies `f`, drops expired sessions and writes the table; the in-memory table changes
    /// only once the file is durable.
    fn change(
        &self,
        now: i64,
        f: impl FnOnce(&mut HashMap<String, Session>),
    ) -> std::io::Result<()> {
        let _one_at_a_time = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let shared = self.coord.shared();
        let _everywhere = if shared {
            Some(
                self.coord
                    .lock_key(LOCK_SCOPE, "")
                    .map_err(std::io::Error::other)?,
            )
        } else {
            None
        };
        let mut next = if shared {
            // the stored table, as other nodes left it
            match self.coord.load_state(SESSIONS_FILE)? {
                Some(b) => decode(&b)?,
                None => HashMap::new(),
            }
        } else {
            self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
        };
        f(&mut next);
        next.retain(|_, s| s.expires > now);
        self.write(&next)?;
        let version = if shared {
            // no other node writes while the lock is held: this is our version
            self.coord.state_version(SESSIONS_FILE)?
        } else {
            None
        };
        *self.table.write().unwrap_or_else(|p| p.into_inner()) = next;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = (version, Instant::now());
        Ok(())
    }

    fn write(&self, sessions: &HashMap<String, Session>) -> std::io::Result<()> {
        let json = serde_json::to_vec(&OnDisk {
            format: FORMAT,
            sessions: sessions.clone(),
        })
        .map_err(std::io::Error::other)?;
        self.coord.store_state(SESSIONS_FILE, &json)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nas_engine::LocalCoordinator;

    fn load(dir: &std::path::Path) -> Sessions {
        Sessions::load(Arc::new(LocalCoordinator::unlocked(dir))).unwrap()
    }

    fn s(user: &str, expires: i64) -> Session {
        Session {
            user: user.into(),
            created: 0,
            expires,
            password: "00".into(),
            refresh: 0,
        }
    }

    #[test]
    fn sessions_persist_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let t = load(dir.path());
        t.insert("a".into(), s("alice", 100), 10).unwrap();
        t.insert("b".into(), s("bob", 100), 10).unwrap();
        t.insert("c".into(), s("alice", 20), 10).unwrap();
        assert!(t.remove("b", 10).unwrap());
        assert!(!t.remove("b", 10).unwrap());
        let again = load(dir.path());
        assert_eq!(again.get("a", 10), Some(s("alice", 100)));
        assert_eq!(again.get("b", 10), None, "a logout survives a reload");
        assert_eq!(again.get("c", 30), None, "expired");
        again.remove_user("alice", 10).unwrap();
        assert_eq!(load(dir.path()).get("a", 10), None);
    }

    #[test]
    fn refresh_generations_rotate_and_a_replay_ends_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let t = load(dir.path());
        t.insert("a".into(), s("alice", 100), 10).unwrap();
        assert_eq!(
            t.rotate("a", 0, 10).unwrap(),
            Rotation::Rotated {
                generation: 1,
                expires: 100
            }
        );
        let again = load(dir.path());
        assert_eq!(again.get("a", 10).unwrap().refresh, 1, "durable");
        assert_eq!(
            again.rotate("a", 1, 10).unwrap(),
            Rotation::Rotated {
                generation: 2,
                expires: 100
            }
        );
        assert_eq!(again.rotate("a", 1, 10).unwrap(), Rotation::Reused);
        assert_eq!(again.get("a", 10), None, "a replay ends the session");
        assert_eq!(again.rotate("a", 2, 10).unwrap(), Rotation::Gone);
        assert_eq!(load(dir.path()).get("a", 10), None);
    }

    #[test]
    fn a_user_keeps_at_most_max_per_user_sessions_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let t = load(dir.path());
        t.insert("bob".into(), s("bob", 1000), 0).unwrap();
        for i in 0..=MAX_PER_USER as i64 {
            let mut x = s("alice", 1000);
            x.created = i;
            t.insert(format!("a{i}"), x, 0).unwrap();
        }
        assert_eq!(t.get("a0", 0), None, "the oldest went");
        assert!(t.get("a1", 0).is_some());
        assert!(t.get(&format!("a{MAX_PER_USER}"), 0).is_some());
        assert!(t.get("bob", 0).is_some(), "other users keep theirs");
    }
}
