//! [`DbLs`]: dav-server's lock system on the engine's persisted lock table, one lock space
//! per user. Locks survive restarts, expire by their timeout (capped at 24 hours, so no
//! lock can outlive a crash by more than that), and can be listed and broken by an admin
//! (`silent-nas locks`). The conflict rules are RFC 4918's, as dav-server's in-memory
//! `MemLs` implements them, evaluated over the space's current locks.
//!
//! A `DbLs` is built for each request (`http_layer`) and reads the space's locks once for
//! it: a PROPFIND asks for every entry's locks, and on PostgreSQL (cluster mode, where no
//! "no lock exists" hint can be trusted) each ask was a round trip. Checks and discovery
//! answer from that one read; a change (LOCK, UNLOCK, a refresh, the locks of a deleted
//! path) reads the table afresh under the lock-change lock and drops what was read, so the
//! request's later checks see its own change. A change by another request meanwhile is seen
//! as if this one had run a moment earlier.

use dav_server::davpath::DavPath;
use dav_server::ls::{DavLock, DavLockSystem, LsFuture};
use nas_engine::{LockRecord, LockTable, now_ns};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use xmltree::Element;

/// Longest lock the server grants; a client asking for more (or infinite) gets this.
pub const MAX_LOCK_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The persisted lock space of one user, as one request sees it.
#[derive(Clone)]
pub struct DbLs {
    space: String,
    prefix: String,
    table: LockTable,
    /// The space's locks as this request read them (dav-server clones the lock system
    /// within a request: the clones share it). `None` until read, and after a change.
    seen: Arc<Mutex<Option<Arc<[Held]>>>>,
}

impl fmt::Debug for DbLs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbLs({})", self.space)
    }
}

impl DbLs {
    /// The lock space of `space` (a user name), for paths under `prefix`, for one request:
    /// its locks are read at most once, unless the request changes one.
    pub fn new(space: &str, prefix: &str, table: LockTable) -> Box<DbLs> {
        Box::new(DbLs {
            space: space.to_owned(),
            prefix: prefix.to_owned(),
            table,
            seen: Arc::default(),
        })
    }
}

/// Who asks, in a conflict check: the principal, the lock tokens the request submitted,
/// and whether shared locks are compatible with what it wants.
#[derive(Clone, Copy)]
struct Asker<'a> {
    principal: Option<&'a str>,
    ignore_principal: bool,
    tokens: &'a [String],
    shared_ok: bool,
}

/// A lock with its path split into segments.
struct Held {
    segs: Vec<String>,
    rec: LockRecord,
}

fn segs_of(path: &DavPath) -> Vec<String> {
    String::from_utf8_lossy(path.as_bytes())
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn key_of(segs: &[String]) -> String {
    format!("/{}", segs.join("/"))
}

fn is_prefix(a: &[String], b: &[String]) -> bool {
    a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Serializes a lock owner so that it parses back: dav-server hands over elements whose
/// prefix (`D:`) is not declared on the element itself, so the binding is added first.
fn owner_xml(o: &Element) -> Option<Vec<u8>> {
    let mut o = o.clone();
    if let (Some(prefix), Some(uri)) = (o.prefix.clone(), o.namespace.clone()) {
        let mut nss = o
            .namespaces
            .take()
            .unwrap_or_else(xmltree::Namespace::empty);
        nss.force_put(prefix, uri);
        o.namespaces = Some(nss);
    }
    let mut b = Vec::new();
    o.write(&mut b).ok().map(|_| b)
}

fn ns_to_time(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

impl DbLs {
    /// The space's locks as this request first read them.
    fn seen(&self) -> Arc<[Held]> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(locks) = &*seen {
            return locks.clone();
        }
        match self.load() {
            Ok(locks) => {
                let locks: Arc<[Held]> = locks.into();
                *seen = Some(locks.clone());
                locks
            }
            Err(e) => {
                tracing::error!("lock table: {e}");
                Arc::from([]) // not kept: the next check reads again
            }
        }
    }

    /// Forgets what was read: the request changed a lock.
    fn changed(&self) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The space's locks now, from the table (none when it cannot be read: logged).
    fn read(&self) -> Vec<Held> {
        self.load().unwrap_or_else(|e| {
            tracing::error!("lock table: {e}");
            Vec::new()
        })
    }

    fn load(&self) -> Result<Vec<Held>, nas_engine::EngineError> {
        let mut v: Vec<Held> = (self.table.list(Some(&self.space))?)
            .into_iter()
            .map(|rec| Held {
                segs: rec
                    .path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                rec,
            })
            .collect();
        v.sort_by_key(|h| h.segs.len()); // root to leaf, then oldest first (stable)
        Ok(v)
    }

    fn to_dav(&self, rec: &LockRecord) -> DavLock {
        let path = DavPath::new(&rec.href)
            .and_then(|mut p| p.set_prefix(&self.prefix).map(|_| p))
            .unwrap_or_else(|_| {
                DavPath::new("/").unwrap_or_else(|_| unreachable!("\"/\" is a valid path"))
            });
        DavLock {
            token: rec.token.clone(),
            path: Box::new(path),
            principal: rec.principal.clone(),
            owner: rec
                .owner
                .as_deref()
                .and_then(|b| Element::parse(b).ok())
                .map(Box::new),
            timeout_at: rec.expires_ns.map(ns_to_time),
            timeout: rec
                .timeout_ns
                .map(|n| Duration::from_nanos(n.max(0) as u64)),
            shared: rec.shared,
            deep: rec.deep,
        }
    }

    /// The answer to "does this token name a lock here?" when it does not.
    fn no_such_lock(&self, path: &DavPath) -> DavLock {
        DavLock {
            token: String::new(),
            path: Box::new(path.clone()),
            principal: None,
            owner: None,
            timeout_at: None,
            timeout: None,
            shared: false,
            deep: false,
        }
    }

    /// RFC 4918 conflicts on the way from the root to `segs`.
    fn check_to(&self, locks: &[Held], segs: &[String], who: &Asker<'_>) -> Result<(), DavLock> {
        let Asker {
            principal,
            ignore_principal,
            tokens,
            shared_ok,
        } = *who;
        let mut holds = false;
        let mut first: Option<&Held> = None;
        for h in locks.iter().filter(|h| is_prefix(&h.segs, segs)) {
            if h.segs.len() < segs.len() && !h.rec.deep {
                continue;
            }
            if tokens.contains(&h.rec.token)
                && (ignore_principal || principal == h.rec.principal.as_deref())
            {
                holds = true;
            } else {
                if !h.rec.shared {
                    return Err(self.to_dav(&h.rec));
                }
                if !shared_ok {
                    first.get_or_insert(h);
                }
            }
        }
        match first {
            Some(h) if !holds => Err(self.to_dav(&h.rec)),
            _ => Ok(()),
        }
    }

    /// Conflicts at `segs` and below.
    fn check_below(&self, locks: &[Held], segs: &[String], who: &Asker<'_>) -> Result<(), DavLock> {
        let Asker {
            principal,
            ignore_principal,
            tokens,
            shared_ok,
        } = *who;
        for h in locks.iter().filter(|h| is_prefix(segs, &h.segs)) {
            if (!h.rec.shared || !shared_ok)
                && (!tokens.contains(&h.rec.token)
                    || (!ignore_principal && principal != h.rec.principal.as_deref()))
            {
                return Err(self.to_dav(&h.rec));
            }
        }
        Ok(())
    }
}

impl DavLockSystem for DbLs {
    fn lock(
        &self,
        path: &DavPath,
        principal: Option<&str>,
        owner: Option<&Element>,
        timeout: Option<Duration>,
        shared: bool,
        deep: bool,
    ) -> LsFuture<'_, Result<DavLock, DavLock>> {
        let segs = segs_of(path);
        let href = path.with_prefix().as_url_string();
        let principal = principal.map(str::to_owned);
        let owner = owner.and_then(owner_xml);
        let timeout = Some(timeout.unwrap_or(MAX_LOCK_TIMEOUT).min(MAX_LOCK_TIMEOUT));
        let now = now_ns();
        let timeout_ns = timeout.map(|d| d.as_nanos() as i64);
        let rec = LockRecord {
            token: uuid::Uuid::new_v4().urn().to_string(),
            space: self.space.clone(),
            path: key_of(&segs),
            href,
            principal,
            owner,
            shared,
            deep,
            timeout_ns,
            expires_ns: timeout_ns.map(|t| now.saturating_add(t)),
            created_ns: now,
        };
        let res = self.table.exclusive(|| {
            let locks = self.read();
            let new_lock = Asker {
                principal: None,
                ignore_principal: true,
                tokens: &[],
                shared_ok: shared,
            };
            self.check_to(&locks, &segs, &new_lock)?;
            if deep {
                self.check_below(&locks, &segs, &new_lock)?;
            }
            self.changed();
            match self.table.insert(&rec) {
                Ok(()) => Ok(self.to_dav(&rec)),
                Err(e) => {
                    tracing::error!("lock table: {e}");
                    Err(self.to_dav(&rec))
                }
            }
        });
        // dav-server has no "unavailable" answer for LOCK: a lock that cannot be taken is
        // refused as if held (423), and logged
        let res = res.unwrap_or_else(|e| {
            tracing::error!("lock table: {e}");
            Err(self.to_dav(&rec))
        });
        Box::pin(async move { res })
    }

    fn unlock(&self, path: &DavPath, token: &str) -> LsFuture<'_, Result<(), ()>> {
        let segs = segs_of(path);
        let res = self.table.exclusive(|| {
            let locks = self.read();
            match locks
                .iter()
                .find(|h| h.rec.token == token && is_prefix(&h.segs, &segs))
            {
                Some(h) => {
                    self.changed();
                    self.table.remove(&h.rec.token).map(|_| ()).map_err(|_| ())
                }
                None => Err(()),
            }
        });
        let res = res.unwrap_or_else(|e| {
            tracing::error!("lock table: {e}");
            Err(())
        });
        Box::pin(async move { res })
    }

    fn refresh(
        &self,
        path: &DavPath,
        token: &str,
        timeout: Option<Duration>,
    ) -> LsFuture<'_, Result<DavLock, ()>> {
        let segs = segs_of(path);
        let res = self.table.exclusive(|| {
            let locks = self.read();
            let h = locks
                .iter()
                .find(|h| h.rec.token == token && is_prefix(&h.segs, &segs))
                .ok_or(())?;
            let t = timeout
                .unwrap_or(MAX_LOCK_TIMEOUT)
                .min(MAX_LOCK_TIMEOUT)
                .as_nanos() as i64;
            let expires = now_ns().saturating_add(t);
            self.changed();
            self.table
                .refresh(token, Some(t), Some(expires))
                .map_err(|_| ())?;
            let mut rec = h.rec.clone();
            rec.timeout_ns = Some(t);
            rec.expires_ns = Some(expires);
            Ok(self.to_dav(&rec))
        });
        let res = res.unwrap_or_else(|e| {
            tracing::error!("lock table: {e}");
            Err(())
        });
        Box::pin(async move { res })
    }

    fn check(
        &self,
        path: &DavPath,
        principal: Option<&str>,
        ignore_principal: bool,
        deep: bool,
        submitted_tokens: &[String],
    ) -> LsFuture<'_, Result<(), DavLock>> {
        let segs = segs_of(path);
        let locks = self.seen();
        if ignore_principal {
            // dav-server asks this (no principal, not deep) for one state token of an
            // `If:` header: RFC 4918 §10.4 makes the condition true only when the token
            // names a lock on the resource — on an unlocked one it is false (412).
            let found = locks.iter().find(|h| {
                submitted_tokens.contains(&h.rec.token)
                    && is_prefix(&h.segs, &segs)
                    && (h.segs.len() == segs.len() || h.rec.deep)
            });
            let res = match found {
                Some(_) => Ok(()),
                None => Err(self.no_such_lock(path)),
            };
            return Box::pin(async move { res });
        }
        let who = Asker {
            principal,
            ignore_principal,
            tokens: submitted_tokens,
            shared_ok: false,
        };
        let mut res = self.check_to(&locks, &segs, &who);
        if res.is_ok() && deep {
            res = self.check_below(&locks, &segs, &who);
        }
        Box::pin(async move { res })
    }

    fn discover(&self, path: &DavPath) -> LsFuture<'_, Vec<DavLock>> {
        let segs = segs_of(path);
        let found: Vec<DavLock> = self
            .seen()
            .iter()
            .filter(|h| is_prefix(&h.segs, &segs))
            .map(|h| self.to_dav(&h.rec))
            .collect();
        Box::pin(async move { found })
    }

    fn delete(&self, path: &DavPath) -> LsFuture<'_, Result<(), ()>> {
        let key = key_of(&segs_of(path));
        self.changed();
        let res = self.table.remove_below(&self.space, &key).map_err(|_| ());
        Box::pin(async move { res })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_round_trip_whatever_their_namespace_form() {
        for xml in [
            &br#"<D:owner xmlns:D="DAV:">litmus test suite</D:owner>"#[..],
            br#"<owner xmlns="DAV:"><href>mailto:x@y</href></owner>"#,
        ] {
            let mut e = Element::parse(xml).unwrap();
            e.prefix = Some("D".into()); // what dav-server hands over
            let back = Element::parse(&owner_xml(&e).unwrap()[..]).unwrap();
            assert_eq!(back.name, "owner");
            assert_eq!(back.namespace.as_deref(), Some("DAV:"));
        }
    }

    #[test]
    fn prefixes_and_keys() {
        let a = vec!["a".to_owned()];
        let ab = vec!["a".to_owned(), "b".to_owned()];
        assert!(is_prefix(&[], &ab) && is_prefix(&a, &ab) && !is_prefix(&ab, &a));
        assert_eq!(key_of(&ab), "/a/b");
        assert_eq!(key_of(&[]), "/");
    }
}
