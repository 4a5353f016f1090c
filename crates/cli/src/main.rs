//! `silent-nas`: the binary. Parses the command line, opens the store, calls the engine,
//! prints. No business logic lives here.

mod cmd;
mod config;
mod malloc;
mod output;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// Silent-NAS: a self-hosted file store with chunk-level dedup, compression and versions.
#[derive(Parser)]
#[command(
    name = "silent-nas",
    version,
    after_help = "--data DIR and --home USER may also come before the command's name \
                  (silent-nas --data DIR ls --home alice)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by every command that opens a store.
#[derive(clap::Args, Clone)]
pub struct DataArgs {
    /// Data directory (created on first use).
    #[arg(long, env = "SILENT_NAS_DATA")]
    pub data: PathBuf,
    /// Where the metadata lives: a postgres:// URL (cluster mode), or the data
    /// directory's SQLite when unset. The value is never shown in help or logs.
    #[arg(
        long,
        env = "SILENT_NAS_META_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub meta: Option<String>,
}

impl DataArgs {
    /// The data directory, with the metadata where the environment says (for commands
    /// that build their options by hand).
    pub fn dir(data: PathBuf) -> DataArgs {
        DataArgs {
            data,
            meta: std::env::var(config::meta::ENV)
                .ok()
                .filter(|v| !v.is_empty()),
        }
    }

    /// Where the metadata lives.
    pub fn location(&self) -> Result<nas_engine::MetaLocation> {
        config::meta::parse(self.meta.as_deref())
    }
}

/// `--data` of a command family with actions (`user`, `key`, `trash`, …): global, so it goes
/// before or after the action (`user --data D list` = `user list --data D`). clap cannot
/// make a global option required; [`GlobalData::get`] says when it is missing.
#[derive(clap::Args, Clone)]
pub struct GlobalData {
    /// Data directory (created on first use).
    #[arg(long, env = "SILENT_NAS_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// Where the metadata lives: a postgres:// URL, or the data directory's SQLite.
    #[arg(
        long,
        env = "SILENT_NAS_META_URL",
        hide_env_values = true,
        global = true,
        value_name = "URL"
    )]
    pub meta: Option<String>,
}

impl GlobalData {
    /// The data directory, or an error naming the option.
    pub fn get(self) -> Result<DataArgs> {
        match self.data {
            Some(data) => Ok(DataArgs {
                data,
                meta: self.meta,
            }),
            None => anyhow::bail!("--data DIR is required (or set SILENT_NAS_DATA)"),
        }
    }
}

/// Options of commands working inside one home.
#[derive(clap::Args, Clone)]
pub struct HomeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Home (one tree per user).
    #[arg(long)]
    pub home: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (WebDAV at /dav/).
    Serve(cmd::serve::ServeArgs),
    /// Manage user accounts (works while the server runs).
    User(cmd::user::UserArgs),
    /// Create, list or revoke S3 access keys (works while the server runs).
    Key(cmd::key::KeyArgs),
    /// Create, list or revoke a user's app passwords (works while the server runs).
    AppPassword(cmd::app_password::AppPasswordArgs),
    /// List or break WebDAV locks (works while the server runs).
    Locks(cmd::locks::LocksArgs),
    /// Create a store (optional: any command creates one) and set its compression.
    Init(cmd::maintain::InitArgs),
    /// Copy the contents of a local folder in (existing files get a new version).
    Import(cmd::import::ImportArgs),
    /// Copy a folder (or file) out, optionally as it was at a given time.
    Export(cmd::export::ExportArgs),
    /// Write standard input to a file.
    Put(cmd::browse::PutArgs),
    /// List a folder.
    Ls(cmd::browse::LsArgs),
    /// Show one file or folder.
    Stat(cmd::browse::PathArgs),
    /// Print a file (or one of its versions) to standard output.
    Cat(cmd::browse::CatArgs),
    /// Create a folder (and its parents).
    Mkdir(cmd::browse::PathArgs),
    /// Rename or move a file or folder.
    Mv(cmd::browse::MoveArgs),
    /// Copy a file or folder (shares chunks; no data is copied).
    Cp(cmd::browse::MoveArgs),
    /// Move a file or folder to the trash.
    Rm(cmd::browse::PathArgs),
    /// List a file's versions.
    Versions(cmd::browse::PathArgs),
    /// Make an old version the newest again; with --from s3://…, rebuild a data directory
    /// from the object store (disaster recovery).
    Restore(cmd::recover::RestoreArgs),
    /// Delete one version of a file.
    DeleteVersion(cmd::browse::VersionArgs),
    /// List, restore, purge or expire trash entries.
    Trash(cmd::trash::TrashArgs),
    /// Delete old versions by a retention policy.
    Prune(cmd::maintain::PruneArgs),
    /// Free chunks nothing references and compact packs.
    Gc(cmd::maintain::GcArgs),
    /// Check the store (exit 0 clean, 1 damage found, 2 could not check).
    Fsck(cmd::maintain::FsckArgs),
    /// Show totals: bytes, chunks, dedup and compression ratios.
    Stats(cmd::maintain::StatsArgs),
    /// The object-storage tier (`SILENT_NAS_BLOBS_REMOTE`…): where packs live, evict local copies.
    Tier(cmd::tier::TierArgs),
    /// Copy the metadata database consistently (works while the store is in use by this process).
    BackupMeta(cmd::maintain::BackupArgs),
}

fn run(cli: Cli) -> Result<ExitCode> {
    use Command::*;
    match cli.command {
        Serve(a) => cmd::serve::run(a),
        User(a) => cmd::user::run(a),
        Locks(a) => cmd::locks::run(a),
        Key(a) => cmd::key::run(a),
        AppPassword(a) => cmd::app_password::run(a),
        Init(a) => cmd::maintain::init(a),
        Import(a) => cmd::import::run(a),
        Export(a) => cmd::export::run(a),
        Put(a) => cmd::browse::put(a),
        Ls(a) => cmd::browse::ls(a),
        Stat(a) => cmd::browse::stat(a),
        Cat(a) => cmd::browse::cat(a),
        Mkdir(a) => cmd::browse::mkdir(a),
        Mv(a) => cmd::browse::mv(a, false),
        Cp(a) => cmd::browse::mv(a, true),
        Rm(a) => cmd::browse::rm(a),
        Versions(a) => cmd::browse::versions(a),
        Restore(a) => cmd::recover::run(a),
        DeleteVersion(a) => cmd::browse::delete_version(a),
        Trash(a) => cmd::trash::run(a),
        Prune(a) => cmd::maintain::prune(a),
        Gc(a) => cmd::maintain::gc(a),
        Fsck(a) => cmd::maintain::fsck(a),
        Stats(a) => cmd::maintain::stats(a),
        BackupMeta(a) => cmd::maintain::backup(a),
        Tier(a) => cmd::tier::run(a),
    }
}

/// The options most commands take (`--data`, `--home`) may come before the command's name:
/// `silent-nas --data D ls` is `silent-nas ls --data D`. They are moved behind the name
/// before parsing (clap's global options cannot be required, and most commands require
/// `--data`); a command that does not take one still refuses it by name.
fn hoist_options(args: Vec<OsString>) -> Vec<OsString> {
    const MOVABLE: [&str; 2] = ["--data", "--home"];
    let mut moved = Vec::new();
    let mut i = 1;
    while let Some(a) = args.get(i).and_then(|a| a.to_str()) {
        if MOVABLE.contains(&a) && i + 1 < args.len() {
            moved.extend_from_slice(&args[i..i + 2]);
            i += 2;
        } else if MOVABLE.iter().any(|m| a.starts_with(&format!("{m}="))) {
            moved.push(args[i].clone());
            i += 1;
        } else {
            break;
        }
    }
    if moved.is_empty() || i >= args.len() {
        return args; // nothing moved, or no command follows: clap says what is wrong
    }
    let mut out = vec![args[0].clone(), args[i].clone()];
    out.extend(moved);
    out.extend_from_slice(&args[i + 1..]);
    out
}

fn main() -> ExitCode {
    malloc::tune();
    let cli = Cli::parse_from(hoist_options(std::env::args_os().collect()));
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One clear line, the causes joined; never a backtrace.
            eprintln!("silent-nas: error: {e:#}");
            let full = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<nas_engine::EngineError>(),
                    Some(nas_engine::EngineError::StorageFull(_))
                )
            });
            if full {
                eprintln!(
                    "silent-nas: the data directory's disk is full: nothing was stored; delete \
                     files, empty the trash (`silent-nas trash purge`), then run `silent-nas gc`"
                );
            }
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn hoisted(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(std::ffi::OsString::from).collect();
        super::hoist_options(args)
            .into_iter()
            .map(|a| a.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn options_before_the_command_move_behind_its_name() {
        assert_eq!(
            hoisted(&["nas", "--data", "D", "--home=a", "ls", "/x"]),
            ["nas", "ls", "--data", "D", "--home=a", "/x"]
        );
        assert_eq!(
            hoisted(&["nas", "--data=D", "trash", "list"]),
            ["nas", "trash", "--data=D", "list"]
        );
        // untouched: nothing to move, an option clap owns, or no command after them
        for args in [
            &["nas", "ls", "--data", "D"][..],
            &["nas", "--version"],
            &["nas", "--data", "D"],
            &["nas", "--help", "--data", "D", "ls"],
        ] {
            assert_eq!(hoisted(args), args);
        }
    }
}
