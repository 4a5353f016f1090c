//! `app-password`: a user's app passwords from the command line (works while the server
//! runs) — the same credentials as `/api/v1/me/app-passwords`, for an administrator setting
//! up a device or a script for someone, or removing one after a device is lost.

use crate::GlobalData;
use crate::output::{json, time};
use anyhow::{Result, bail};
use nas_auth::{AuthError, create_app_password};
use nas_engine::Accounts;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct AppPasswordArgs {
    #[command(flatten)]
    data: GlobalData,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create an app password; prints it (`snap_…`, shown once). It signs in as USER at
    /// WebDAV and the REST API (never opens a session, never creates credentials).
    Create {
        /// Owner (an existing, enabled user).
        user: String,
        /// What it is for (e.g. "phone", "backup script"), up to 100 characters.
        name: String,
        /// It may read, never change anything, whatever the owner's role.
        #[arg(long)]
        read_only: bool,
        /// Print a JSON object (`id`, `name`, `read_only`, `password`) instead.
        #[arg(long)]
        json: bool,
    },
    /// List a user's app passwords (never the passwords).
    List {
        /// Owner.
        user: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Delete an app password: it is refused from the next request on.
    Revoke {
        /// Owner (checked).
        user: String,
        /// Its id (from `list`).
        id: String,
    },
}

pub fn run(a: AppPasswordArgs) -> Result<ExitCode> {
    let data = a.data.get()?;
    match a.action {
        Action::Create {
            user,
            name,
            read_only,
            json: as_json,
        } => {
            let acc = Accounts::open_at(&data.data, &data.location()?)?;
            let (rec, secret) =
                create_app_password(&acc, &user, &name, read_only).map_err(|e| match e {
                    AuthError::Invalid => anyhow::anyhow!("no enabled user {user:?}"),
                    other => other.into(),
                })?;
            if as_json {
                json(&serde_json::json!({
                    "id": rec.id,
                    "user": rec.user,
                    "name": rec.name,
                    "read_only": rec.read_only,
                    "password": secret,
                }))?;
            } else {
                println!("{secret}");
            }
        }
        Action::List {
            user,
            json: as_json,
        } => {
            let apps = Accounts::open_at(&data.data, &data.location()?)?.app_passwords(&user)?;
            if as_json {
                let v: Vec<_> = apps
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "id": a.id,
                            "name": a.name,
                            "read_only": a.read_only,
                            "created": time(a.created_ns),
                            "last_used": a.last_used_ns.map(time),
                        })
                    })
                    .collect();
                json(&v)?;
            } else {
                for a in apps {
                    let access = if a.read_only {
                        "read-only"
                    } else {
                        "read-write"
                    };
                    let used = a.last_used_ns.map_or("never used".to_owned(), |t| {
                        format!("last used {}", time(t))
                    });
                    println!(
                        "{}  {:<10} {}  {used}  {}",
                        a.id,
                        access,
                        time(a.created_ns),
                        a.name
                    );
                }
            }
        }
        Action::Revoke { user, id } => {
            if !Accounts::open_at(&data.data, &data.location()?)?.delete_app_password(&user, &id)? {
                bail!("user {user:?} has no app password {id}");
            }
            println!("app password {id} of {user} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
