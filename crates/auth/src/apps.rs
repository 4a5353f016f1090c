//! App passwords: credentials a user creates, names and revokes for scripts and clients
//! (a phone's WebDAV app, a backup script), so their account password stays out of them.
//!
//! An app password is `snap_` followed by 32 random letters and digits (~190 bits). Only
//! its BLAKE3 hash is stored and a sign-in looks it up by that hash: no argon2 (the
//! secret is random, so a fast hash is as strong as a slow one) and no per-user scan. It
//! signs in as its owner — with the `readonly` role when created read-only — at WebDAV
//! (Basic, user name + app password) and at the REST API (Basic, or `Bearer snap_…`).
//! It cannot open a REST session or create credentials: those take the account password.
//! Deleting it, disabling or deleting the owner, stops it at the next request.

use crate::password::{ALNUM, random_string};
use crate::{AuthError, Principal, Role, valid_name};
use nas_engine::{Accounts, AppPasswordRecord};

/// What every app password starts with.
pub const APP_PASSWORD_PREFIX: &str = "snap_";

/// App passwords a user may hold.
pub const MAX_APP_PASSWORDS: usize = 100;

/// Longest app password name, in characters.
pub const MAX_APP_NAME: usize = 100;

/// Whether `secret` has the shape of an app password (a cheap test before a lookup).
pub fn looks_like_app_password(secret: &str) -> bool {
    secret.len() == APP_PASSWORD_PREFIX.len() + 32
        && secret.starts_with(APP_PASSWORD_PREFIX)
        && secret[APP_PASSWORD_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

/// A credential's name as stored: trimmed; `None` when empty. Refused (`BadCredentialName`) past
/// [`MAX_APP_NAME`] characters or with control characters.
pub(crate) fn credential_name(name: &str) -> Result<Option<String>, AuthError> {
    let name = name.trim();
    if name.chars().count() > MAX_APP_NAME || name.chars().any(char::is_control) {
        return Err(AuthError::BadCredentialName);
    }
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

/// Creates an app password for an existing, enabled `user`: the stored record and the
/// secret, which exists only in this return value. Read-only when asked, and always when
/// the owner's role is `readonly`.
pub fn create_app_password(
    accounts: &Accounts,
    user: &str,
    name: &str,
    read_only: bool,
) -> Result<(AppPasswordRecord, String), AuthError> {
    let name = credential_name(name)?.ok_or(AuthError::BadCredentialName)?;
    let owner = match accounts.get(user)? {
        Some(u) if valid_name(user) && !u.disabled => u,
        _ => return Err(AuthError::Invalid),
    };
    // a read-only account's credentials are read-only, whatever was asked
    let read_only = read_only || !Principal::of(owner).role.can_write();
    if accounts.app_passwords(user)?.len() >= MAX_APP_PASSWORDS {
        return Err(AuthError::TooMany(
            "a user holds at most 100 app passwords: delete one first",
        ));
    }
    const HEX: &[u8] = b"0123456789abcdef";
    let secret = format!("{APP_PASSWORD_PREFIX}{}", random_string(ALNUM, 32));
    let rec = AppPasswordRecord {
        id: random_string(HEX, 16),
        user: user.to_owned(),
        name,
        hash: *blake3::hash(secret.as_bytes()).as_bytes(),
        read_only,
        created_ns: nas_engine::now_ns(),
        last_used_ns: None,
    };
    accounts.create_app_password(&rec)?;
    Ok((rec, secret))
}

/// The owner of a valid app password, as a principal; `user`, when given (Basic), must be
/// the owner. `Ok(None)`: not an app password of that user (the caller may go on and try
/// it as an account password).
pub(crate) fn app_principal(
    accounts: &Accounts,
    user: Option<&str>,
    secret: &str,
) -> Result<Option<(Principal, AppPasswordRecord)>, AuthError> {
    if !looks_like_app_password(secret) {
        return Ok(None);
    }
    let Some(app) = accounts.app_password_by_hash(blake3::hash(secret.as_bytes()).as_bytes())?
    else {
        return Ok(None);
    };
    if user.is_some_and(|u| u != app.user) {
        return Ok(None);
    }
    let Some(owner) = accounts.get(&app.user)?.filter(|u| !u.disabled) else {
        return Ok(None);
    };
    let mut who = Principal::of(owner);
    if app.read_only {
        who.role = Role::ReadOnly;
    }
    who.app_password = Some(app.id.clone());
    Ok(Some((who, app)))
}
