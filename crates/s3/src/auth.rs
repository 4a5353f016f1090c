//! [`KeyAuth`]: SigV4 secrets come from the access-key table; a revoked key or a disabled
//! owner is refused on the next request. The owner found with the secret is kept for the
//! rest of the request ([`SIGNED_IN`]), so the handler does not look the key up again.

use nas_auth::Principal;
use nas_engine::Accounts;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};
use std::cell::RefCell;

tokio::task_local! {
    /// The access key that signed the request being served, and its owner: set by
    /// [`KeyAuth`] when it gives s3s the secret, read by the handler. The listener scopes
    /// one per request, so nothing outlives the request it was looked up for.
    pub static SIGNED_IN: RefCell<Option<(String, Principal)>>;
}

/// The owner of `access_key` if this request's signature was checked against it.
pub fn signed_in(access_key: &str) -> Option<Principal> {
    SIGNED_IN
        .try_with(|s| {
            s.borrow()
                .as_ref()
                .filter(|(k, _)| k == access_key)
                .map(|(_, p)| p.clone())
        })
        .ok()
        .flatten()
}

/// Looks access keys up in the store's accounts.
pub struct KeyAuth {
    accounts: Accounts,
}

impl KeyAuth {
    /// Auth over these accounts.
    pub fn new(accounts: Accounts) -> Self {
        KeyAuth { accounts }
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        // Two indexed reads of the metadata database, inline as the WebDAV door's cached
        // sign-in does (`Authenticator::verify_cached`): a WAL reader never waits for a
        // writer, and a trip to the blocking pool for every signed request cost more than
        // the reads (thread wake-ups were most of a small GET's CPU time).
        match nas_auth::key_owner(&self.accounts, access_key) {
            Ok((owner, secret)) => {
                let _ =
                    SIGNED_IN.try_with(|s| *s.borrow_mut() = Some((access_key.to_owned(), owner)));
                Ok(SecretKey::from(secret))
            }
            Err(nas_auth::AuthError::Invalid) => Err(s3_error!(InvalidAccessKeyId)),
            Err(_) => Err(s3_error!(InternalError)),
        }
    }
}
