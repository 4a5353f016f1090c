//! `locks`: list and break WebDAV locks (works while the server runs: the server reads the
//! lock table on every check, so a broken lock is gone at the next request).

use crate::GlobalData;
use crate::output::{json, time};
use anyhow::{Result, bail};
use nas_engine::LockTable;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct LocksArgs {
    #[command(flatten)]
    data: GlobalData,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// List unexpired locks (all users, or one).
    List {
        /// Only this user's locks.
        #[arg(long)]
        user: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a lock by its token (as shown by `list`).
    Break {
        /// Lock token, e.g. urn:uuid:….
        token: String,
    },
}

pub fn run(a: LocksArgs) -> Result<ExitCode> {
    let data = a.data.get()?;
    match a.action {
        Action::List {
            user,
            json: as_json,
        } => {
            let t = LockTable::open_at(&data.data, &data.location()?)?;
            let locks = t.list(user.as_deref())?;
            if as_json {
                let v: Vec<_> = locks
                    .iter()
                    .map(|l| serde_json::json!({
                        "token": l.token, "user": l.space, "path": l.path, "shared": l.shared, "deep": l.deep,
                        "principal": l.principal, "created": time(l.created_ns), "expires": l.expires_ns.map(time),
                    }))
                    .collect();
                json(&v)?;
            } else {
                for l in &locks {
                    let scope = if l.shared { "shared" } else { "exclusive" };
                    let depth = if l.deep { "infinity" } else { "0" };
                    let exp = l.expires_ns.map(time).unwrap_or_else(|| "never".into());
                    println!(
                        "{}  {:<12} {:<9} depth {:<8} until {exp}  {}",
                        l.token, l.space, scope, depth, l.path
                    );
                }
            }
        }
        Action::Break { token } => {
            if !LockTable::open_at(&data.data, &data.location()?)?.remove(&token)? {
                bail!("no lock {token}");
            }
            println!("lock {token} broken");
        }
    }
    Ok(ExitCode::SUCCESS)
}
