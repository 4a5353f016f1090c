//! `serve`: the server process. Wires the store, the authenticator and the doors into one
//! HTTP listener; creates the first admin on an empty store; shuts down gracefully on
//! SIGTERM/SIGINT (stops accepting, lets in-flight requests finish, then exits 0 — an
//! upload cut off by the shutdown is never committed).

use crate::config::{Config, Overrides};
use anyhow::{Context, Result};
use axum::Router;
use axum::routing::get;
use nas_auth::{Authenticator, Role, add_user, generate_password};
use nas_engine::{Store, StoreOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Data directory (created on first start).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Configuration file (TOML; see deploy/silent-nas.example.toml).
    #[arg(long, env = "SILENT_NAS_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
}

/// Creates the `admin` user on a store without users. The password comes from
/// `SILENT_NAS_ADMIN_PASSWORD` or is generated and printed once on standard output
/// (never logged).
fn first_admin(store: &Store) -> Result<()> {
    let accounts = store.accounts();
    if !accounts.list()?.is_empty() {
        return Ok(());
    }
    let (password, generated) = match std::env::var("SILENT_NAS_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (generate_password(), true),
    };
    add_user(&accounts, "admin", &password, Role::Admin, None)?;
    if generated {
        println!("Created user 'admin' with password: {password}");
        println!("(shown once; change it with `silent-nas user passwd admin --password-stdin`)");
    } else {
        println!("Created user 'admin' with the password from SILENT_NAS_ADMIN_PASSWORD");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    let cfg = Config::load(
        a.config.as_deref(),
        Overrides {
            data: a.data,
            listen: a.listen,
        },
    )?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cfg.log).context("invalid log filter")?,
        )
        .with_writer(std::io::stderr)
        .init();
    let store = Store::open(&cfg.data, StoreOptions::default())
        .with_context(|| format!("cannot open store {}", cfg.data.display()))?;
    first_admin(&store)?;
    let auth = Arc::new(Authenticator::new(store.accounts()));
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(nas_webdav::router(nas_webdav::DavState::new(
            store.clone(),
            auth,
        )));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data = %cfg.data.display(), "silent-nas listening; WebDAV at /dav/");
        println!("listening on http://{addr}/ (WebDAV: http://{addr}/dav/)");
        if let Some(u) = &cfg.public_url {
            println!("public URL: {}/dav/", u.trim_end_matches('/'));
        }
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")
    })?;
    drop(store);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
