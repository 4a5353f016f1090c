//! `trash`: list, restore, purge and expire deleted entries.

use super::{open, open_home, open_home_read, path};
use crate::output::{json, time};
use crate::{GlobalData, HomeArgs};
use anyhow::{Result, bail};
use nas_engine::NodeKind;
use nas_types::TrashId;
use std::process::ExitCode;
use std::time::Duration;

/// `--data`, `--home` and `--json` are global: they go before or after the action
/// (`trash --home alice list` and `trash list --home alice` are the same). clap cannot make a
/// global option required, so [`run`] checks that they were given (`expire` needs no home).
#[derive(clap::Args)]
pub struct TrashArgs {
    #[command(flatten)]
    data: GlobalData,
    /// Home (one tree per user).
    #[arg(long, global = true)]
    home: Option<String>,
    #[command(subcommand)]
    action: Option<Action>,
    /// Machine-readable output (for `list`).
    #[arg(long, global = true)]
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

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Restore { .. } => "restore",
            Action::Purge { .. } => "purge",
            Action::Expire { .. } => "expire",
        }
    }
}

pub fn run(a: TrashArgs) -> Result<ExitCode> {
    let action = a.action.unwrap_or(Action::List);
    let data = a.data.get()?;
    if let Action::Expire { older_than } = action {
        // every home: no --home needed
        let n = open(&data)?.expire_trash(older_than)?;
        println!(
            "purged {n} entries older than {}",
            humantime::format_duration(older_than)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(home) = a.home else {
        bail!("--home NAME is required for `trash {}`", action.name());
    };
    let h = HomeArgs { data, home };
    // listing only reads: it works while the server runs
    let home = match action {
        Action::List => open_home_read(&h)?.1,
        _ => open_home(&h)?.1,
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
            let r = home.trash_purge_all()?;
            println!("purged {} entries", r.purged);
            if r.retained > 0 {
                println!(
                    "kept {} entries holding a version under object lock (retention or legal hold)",
                    r.retained
                );
            }
        }
        Action::Expire { .. } => {} // handled above
    }
    Ok(ExitCode::SUCCESS)
}
