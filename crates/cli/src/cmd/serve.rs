//! `serve`: the server process. Wires the store, the authenticator and the doors (WebDAV at
//! `/dav`, REST at `/api/v1`, health and metrics) into one HTTP listener; creates the first
//! admin on an empty store; shuts down gracefully on SIGTERM/SIGINT (stops accepting, lets
//! in-flight requests finish, then exits 0 — an upload cut off by the shutdown is never
//! committed).

use crate::config::{Config, Overrides};
use anyhow::{Context, Result};
use axum::Router;
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
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Also serve the S3-compatible API on this address (e.g. 127.0.0.1:9000).
    #[arg(long)]
    s3_listen: Option<String>,
}

/// Readiness fails when the data directory's file system has less free space than this.
const MIN_FREE_BYTES: u64 = 1 << 30;

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

/// The S3 listener: s3s on hyper, one task per connection.
async fn serve_s3(listener: tokio::net::TcpListener, store: Store) {
    let mut b = s3s::service::S3ServiceBuilder::new(nas_s3::NasS3::new(store.clone()));
    b.set_auth(nas_s3::KeyAuth::new(store.accounts()));
    let service = b.build();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let svc = service.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            if let Err(e) = builder.serve_connection(io, svc).await {
                tracing::debug!("s3 connection: {e}");
            }
        });
    }
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    let flags = Overrides {
        data: a.data,
        listen: a.listen,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        s3_listen: a.s3_listen,
    };
    let cfg = Config::load(a.config.as_deref(), flags)?;
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
    let metrics = Arc::new(nas_observe::Metrics::new());
    let observe = nas_observe::Observe {
        store: store.clone(),
        metrics: metrics.clone(),
        min_free_bytes: MIN_FREE_BYTES,
    };
    let rest = nas_rest::RestState::new(store.clone(), auth.clone(), cfg.trusted_proxies.clone())
        .context("cannot load the REST door's token secret or sessions")?;
    let app = Router::new()
        .merge(nas_observe::routes(observe))
        .merge(nas_webdav::router(
            nas_webdav::DavState::new(store.clone(), auth)
                .with_trusted_proxies(cfg.trusted_proxies.clone()),
        ))
        .merge(nas_rest::router(rest))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            nas_observe::track,
        ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = std::net::TcpListener::bind(cfg.listen).with_context(|| format!("cannot listen on {}", cfg.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let scheme = if cfg.tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, data = %cfg.data.display(), "silent-nas listening ({scheme}); WebDAV at /dav/, REST at /api/v1/");
        println!("listening on {scheme}://{addr}/ (WebDAV: {scheme}://{addr}/dav/)");
        if let Some(u) = &cfg.public_url {
            println!("public URL: {}/dav/", u.trim_end_matches('/'));
        }
        if let Some(s3_addr) = cfg.s3_listen {
            let l = tokio::net::TcpListener::bind(s3_addr).await.with_context(|| format!("cannot listen on {s3_addr} for S3"))?;
            let bound = l.local_addr()?;
            println!("S3 API on http://{bound}/ (region us-east-1, path-style)");
            tokio::spawn(serve_s3(l, store.clone()));
        }
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            stopper.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
        });
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        match &cfg.tls {
            Some(t) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&t.cert, &t.key)
                    .await
                    .with_context(|| format!("cannot load TLS certificate {} / key {}", t.cert.display(), t.key.display()))?;
                axum_server::from_tcp_rustls(listener, tls)?.handle(handle).serve(service).await
            }
            None => axum_server::from_tcp(listener)?.handle(handle).serve(service).await,
        }
        .context("server failed")
    })?;
    drop(store);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
