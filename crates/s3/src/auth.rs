//! [`KeyAuth`]: SigV4 secrets come from the access-key table; a revoked key or a disabled
//! owner is refused on the next request.

use nas_engine::Accounts;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

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
        let (acc, key) = (self.accounts.clone(), access_key.to_owned());
        let found = tokio::task::spawn_blocking(move || nas_auth::key_owner(&acc, &key)).await;
        match found {
            Ok(Ok((_, secret))) => Ok(SecretKey::from(secret)),
            Ok(Err(nas_auth::AuthError::Invalid)) => Err(s3_error!(InvalidAccessKeyId)),
            _ => Err(s3_error!(InternalError)),
        }
    }
}
