//! `trash`: list, restore, purge and expire deleted entries.

use super::{open_home, open_home_read, path};
use crate::HomeArgs;
use crate::output::{json, time};
use anyhow::Result;
use nas_engine::NodeKind;
use nas_types::TrashId;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct TrashArgs {
    #[command(flatten)]
    home: HomeArgs,
    #[command(subcommand)]
    action: Option<Action>,
    /// Machine-readable output (for `list`).
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum Action {
    /// List entries, newest first (the default).
    List,
    /// Put an entry back where it was, or at --to.
    Restore {
        /// Entry id (from `list`).
        id: i64,
        /// New path instead of the original one.
        #[arg(long)]
        to: Option<String>,
    },
    /// Delete one entry for good, or all of them.
    Purge {
        /// Entry id; without it, every entry of the home.
        id: Option<i64>,
    },
    /// Purge entries (of every home) older than an age, e.g. 30d.
    Expire {
        /// Age, e.g. 30d, 12h.
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
    },
}

pub fn run(a: TrashArgs) -> Result<ExitCode> {
    let action = a.action.unwrap_or(Action::List);
    // listing only reads: it works while the server runs
    let (store, home) = match action {
        Action::List => open_home_read(&a.home)?,
        _ => open_home(&a.home)?,
    };
    match action {
        Action::List => {
            let list = home.trash_list()?;
            if a.json {
                let v: Vec<_> = list
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id.0, "path": t.path, "deleted": time(t.deleted_ns),
                            "kind": if t.kind == NodeKind::Dir { "dir" } else { "file" },
                        })
                    })
                    .collect();
                json(&v)?;
            } else {
                for t in &list {
                    let k = if t.kind == NodeKind::Dir {
                        "dir "
                    } else {
                        "file"
                    };
                    println!("{:>6}  {k}  {}  {}", t.id, time(t.deleted_ns), t.path);
                }
            }
        }
        Action::Restore { id, to } => {
            let to = to.map(|p| path(&p)).transpose()?;
            let p = home.trash_restore(TrashId(id), to.as_ref())?;
            println!("restored entry {id} to {p}");
        }
        Action::Purge { id: Some(id) } => {
            home.trash_purge(TrashId(id))?;
            println!("purged entry {id}");
        }
        Action::Purge { id: None } => {
            let n = home.trash_purge_all()?;
            println!("purged {n} entries");
        }
        Action::Expire { older_than } => {
            let n = store.expire_trash(older_than)?;
            println!(
                "purged {n} entries older than {}",
                humantime::format_duration(older_than)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
