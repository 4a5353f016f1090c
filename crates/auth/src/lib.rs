//! Users and sign-in for every door of Silent-NAS: password hashing (argon2id), roles,
//! quotas, throttled verification (per client address and per (address, user), see
//! [`RateLimiter`]), the client address behind trusted proxies ([`client_address`]), and
//! the credentials a user may hold (app passwords, S3 keys; bounded in number, read-only
//! for a read-only account). Knows nothing of HTTP: a door extracts a name and a password
//! and asks [`Authenticator::sign_in`] (async) or [`Authenticator::verify`] (blocking).
//!
//! ```
//! use nas_auth::{Authenticator, Role, add_user};
//! let dir = tempfile::tempdir().unwrap();
//! let store = nas_engine::Store::open(dir.path(), Default::default()).unwrap();
//! add_user(&store.accounts(), "alice", "correct horse", Role::User, None).unwrap();
//! let auth = Authenticator::new(store.accounts());
//! let who = auth.verify("alice", "correct horse", "127.0.0.1".parse().unwrap()).unwrap();
//! assert_eq!(who.role, Role::User);
//! assert!(auth.verify("alice", "wrong", "127.0.0.1".parse().unwrap()).is_err());
//! ```

mod apps;
mod limiter;
mod password;

pub use apps::{
    APP_PASSWORD_PREFIX, MAX_APP_NAME, MAX_APP_PASSWORDS, create_app_password,
    looks_like_app_password,
};
pub use limiter::{Limits, RateLimiter, Throttle};
pub use password::{generate_password, hash_password, verify_password};

use nas_engine::{Accounts, EngineError, UserRecord};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, plus administration.
    Admin,
    /// Read and write their own home.
    User,
    /// Read their own home.
    ReadOnly,
}

impl Role {
    /// Parses `admin`, `user`, `readonly`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            "readonly" => Some(Role::ReadOnly),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::ReadOnly => "readonly",
        }
    }

    /// Whether this role may change files.
    pub fn can_write(&self) -> bool {
        !matches!(self, Role::ReadOnly)
    }
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name (= home name).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Byte quota, if any.
    pub quota: Option<u64>,
    /// The id of the app password this sign-in used (`None`: the account password, or an
    /// S3 key). Such a principal may not open sessions or create credentials.
    pub app_password: Option<String>,
}

impl Principal {
    /// The account `u` signed in with its own password (or an S3 key): its role (an
    /// unknown stored role reads as `readonly`), quota and name.
    pub fn of(u: UserRecord) -> Principal {
        Principal {
            role: Role::parse(&u.role).unwrap_or(Role::ReadOnly),
            quota: u.quota,
            name: u.name,
            app_password: None,
        }
    }
}

/// Why a sign-in failed. Doors answer all of these alike (no user enumeration), except
/// `RateLimited` (429) and `Backend` (500).
#[derive(Debug, Error)]
pub enum AuthError {
    /// Unknown user, wrong password or disabled account.
    #[error("invalid credentials")]
    Invalid,
    /// Too many failures from this client address (for this user, or for any).
    #[error("too many failed sign-ins; retry in {0:?}")]
    RateLimited(Duration),
    /// A user name that cannot exist.
    #[error("invalid user name {0:?}")]
    BadName(String),
    /// A name for a credential (app password, access key) that cannot be stored.
    #[error("a name is 1 to 100 characters, without control characters")]
    BadCredentialName,
    /// The user holds as many credentials of this kind as allowed.
    #[error("{0}")]
    TooMany(&'static str),
    /// The store failed.
    #[error(transparent)]
    Backend(#[from] EngineError),
}

/// The client of a request: `peer` itself, unless `peer` is a trusted proxy; then the
/// right-most address of `X-Forwarded-For` (all its header lines, in order) that is not a
/// trusted proxy. Proxies append the address they received from, so everything left of
/// that is whatever the client chose to send and is never believed; an entry that is not
/// an address stops the walk (the last trusted hop is the answer).
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => break,
        }
    }
    client
}

/// Checks a user name: 1–64 of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Creates a user with a hashed password.
pub fn add_user(
    accounts: &Accounts,
    name: &str,
    password: &str,
    role: Role,
    quota: Option<u64>,
) -> Result<(), AuthError> {
    if !valid_name(name) {
        return Err(AuthError::BadName(name.to_owned()));
    }
    let rec = UserRecord {
        name: name.to_owned(),
        password: hash_password(password),
        role: role.as_str().to_owned(),
        quota,
        disabled: false,
        created_ns: nas_engine::now_ns(),
        keep_versions: None,
        keep_days: None,
        sessions_epoch: 0,
    };
    Ok(accounts.create(&rec)?)
}

/// Creates an S3 access key pair for an existing user: `(access key id, secret)`.
pub fn create_key(accounts: &Accounts, user: &str) -> Result<(String, String), AuthError> {
    create_named_key(accounts, user, None, false).map(|k| (k.access_key, k.secret))
}

/// [`create_key`] with a name the owner gives it (e.g. "laptop restic"; trimmed, empty is
/// none), read-only if asked (requests signed with it get the `readonly` role whatever
/// the owner's) — and always read-only when the owner's role is `readonly`, whatever was
/// asked: the stored record, secret included.
pub fn create_named_key(
    accounts: &Accounts,
    user: &str,
    name: Option<&str>,
    read_only: bool,
) -> Result<nas_engine::KeyRecord, AuthError> {
    let name = name.map(apps::credential_name).transpose()?.flatten();
    let Some(owner) = accounts.get(user)? else {
        return Err(AuthError::Invalid);
    };
    let read_only = read_only || !Principal::of(owner).role.can_write();
    let keys = accounts.keys(Some(user))?;
    if keys.iter().filter(|k| !k.revoked).count() >= MAX_KEYS || keys.len() >= MAX_KEYS_EVER {
        return Err(AuthError::TooMany(
            "a user holds at most 100 S3 keys (1000 counting revoked ones): revoke one first",
        ));
    }
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let key = nas_engine::KeyRecord {
        access_key: format!("SN{}", password::random_string(UPPER, 18)),
        secret: generate_password() + &generate_password()[..16],
        user: user.to_owned(),
        created_ns: nas_engine::now_ns(),
        revoked: false,
        name,
        read_only,
    };
    accounts.create_key(&key)?;
    Ok(key)
}

/// Live (not revoked) S3 keys a user may hold.
pub const MAX_KEYS: usize = 100;
/// S3 keys a user may have had, revoked ones included (revoked keys stay listed): the
/// table cannot grow without bound by creating and revoking in a loop.
pub const MAX_KEYS_EVER: usize = 1000;

/// The user a valid (not revoked, owner enabled) access key belongs to, with its secret;
/// a read-only key's principal has the `readonly` role.
pub fn key_owner(accounts: &Accounts, access_key: &str) -> Result<(Principal, String), AuthError> {
    let k = accounts
        .key(access_key)?
        .filter(|k| !k.revoked)
        .ok_or(AuthError::Invalid)?;
    let u = accounts
        .get(&k.user)?
        .filter(|u| !u.disabled)
        .ok_or(AuthError::Invalid)?;
    let mut who = Principal::of(u);
    if k.read_only {
        who.role = Role::ReadOnly;
    }
    Ok((who, k.secret))
}

const CACHE_TTL: Duration = Duration::from_secs(300);

/// (user name, BLAKE3 of the password): never the password itself.
type CacheKey = (String, [u8; 32]);

fn cache_key(name: &str, password: &str) -> CacheKey {
    (
        name.to_owned(),
        *blake3::hash(password.as_bytes()).as_bytes(),
    )
}

/// Verifies credentials. Argon2 is deliberately slow (~tens of ms), so a successful
/// verification is remembered for a few minutes, keyed by user, a hash of the password and
/// the stored hash — a password change or a disabled account takes effect at the next
/// request (on a cluster node that caches users' records, when the change reaches it:
/// `nas_engine`'s user cache). Failures are throttled per client address and per (address, user) pair
/// ([`RateLimiter`]): a client that has not failed is never slowed or refused.
pub struct Authenticator {
    accounts: Accounts,
    verified: Mutex<HashMap<CacheKey, (String, Instant)>>,
    limiter: Arc<RateLimiter>,
    /// When each app password's use was last written (see `app_password`).
    touched: Mutex<HashMap<String, Instant>>,
    /// Sign-ins in flight, one gate per credentials: a burst of requests with the same
    /// name and password (a client opening many connections at once) waits for the first
    /// verification and takes its result from the cache. Without it each ran argon2, and
    /// each counted as a failure until it succeeded, so the burst was refused with 429.
    inflight: Mutex<HashMap<CacheKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl Authenticator {
    /// An authenticator over `accounts` with the default [`Limits`].
    pub fn new(accounts: Accounts) -> Self {
        Authenticator::with_limits(accounts, Limits::default())
    }

    /// An authenticator over `accounts` throttling failures by `limits`.
    pub fn with_limits(accounts: Accounts, limits: Limits) -> Self {
        Authenticator {
            accounts,
            verified: Mutex::new(HashMap::new()),
            limiter: Arc::new(RateLimiter::new(limits)),
            touched: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// This authenticator with failed sign-ins counted in `counts`, shared by every node
    /// of a cluster ([`nas_engine::Coordinator::failure_counts`]): a client spreading its
    /// guesses over the nodes is throttled as if it sent them all to one.
    pub fn sharing_failures(mut self, counts: Arc<dyn nas_engine::FailureCounts>) -> Self {
        let limits = self.limiter.limits();
        self.limiter = Arc::new(RateLimiter::new(limits).sharing(counts, "sign-in"));
        self
    }

    /// The accounts it reads.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The fast path of [`verify`](Self::verify): answers without argon2 when these exact
    /// credentials were verified recently against the user's current hash, so async code can
    /// call it inline; `None` means "run `verify` on a blocking thread".
    pub fn verify_cached(&self, name: &str, password: &str, client: IpAddr) -> Option<Principal> {
        let name = strip_domain(name);
        if self.limiter.check(name, client) != Throttle::Allow {
            return None; // a delay or a refusal: `sign_in` applies it
        }
        if let Ok(Some(p)) = self.app_password(Some(name), password) {
            return Some(p);
        }
        let user = self.accounts.get(name).ok()??;
        if user.disabled {
            return None;
        }
        let key = cache_key(name, password);
        let hit = self
            .verified
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
            .is_some_and(|(phc, at)| phc == user.password && at.elapsed() < CACHE_TTL);
        hit.then(|| Principal::of(user))
    }

    /// Verifies `name`/`password` from `client`, throttled (see [`RateLimiter`]): a delay
    /// is slept on this thread. A Windows-style `DOMAIN\user` name is accepted as `user`.
    /// Blocking (argon2): async code calls [`sign_in`](Self::sign_in) instead.
    pub fn verify(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Principal, AuthError> {
        match self.limiter.attempt(strip_domain(name), client) {
            Throttle::Refuse(d) => return Err(AuthError::RateLimited(d)),
            Throttle::Delay(d) => std::thread::sleep(d),
            Throttle::Allow => {}
        }
        self.verify_now(name, password, client)
    }

    /// [`verify`](Self::verify) for async code: a delay is awaited (no thread is held
    /// while waiting), argon2 runs on the blocking pool unless these credentials were
    /// verified moments ago. Every door that takes a password calls this.
    pub async fn sign_in(
        self: &Arc<Self>,
        name: String,
        password: String,
        client: IpAddr,
    ) -> Result<Principal, AuthError> {
        // the fast path checks the throttle itself (and answers only when it allows)
        if let Some(p) = self.verify_cached(&name, &password, client) {
            return Ok(p);
        }
        let key = cache_key(strip_domain(&name), &password);
        let gate = match self.inflight.lock() {
            Ok(mut m) => m.entry(key.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let turn = gate.lock().await;
        let result = self.sign_in_now(name, password, client).await;
        drop(turn);
        if let Ok(mut m) = self.inflight.lock()
            && Arc::strong_count(&gate) == 2
        {
            m.remove(&key); // nobody else waits at this gate (the map and `gate` hold it)
        }
        result
    }

    /// [`sign_in`](Self::sign_in) once its gate is passed: a verification that finished
    /// meanwhile is in the cache.
    async fn sign_in_now(
        self: &Arc<Self>,
        name: String,
        password: String,
        client: IpAddr,
    ) -> Result<Principal, AuthError> {
        if let Some(p) = self.verify_cached(&name, &password, client) {
            return Ok(p);
        }
        match self
            .limiter
            .attempt_async(strip_domain(&name), client)
            .await
        {
            Throttle::Refuse(d) => return Err(AuthError::RateLimited(d)),
            Throttle::Delay(d) => tokio::time::sleep(d).await,
            Throttle::Allow => {}
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.verify_now(&name, &password, client))
            .await
            .map_err(|e| AuthError::Backend(EngineError::Io(std::io::Error::other(e))))?
    }

    /// Verifies without consulting the throttle: the caller's `attempt` counted it as a
    /// failure already, and a success gives that back.
    fn verify_now(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Principal, AuthError> {
        let name = strip_domain(name);
        if let Some(p) = self.app_password(Some(name), password)? {
            self.limiter.succeed(name, client);
            return Ok(p);
        }
        let user = match self.accounts.get(name)? {
            Some(u) if !u.disabled => u,
            _ => {
                // same cost as a real check, so timing does not reveal which names exist
                let _ = verify_password(password, dummy_hash());
                return Err(AuthError::Invalid);
            }
        };
        let key = cache_key(name, password);
        let cached = self
            .verified
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
            .is_some_and(|(phc, at)| phc == user.password && at.elapsed() < CACHE_TTL);
        if !cached {
            if !verify_password(password, &user.password) {
                return Err(AuthError::Invalid);
            }
            if let Ok(mut m) = self.verified.lock() {
                if m.len() > 10_000 {
                    m.clear();
                }
                m.insert(key, (user.password.clone(), Instant::now()));
            }
        }
        self.limiter.succeed(name, client);
        Ok(Principal::of(user))
    }
}

impl Authenticator {
    /// Signs in with an app password alone (REST `Authorization: Bearer snap_…`). Cheap (one
    /// indexed lookup), so callable from async code; a random 190-bit secret needs no rate
    /// limit.
    ///
    /// Throttled by address only: a refused address is refused here too, and an unknown
    /// app password counts as a failure of `client`.
    pub fn verify_app_token(&self, secret: &str, client: IpAddr) -> Result<Principal, AuthError> {
        if let Throttle::Refuse(d) = self.limiter.check_addr(client) {
            return Err(AuthError::RateLimited(d));
        }
        match self.app_password(None, secret)? {
            Some(p) => Ok(p),
            None => {
                self.limiter.fail_addr(client);
                Err(AuthError::Invalid)
            }
        }
    }

    /// An app password of `user` (any user with `None`) → its principal; remembers the use
    /// (at most once a minute per app password, on a thread of its own: it is a write).
    fn app_password(
        &self,
        user: Option<&str>,
        secret: &str,
    ) -> Result<Option<Principal>, AuthError> {
        let Some((p, app)) = apps::app_principal(&self.accounts, user, secret)? else {
            return Ok(None);
        };
        let stale = app
            .last_used_ns
            .is_none_or(|t| nas_engine::now_ns().saturating_sub(t) > TOUCH_EVERY.as_nanos() as i64);
        if stale && self.claim_touch(&app.id) {
            let accounts = self.accounts.clone();
            let id = app.id;
            // best effort: "last used" is informational, a failed write changes nothing
            let _ = std::thread::Builder::new()
                .name("app-password-used".into())
                .spawn(move || accounts.touch_app_password(&id));
        }
        Ok(Some(p))
    }
}

/// How often an app password's "last used" time is written.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl Authenticator {
    /// Whether this process should write `id`'s use now: true at most once per
    /// [`TOUCH_EVERY`] (parallel requests of a stale app password spawn one write).
    fn claim_touch(&self, id: &str) -> bool {
        let Ok(mut m) = self.touched.lock() else {
            return false;
        };
        if m.len() > 10_000 {
            m.clear();
        }
        let now = Instant::now();
        if m.get(id)
            .is_some_and(|t| now.duration_since(*t) < TOUCH_EVERY)
        {
            return false;
        }
        m.insert(id.to_owned(), now);
        true
    }
}

/// `DOMAIN\\user` → `user` (Windows clients send the domain).
fn strip_domain(name: &str) -> &str {
    name.rsplit('\\').next().unwrap_or(name)
}

/// A real argon2id hash of a random password, so an unknown user costs the same time as a
/// wrong password (no user enumeration by timing).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&generate_password()))
}

#[cfg(test)]
mod tests;
