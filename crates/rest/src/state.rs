//! [`RestState`]: what every handler shares — the store, the authenticator (shared with
//! WebDAV, so failed sign-ins count against the same rate limits), the token signer and the
//! session table — and the token rules built on them: issue, check, refresh, revoke.

use crate::error::{RestError, RestResult};
use crate::sessions::{Rotation, Session, Sessions};
use crate::token::{Claims, Kind, Signer};
use crate::tus::UploadLocks;
use nas_auth::{Authenticator, Principal};
use nas_engine::Store;
use nas_engine::audit::AuditLog;
use nas_engine::workers::WorkerRunner;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Lifetime of an access token.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Lifetime of a session and its refresh token.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;

/// Shared state of the REST door. Cheap to clone.
#[derive(Clone)]
pub struct RestState {
    inner: Arc<Shared>,
    /// The server's background workers (`/admin/workers`), when given.
    workers: Option<Arc<WorkerRunner>>,
    /// The audit log (`/admin/audit`), when given.
    audit: Option<AuditLog>,
    /// This node's instance in the cluster's node registry (`/admin/nodes`), when given.
    node: Option<Arc<str>>,
}

struct Shared {
    store: Store,
    auth: Arc<Authenticator>,
    signer: Signer,
    sessions: Sessions,
    trusted_proxies: Vec<IpAddr>,
    tus_locks: UploadLocks,
    /// Age (seconds) after which an idle tus upload expires; 0 = never.
    upload_expiry_secs: AtomicU64,
}

/// Tokens handed out at sign-in.
pub struct Issued {
    /// Bearer token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
    /// When the refresh token (= its session) expires, Unix seconds.
    pub refresh_expires: i64,
}

/// A short fingerprint of an account's password hash and sessions epoch (the first 8
/// bytes of a SHA-256, in hex), kept with each session: a password change, or disabling the
/// account (which raises the epoch in the database), ends every session of the account.
/// Epoch 0 hashes the password hash alone, as before epochs existed. It cannot be used to
/// sign in or to test passwords (it hashes a salted argon2 hash).
fn password_mark(phc: &str, epoch: u64) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(phc.as_bytes());
    if epoch != 0 {
        h.update(format!("\0epoch {epoch}").as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    nas_engine::now_ns() / 1_000_000_000
}

/// Runs blocking work (argon2, fsync, engine calls) on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> RestResult<T> + Send + 'static,
) -> RestResult<T> {
    tokio::task::spawn_blocking(f).await?
}

fn new_sid() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    hex::encode(b)
}

impl RestState {
    /// State over a store and the server's authenticator. Loads (or on first start
    /// creates) the signing secret and the session table, kept by the store's coordinator.
    /// `trusted_proxies` are peers whose `X-Forwarded-For` names the real client.
    pub fn new(
        store: Store,
        auth: Arc<Authenticator>,
        trusted_proxies: Vec<IpAddr>,
    ) -> std::io::Result<RestState> {
        let signer = Signer::load_or_create(store.coordinator().as_ref())?;
        let sessions = Sessions::load(store.coordinator().clone())?;
        let tus_locks = store.keyed_locks("tus-uploads");
        Ok(RestState {
            inner: Arc::new(Shared {
                store,
                auth,
                signer,
                sessions,
                trusted_proxies,
                tus_locks,
                upload_expiry_secs: AtomicU64::new(0),
            }),
            workers: None,
            audit: None,
            node: None,
        })
    }

    /// Gives the admin routes the server's background workers (listed and started at
    /// `/api/v1/admin/workers`).
    pub fn with_workers(mut self, workers: Arc<WorkerRunner>) -> RestState {
        self.workers = Some(workers);
        self
    }

    /// Tells the admin routes which instance of the node registry this server is
    /// (`this_node` at `/api/v1/admin/nodes`).
    pub fn with_node_instance(mut self, instance: &str) -> RestState {
        self.node = Some(instance.into());
        self
    }

    /// This server's instance in the node registry, when given.
    pub(crate) fn node_instance(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// Gives the admin routes the audit log (read at `/api/v1/admin/audit`).
    pub fn with_audit(mut self, audit: AuditLog) -> RestState {
        self.audit = Some(audit);
        self
    }

    /// The background workers, if the server gave them.
    pub fn workers(&self) -> Option<&Arc<WorkerRunner>> {
        self.workers.as_ref()
    }

    /// The audit log, if the server gave it.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Sets the age after which an idle tus upload expires (`None`: never), as announced
    /// in `Upload-Expires`; the server's `tus_uploads` worker does the removing.
    pub fn with_upload_expiry(self, age: Option<Duration>) -> RestState {
        let secs = age.map_or(0, |d| d.as_secs().max(1));
        self.inner.upload_expiry_secs.store(secs, Ordering::Relaxed);
        self
    }

    /// The age after which an idle tus upload expires.
    pub fn upload_expiry(&self) -> Option<Duration> {
        match self.inner.upload_expiry_secs.load(Ordering::Relaxed) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        }
    }

    /// The locks serializing completion, termination and expiry of each tus upload.
    pub fn tus_locks(&self) -> &UploadLocks {
        &self.inner.tus_locks
    }

    /// Signed-in sessions not expired now (for the metrics).
    pub fn active_sessions(&self) -> usize {
        self.inner.sessions.live(now_secs())
    }

    /// Removes tus uploads idle for longer than `age` (for the server's worker). Blocking.
    pub fn expire_uploads(&self, age: Duration) -> Result<usize, nas_engine::EngineError> {
        crate::tus::expire_uploads(&self.inner.store, age, &self.inner.tus_locks)
    }

    /// The client's address: the peer, or what a trusted proxy says it forwarded for.
    pub fn client_ip(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        nas_auth::client_address(peer, forwarded, &self.inner.trusted_proxies)
    }

    /// Checks a password, throttled like every door (a delay is awaited, not slept on a
    /// thread); argon2 runs on the blocking pool unless these credentials were verified
    /// moments ago.
    pub async fn verify_password(
        &self,
        user: String,
        pass: String,
        ip: IpAddr,
    ) -> RestResult<Principal> {
        Ok(self.inner.auth.sign_in(user, pass, ip).await?)
    }

    /// Signs in with an app password sent as a Bearer token (one indexed lookup, no argon2;
    /// refused from a refused address, and a miss counts against `ip`).
    pub fn verify_app_token(&self, token: &str, ip: IpAddr) -> RestResult<Principal> {
        self.inner
            .auth
            .verify_app_token(token, ip)
            .map_err(|e| match e {
                nas_auth::AuthError::Backend(e) => RestError::Engine(e),
                nas_auth::AuthError::RateLimited(d) => RestError::RateLimited(d),
                _ => RestError::Unauthorized("unknown or deleted app password"),
            })
    }

    /// The current account of `name`, if it exists and is enabled.
    /// Also returns the fingerprint of its password hash (see [`password_mark`]).
    fn principal(&self, name: &str) -> RestResult<(Principal, String)> {
        let u = self
            .inner
            .auth
            .accounts()
            .get(name)?
            .filter(|u| !u.disabled)
            .ok_or(RestError::Unauthorized("the account is gone or disabled"))?;
        let mark = password_mark(&u.password, u.sessions_epoch);
        Ok((Principal::of(u), mark))
    }

    /// Checks a token of the wanted kind: signature, expiry, live session, enabled account.
    /// Returns the account and the session id.
    pub fn check_token(&self, token: &str, want: Kind) -> RestResult<(Principal, String)> {
        self.check_claims(token, want).map(|(who, c)| (who, c.sid))
    }

    /// [`check_token`](Self::check_token), returning the token's claims.
    fn check_claims(&self, token: &str, want: Kind) -> RestResult<(Principal, Claims)> {
        let now = now_secs();
        let c = self.inner.signer.verify(token, now)?;
        if c.kind != want {
            return Err(RestError::Unauthorized(match want {
                Kind::Access => "a refresh token can only be used at /api/v1/auth/refresh",
                Kind::Refresh => "an access token cannot be used to refresh",
                Kind::Browser => "not a browser session's token",
            }));
        }
        let session = match self.inner.sessions.get(&c.sid, now) {
            Some(s) if s.user == c.sub => s,
            _ => {
                return Err(RestError::Unauthorized(
                    "the session has ended (signed out)",
                ));
            }
        };
        let (who, mark) = self.principal(&c.sub)?;
        if session.password != mark {
            return Err(RestError::Unauthorized(
                "the password changed or the account was disabled since this session began: sign in again",
            ));
        }
        Ok((who, c))
    }

    fn sign(&self, kind: Kind, user: &str, sid: &str, now: i64, exp: i64) -> RestResult<String> {
        self.sign_gen(kind, user, sid, now, exp, 0)
    }

    fn sign_gen(
        &self,
        kind: Kind,
        user: &str,
        sid: &str,
        now: i64,
        exp: i64,
        generation: u64,
    ) -> RestResult<String> {
        self.inner.signer.sign(&Claims {
            kind,
            sub: user.to_owned(),
            sid: sid.to_owned(),
            iat: now,
            exp,
            generation,
        })
    }

    /// Opens a session for a verified user and issues its two tokens. Blocking (fsync).
    pub fn open_session(&self, user: &str) -> RestResult<Issued> {
        let (sid, now, expires) = self.new_session(user)?;
        Ok(Issued {
            access: self.sign(Kind::Access, user, &sid, now, now + ACCESS_TTL_SECS)?,
            refresh: self.sign(Kind::Refresh, user, &sid, now, expires)?,
            refresh_expires: expires,
        })
    }

    /// Opens a browser (cookie) session for a verified user: its one token, of kind
    /// `browser`, lives as long as the session. Returns the token and the session id.
    /// Blocking (fsync).
    pub fn open_browser_session(&self, user: &str) -> RestResult<(String, String)> {
        let (sid, now, expires) = self.new_session(user)?;
        Ok((self.sign(Kind::Browser, user, &sid, now, expires)?, sid))
    }

    /// The CSRF token of a session: derived from its id and the install's secret, so it
    /// cannot be guessed or planted, and ends with the session.
    pub fn csrf_token(&self, sid: &str) -> RestResult<String> {
        self.inner.signer.derive("csrf", sid)
    }

    /// Whether `peer` is a trusted proxy (whose `X-Forwarded-*` headers are believed).
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.inner.trusted_proxies.contains(&peer)
    }

    /// Adds a session for `user`: (its id, now, its end). Blocking (fsync).
    fn new_session(&self, user: &str) -> RestResult<(String, i64, i64)> {
        let (_, password) = self.principal(user)?;
        let now = now_secs();
        let sid = new_sid();
        let expires = now + REFRESH_TTL_SECS;
        self.inner
            .sessions
            .insert(
                sid.clone(),
                Session {
                    user: user.to_owned(),
                    created: now,
                    expires,
                    password,
                    refresh: 0,
                },
                now,
            )
            .map_err(|e| RestError::Internal(format!("session table: {e}")))?;
        Ok((sid, now, expires))
    }

    /// Trades a refresh token (whose session must still exist) for a new access token and
    /// a new refresh token, and says whom they are for. The refresh token presented is
    /// spent: presenting it again ends the whole session (OAuth 2.1 / RFC 9700 §4.14
    /// reuse detection), so a stolen one works at most until its owner refreshes.
    /// Blocking (fsync).
    pub fn refresh(&self, refresh_token: &str) -> RestResult<(Issued, String)> {
        let (who, c) = self.check_claims(refresh_token, Kind::Refresh)?;
        let now = now_secs();
        let rotation = self
            .inner
            .sessions
            .rotate(&c.sid, c.generation, now)
            .map_err(|e| RestError::Internal(format!("session table: {e}")))?;
        let (generation, session_end) = match rotation {
            Rotation::Rotated {
                generation,
                expires,
            } => (generation, expires),
            Rotation::Reused => {
                tracing::warn!(user = %who.name, "a spent refresh token was presented again: its session is ended");
                return Err(RestError::Unauthorized(
                    "this refresh token was already used: the session is ended, sign in again",
                ));
            }
            Rotation::Gone => {
                return Err(RestError::Unauthorized(
                    "the session has ended (signed out)",
                ));
            }
        };
        let exp = (now + ACCESS_TTL_SECS).min(session_end);
        let issued = Issued {
            access: self.sign(Kind::Access, &who.name, &c.sid, now, exp)?,
            refresh: self.sign_gen(
                Kind::Refresh,
                &who.name,
                &c.sid,
                now,
                session_end,
                generation,
            )?,
            refresh_expires: session_end,
        };
        Ok((issued, who.name))
    }

    /// Ends a session: its access and refresh tokens stop working, also after a restart.
    /// Blocking (fsync).
    pub fn close_session(&self, sid: &str) -> RestResult<()> {
        self.inner
            .sessions
            .remove(sid, now_secs())
            .map(|_| ())
            .map_err(|e| RestError::Internal(format!("session table: {e}")))
    }

    /// Ends every session of a user (the account was deleted). Blocking (fsync).
    pub fn close_sessions_of(&self, user: &str) -> RestResult<()> {
        self.inner
            .sessions
            .remove_user(user, now_secs())
            .map_err(|e| RestError::Internal(format!("session table: {e}")))
    }

    /// The accounts (for the admin routes).
    pub fn accounts(&self) -> &nas_engine::Accounts {
        self.inner.auth.accounts()
    }
}
