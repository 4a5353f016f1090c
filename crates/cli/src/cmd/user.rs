//! `user`: manage accounts. Works while the server runs (it does not take the store lock;
//! the server reads accounts on every sign-in, so changes apply at once).

use crate::output::{json, size, time};
use crate::{DataArgs, GlobalData};
use anyhow::{Context, Result, bail};
use nas_auth::{Role, add_user, hash_password};
use nas_engine::{Accounts, EngineError, Store, UserRetention};
use std::io::BufRead;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct UserArgs {
    #[command(flatten)]
    data: GlobalData,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create a user (and, on first use, their home).
    Add {
        /// User name: letters, digits, `.`, `_`, `-`.
        name: String,
        /// admin, user or readonly.
        #[arg(long, default_value = "user", value_parser = parse_role)]
        role: Role,
        /// Quota on the current content of the home, e.g. 10G, 500M.
        #[arg(long, value_parser = parse_size)]
        quota: Option<u64>,
        /// Read the password from the first line of standard input (required: passwords
        /// never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Change a password (read from standard input).
    Passwd {
        /// User name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Change role, quota, enabled state or retention of old versions.
    Set {
        /// User name.
        name: String,
        /// admin, user or readonly.
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// New quota (e.g. 10G), or `none`.
        #[arg(long)]
        quota: Option<String>,
        /// Disable sign-in.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable sign-in.
        #[arg(long)]
        enable: bool,
        /// Retention in this user's home: keep the newest N versions of each file; `off`
        /// (or 0) for no count rule, `default` for the server's `retention_keep_versions`.
        #[arg(long, value_parser = parse_rule, value_name = "N|off|default")]
        keep_versions: Option<Rule>,
        /// Retention in this user's home: keep versions younger than D days; `off` (or 0)
        /// for no age rule, `default` for the server's `retention_keep_days`. Both rules
        /// `off` keeps every version.
        #[arg(long, value_parser = parse_rule, value_name = "D|off|default")]
        keep_days: Option<Rule>,
    },
    /// Delete a user (their home and files stay).
    Remove {
        /// User name.
        name: String,
    },
}

/// A per-user retention rule as given on the command line: `None` is the server's rule,
/// `Some(0)` no rule, `Some(n)` the user's own.
#[derive(Debug, Clone, Copy)]
struct Rule(Option<u32>);

fn parse_rule(s: &str) -> Result<Rule, String> {
    match s.trim() {
        "default" => Ok(Rule(None)),
        "off" | "none" => Ok(Rule(Some(0))),
        n => n
            .parse()
            .map(|n| Rule(Some(n)))
            .map_err(|_| format!("expected a number, off or default, not {s:?}")),
    }
}

/// How a user list shows a retention rule.
fn show_rule(r: Option<u32>) -> String {
    match r {
        None => "default".into(),
        Some(0) => "off".into(),
        Some(n) => n.to_string(),
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?} (admin, user, readonly)"))
}

/// Parses `123`, `10K`, `500M`, `10G`, `1T` (powers of 1024; `KiB` etc. also accepted).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(digits);
    let n: u64 = n.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return Err(format!("invalid size unit in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_owned();
    if p.len() < 8 {
        bail!("password must be at least 8 characters");
    }
    Ok(p)
}

/// The accounts of a data directory, creating the store if there is none yet.
fn accounts(d: &DataArgs) -> Result<Accounts> {
    let location = d.location()?;
    match Accounts::open_at(&d.data, &location) {
        Ok(a) => Ok(a),
        Err(EngineError::NotFound(_)) => {
            let opts = nas_engine::StoreOptions {
                meta: location.clone(),
                ..Default::default()
            };
            drop(
                Store::open(&d.data, opts)
                    .with_context(|| format!("cannot create store {}", d.data.display()))?,
            );
            Ok(Accounts::open_at(&d.data, &location)?)
        }
        Err(e) => Err(e.into()),
    }
}

fn get(a: &Accounts, name: &str) -> Result<nas_engine::UserRecord> {
    a.get(name)?.with_context(|| format!("no user {name:?}"))
}

pub fn run(u: UserArgs) -> Result<ExitCode> {
    let data = u.data.get()?;
    match u.action {
        Action::Add {
            name, role, quota, ..
        } => {
            let a = accounts(&data)?;
            let pw = read_password()?;
            add_user(&a, &name, &pw, role, quota)?;
            println!("created user {name} ({})", role.as_str());
        }
        Action::List { json: as_json } => {
            let a = accounts(&data)?;
            let users = a.list()?;
            if as_json {
                let v: Vec<_> = users
                    .iter()
                    .map(|u| serde_json::json!({"name": u.name, "role": u.role, "quota": u.quota, "disabled": u.disabled, "created": time(u.created_ns), "keep_versions": u.keep_versions, "keep_days": u.keep_days}))
                    .collect();
                json(&v)?;
            } else {
                for u in users {
                    let q = u.quota.map(size).unwrap_or_else(|| "unlimited".into());
                    let retention = if u.keep_versions.is_none() && u.keep_days.is_none() {
                        String::new()
                    } else {
                        format!(
                            "  keep versions {} days {}",
                            show_rule(u.keep_versions),
                            show_rule(u.keep_days)
                        )
                    };
                    let state = if u.disabled { "  (disabled)" } else { "" };
                    println!("{:<20} {:<9} quota {q}{retention}{state}", u.name, u.role);
                }
            }
        }
        Action::Passwd { name, .. } => {
            let a = accounts(&data)?;
            let mut rec = get(&a, &name)?;
            rec.password = hash_password(&read_password()?);
            a.update(&rec)?;
            println!("password of {name} changed");
        }
        Action::Set {
            name,
            role,
            quota,
            disable,
            enable,
            keep_versions,
            keep_days,
        } => {
            let a = accounts(&data)?;
            let mut rec = get(&a, &name)?;
            let mut retention = UserRetention::of(&rec);
            if let Some(Rule(r)) = keep_versions {
                retention.keep_versions = r;
            }
            if let Some(Rule(r)) = keep_days {
                retention.keep_days = r;
            }
            retention.validate()?;
            retention.store_in(&mut rec);
            if let Some(r) = role {
                rec.role = r.as_str().to_owned();
            }
            if let Some(q) = quota {
                rec.quota = if q == "none" {
                    None
                } else {
                    Some(parse_size(&q).map_err(anyhow::Error::msg)?)
                };
            }
            if disable {
                rec.disabled = true;
            }
            if enable {
                rec.disabled = false;
            }
            a.update(&rec)?;
            println!("updated {name}");
        }
        Action::Remove { name } => {
            accounts(&data)?.remove(&name)?;
            println!("removed user {name} (their files stay in home {name})");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{parse_rule, parse_size};

    #[test]
    fn retention_rules() {
        assert_eq!(parse_rule("default").unwrap().0, None);
        assert_eq!(parse_rule("off").unwrap().0, Some(0));
        assert_eq!(parse_rule("0").unwrap().0, Some(0));
        assert_eq!(parse_rule("12").unwrap().0, Some(12));
        assert!(parse_rule("-1").is_err() && parse_rule("many").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("10K"), Ok(10 << 10));
        assert_eq!(parse_size("5MiB"), Ok(5 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("x").is_err());
        assert!(parse_size("1Q").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
