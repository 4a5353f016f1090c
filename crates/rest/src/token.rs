//! Signed tokens: the per-install secret (created randomly on first start and kept by the
//! store's coordinator — today a file of the data directory with mode 0600 —, never
//! logged) and HMAC-SHA256 signing and checking.
//!
//! A token is `snt1.<claims>.<mac>`: `claims` is base64url JSON ([`Claims`]), `mac` the
//! base64url HMAC-SHA256 of `snt1.<claims>` under the secret. The `kind` claim keeps access
//! and refresh tokens apart; the `sid` claim names the session that must still exist
//! (see [`crate::sessions`]) for either to be accepted; a refresh token's `gen` claim must
//! be its session's current refresh generation.

use crate::error::{RestError, RestResult};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{KeyInit, Mac};
use nas_engine::Coordinator;
use serde::{Deserialize, Serialize};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// File of the signing secret inside the data directory.
pub const SECRET_FILE: &str = "rest-token.key";
const SECRET_LEN: usize = 32;
const PREFIX: &str = "snt1";

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Bearer for every API call; short-lived.
    Access,
    /// Only for `POST /auth/refresh`; lives as long as its session.
    Refresh,
    /// A browser's cookie session (`cookie.rs`): accepted only from the session cookie,
    /// lives as long as its session.
    Browser,
}

/// The signed content of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Access or refresh.
    pub kind: Kind,
    /// User name.
    pub sub: String,
    /// Session id (hex).
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// A refresh token's generation in its session (absent: 0): each refresh issues the
    /// next one, and presenting an older one ends the session (reuse detection).
    #[serde(rename = "gen", default, skip_serializing_if = "is_zero")]
    pub generation: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The signing key of this install.
pub struct Signer {
    key: [u8; SECRET_LEN],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)") // the secret is never printed
    }
}

impl Signer {
    /// Loads the install's secret ([`SECRET_FILE`]) from the store's coordinator, which
    /// creates it on first start (32 random bytes; locally a file of mode 0600, written
    /// to a temporary file, synced, then renamed into place).
    pub fn load_or_create(coord: &dyn Coordinator) -> std::io::Result<Signer> {
        Ok(Signer {
            key: coord.secret(SECRET_FILE)?,
        })
    }

    fn mac(&self) -> RestResult<HmacSha256> {
        <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .map_err(|e| RestError::Internal(format!("hmac key: {e}")))
    }

    /// Signs claims into a token.
    pub fn sign(&self, c: &Claims) -> RestResult<String> {
        let json = serde_json::to_vec(c).map_err(|e| RestError::Internal(e.to_string()))?;
        let head = format!("{PREFIX}.{}", B64.encode(json));
        let mut m = self.mac()?;
        m.update(head.as_bytes());
        Ok(format!("{head}.{}", B64.encode(m.finalize().into_bytes())))
    }

    /// A value derived from the secret for `label` and `data` (base64url of an HMAC):
    /// e.g. the CSRF token bound to a session id.
    pub fn derive(&self, label: &str, data: &str) -> RestResult<String> {
        let mut m = self.mac()?;
        m.update(label.as_bytes());
        m.update(b"\0");
        m.update(data.as_bytes());
        Ok(B64.encode(m.finalize().into_bytes()))
    }

    /// Checks a token's signature and expiry (at `now`, Unix seconds) and returns its
    /// claims. Does not look at sessions.
    pub fn verify(&self, token: &str, now: i64) -> RestResult<Claims> {
        const BAD: RestError = RestError::Unauthorized("invalid token");
        let (head, sig) = token.rsplit_once('.').ok_or(BAD)?;
        let (prefix, body) = head.split_once('.').ok_or(BAD)?;
        if prefix != PREFIX {
            return Err(BAD);
        }
        let sig = B64.decode(sig).map_err(|_| BAD)?;
        let mut m = self.mac()?;
        m.update(head.as_bytes());
        m.verify_slice(&sig).map_err(|_| BAD)?; // constant time
        let json = B64.decode(body).map_err(|_| BAD)?;
        let c: Claims = serde_json::from_slice(&json).map_err(|_| BAD)?;
        if c.exp <= now {
            return Err(RestError::Unauthorized("token expired"));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nas_engine::LocalCoordinator;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn claims(kind: Kind, exp: i64) -> Claims {
        Claims {
            kind,
            sub: "alice".into(),
            sid: "00ff".into(),
            iat: 0,
            exp,
            generation: 0,
        }
    }

    #[test]
    fn tokens_round_trip_and_tampering_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let local = |d: &std::path::Path| LocalCoordinator::unlocked(d);
        let s = Signer::load_or_create(&local(dir.path())).unwrap();
        let mode = fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let t = s.sign(&claims(Kind::Access, 100)).unwrap();
        assert_eq!(s.verify(&t, 50).unwrap(), claims(Kind::Access, 100));
        assert!(s.verify(&t, 100).is_err(), "expired");
        // a token signed by another install is refused; the same install's secret is kept
        let other = Signer::load_or_create(&local(tempfile::tempdir().unwrap().path())).unwrap();
        assert!(other.verify(&t, 50).is_err());
        let again = Signer::load_or_create(&local(dir.path())).unwrap();
        assert!(again.verify(&t, 50).is_ok());
        // changing the claims breaks the signature
        let (head, sig) = t.rsplit_once('.').unwrap();
        let forged_claims = B64.encode(serde_json::to_vec(&claims(Kind::Refresh, 100)).unwrap());
        let forged = format!("{PREFIX}.{forged_claims}.{sig}");
        assert!(s.verify(&forged, 50).is_err());
        assert!(s.verify(head, 50).is_err());
        assert!(!format!("{s:?}").contains(&hex::encode(s.key)));
    }
}
