//! `key`: S3 access keys (works while the server runs).

use crate::DataArgs;
use crate::output::{json, time};
use anyhow::{Result, bail};
use nas_auth::create_key;
use nas_engine::Accounts;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create a key pair for a user; prints `ACCESS_KEY_ID SECRET_ACCESS_KEY` (shown once).
    Create {
        /// Owner of the key.
        user: String,
        /// Print `{"access_key_id": …, "secret_access_key": …}` instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List a user's keys (never the secrets).
    List {
        /// Owner; all users when omitted.
        user: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Revoke a key: requests signed with it are refused from the next request on.
    Revoke {
        /// Owner of the key (checked).
        user: String,
        /// Access key id.
        access_key: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

pub fn run(a: KeyArgs) -> Result<ExitCode> {
    match a.action {
        Action::Create {
            user,
            json: as_json,
            data,
        } => {
            let acc = Accounts::open(&data.data)?;
            let (id, secret) =
                create_key(&acc, &user).map_err(|_| anyhow::anyhow!("no user {user:?}"))?;
            if as_json {
                json(
                    &serde_json::json!({ "access_key_id": id, "secret_access_key": secret, "user": user }),
                )?;
            } else {
                println!("{id} {secret}");
            }
        }
        Action::List {
            user,
            json: as_json,
            data,
        } => {
            let keys = Accounts::open(&data.data)?.keys(user.as_deref())?;
            if as_json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|k| serde_json::json!({ "access_key_id": k.access_key, "user": k.user, "created": time(k.created_ns), "revoked": k.revoked }))
                    .collect();
                json(&v)?;
            } else {
                for k in keys {
                    let state = if k.revoked { "revoked" } else { "active" };
                    println!(
                        "{}  {:<20} {}  {state}",
                        k.access_key,
                        k.user,
                        time(k.created_ns)
                    );
                }
            }
        }
        Action::Revoke {
            user,
            access_key,
            data,
        } => {
            let acc = Accounts::open(&data.data)?;
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
