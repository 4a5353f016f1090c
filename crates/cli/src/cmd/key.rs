//! `key`: S3 access keys (works while the server runs).

use crate::GlobalData;
use crate::output::{json, time};
use anyhow::{Result, bail};
use nas_auth::create_named_key;
use nas_engine::Accounts;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct KeyArgs {
    #[command(flatten)]
    data: GlobalData,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create a key pair for a user; prints `ACCESS_KEY_ID SECRET_ACCESS_KEY` (shown once).
    Create {
        /// Owner of the key.
        user: String,
        /// A name to recognise it by (e.g. "nas backup restic").
        #[arg(long)]
        name: Option<String>,
        /// Requests signed with the key may read, never change anything (for a backup
        /// check, a mirror, a dashboard), whatever the owner's role.
        #[arg(long)]
        read_only: bool,
        /// Print `{"access_key_id": …, "secret_access_key": …}` instead.
        #[arg(long)]
        json: bool,
    },
    /// List a user's keys (never the secrets).
    List {
        /// Owner; all users when omitted.
        user: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: requests signed with it are refused from the next request on.
    Revoke {
        /// Owner of the key (checked).
        user: String,
        /// Access key id.
        access_key: String,
    },
}

pub fn run(a: KeyArgs) -> Result<ExitCode> {
    let data = a.data.get()?;
    match a.action {
        Action::Create {
            user,
            name,
            read_only,
            json: as_json,
        } => {
            let acc = Accounts::open_at(&data.data, &data.location()?)?;
            let k =
                create_named_key(&acc, &user, name.as_deref(), read_only).map_err(|e| match e {
                    nas_auth::AuthError::Invalid => anyhow::anyhow!("no user {user:?}"),
                    other => anyhow::anyhow!("{other}"),
                })?;
            if as_json {
                json(&serde_json::json!({
                    "access_key_id": k.access_key,
                    "secret_access_key": k.secret,
                    "user": k.user,
                    "name": k.name,
                    "read_only": k.read_only,
                }))?;
            } else {
                println!("{} {}", k.access_key, k.secret);
            }
        }
        Action::List {
            user,
            json: as_json,
        } => {
            let keys = Accounts::open_at(&data.data, &data.location()?)?.keys(user.as_deref())?;
            if as_json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|k| serde_json::json!({ "access_key_id": k.access_key, "user": k.user, "created": time(k.created_ns), "revoked": k.revoked, "read_only": k.read_only, "name": k.name }))
                    .collect();
                json(&v)?;
            } else {
                for k in keys {
                    let state = match (k.revoked, k.read_only) {
                        (true, _) => "revoked",
                        (false, true) => "active read-only",
                        (false, false) => "active",
                    };
                    let name = k.name.as_deref().unwrap_or("");
                    println!(
                        "{}  {:<20} {}  {state}  {name}",
                        k.access_key,
                        k.user,
                        time(k.created_ns)
                    );
                }
            }
        }
        Action::Revoke { user, access_key } => {
            let acc = Accounts::open_at(&data.data, &data.location()?)?;
            match acc.key(&access_key)? {
                Some(k) if k.user == user => {
                    acc.revoke_key(&access_key)?;
                    println!("key {access_key} of {user} revoked");
                }
                _ => bail!("user {user:?} has no key {access_key}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
