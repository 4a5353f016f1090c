//! `serve`: the server process. Wires the store, the authenticator and the doors (WebDAV at
//! `/dav`, REST at `/api/v1`, health and metrics; S3 on its own listener) into HTTP
//! listeners; creates the first admin on an empty store once every listener is bound (a
//! start that fails never spends the one-time password); shuts down gracefully on
//! SIGTERM/SIGINT (stops accepting, lets in-flight requests finish for 30 s, stops the
//! background workers and the audit log's writer, then exits 0 — an upload cut off by the
//! shutdown is never committed, and is logged with its path and the bytes received).
//!
//! Every listener applies the same connection rules ([`listener`]) and every request goes
//! through the same guard ([`guard`]); what they allow is the `[limits]` configuration.

mod guard;
mod listener;
mod node;
mod stall;

use crate::config::{Config, LogFormat, Overrides};
use anyhow::{Context, Result};
use axum::Router;
use nas_auth::{Authenticator, Role, add_user, generate_password};
use nas_engine::audit::AuditLog;
use nas_engine::workers::{
    Outcome, Worker, WorkerRunner, lifecycle_worker, maintenance_workers, meta_backup_worker,
    mover_worker,
};
use nas_engine::{Store, StoreOptions};
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
    /// Base domain for virtual-host-style S3 requests (bucket.DOMAIN).
    #[arg(long)]
    s3_domain: Option<String>,
    /// Log lines as text (default; coloured only on a terminal) or JSON, one object a line.
    #[arg(long, value_enum)]
    log_format: Option<crate::config::LogFormat>,
    /// Publish every change on this NATS server (`nats://host:4222`; see docs/api/events.md).
    #[arg(long)]
    nats: Option<String>,
    /// Keep the metadata in this PostgreSQL database (`postgres://user:pw@host/db`) instead
    /// of the data directory's SQLite (also `SILENT_NAS_META_URL`, `[meta] url`).
    #[arg(long, value_name = "URL")]
    meta: Option<String>,
}

/// Creates the `admin` user on a store without users. The password comes from
/// `SILENT_NAS_ADMIN_PASSWORD` or is generated and printed once on standard output
/// (never logged). Called only once every listener is bound, so a start that fails (a busy
/// port, a bad certificate) never consumes the one-time password.
fn first_admin(store: &Store, data: &std::path::Path) -> Result<()> {
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
        // the hint must work as printed, from any directory
        let dir = std::fs::canonicalize(data).unwrap_or_else(|_| data.to_path_buf());
        println!("Created user 'admin' with password: {password}");
        println!(
            "(shown once; change it with `silent-nas user passwd admin --password-stdin --data {}`)",
            shell_word(&dir.display().to_string())
        );
    } else {
        println!("Created user 'admin' with the password from SILENT_NAS_ADMIN_PASSWORD");
    }
    Ok(())
}

/// `s` as one shell word: as is when it needs no quoting, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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

/// Starts the maintenance workers (GC, retention, trash expiry, scrub, the search index,
/// cold recompression,
/// the tier mover under a `tiered` policy, the metadata backup to the object store) the configuration enables, reporting to the metrics. A door adds its own workers to
/// the same runner.
fn start_workers(
    store: &Store,
    cfg: &Config,
    metrics: Arc<nas_observe::Metrics>,
) -> Result<Arc<WorkerRunner>> {
    let runner = Arc::new(WorkerRunner::new(Some(metrics)).leased_by(store.coordinator().clone()));
    for w in maintenance_workers(store, &cfg.workers) {
        runner.add(w)?;
    }
    if let Some(w) = nas_engine::workers::recompress_worker(store, &cfg.recompress) {
        runner.add(w)?;
    }
    if let Some(every) = cfg.lifecycle_interval {
        runner.add(lifecycle_worker(store, every, cfg.lifecycle_day))?;
    }
    if let (Some(_), nas_engine::TierPolicy::Tiered(t)) = (&cfg.blobs.remote, cfg.blobs.policy) {
        runner.add(mover_worker(store, t))?;
    }
    if let (Some(_), Some(_), true) = (
        &cfg.blobs.remote,
        cfg.blobs.meta_backup_interval,
        cfg.meta.is_postgres(),
    ) {
        // a file copy of the database is SQLite's; PostgreSQL is backed up with its tools
        tracing::warn!(
            "[blobs] meta_backup_interval is ignored: the metadata is in PostgreSQL, back it \
             up with pg_dump or PostgreSQL's base backups"
        );
    } else if let (Some(_), Some(every)) = (&cfg.blobs.remote, cfg.blobs.meta_backup_interval) {
        let opts = nas_engine::BackupOptions {
            keep: cfg.blobs.meta_backup_keep,
            ..nas_engine::BackupOptions::default()
        };
        runner.add(meta_backup_worker(store, every, opts))?;
    }
    for st in runner.states() {
        tracing::info!(worker = %st.name, every = %humantime::format_duration(st.interval), "background worker scheduled");
    }
    Ok(runner)
}

/// A panic while serving a request is caught by the request guard; it is logged here as
/// one error line (where, and the message), not as a backtrace.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(at = %at, "panic: {msg}");
    }));
}

/// The metrics' own listener: the observability routes behind the request guard and the
/// request metrics (no audit: nothing there writes).
fn guarded(routes: Router, cfg: &Config, metrics: &Arc<nas_observe::Metrics>) -> Router {
    let guard_cfg = guard::GuardConfig {
        body_idle_timeout: cfg.limits.body_idle_timeout,
    };
    routes
        .layer(axum::middleware::from_fn_with_state(
            guard_cfg,
            guard::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            nas_observe::track,
        ))
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    let flags = Overrides {
        data: a.data,
        listen: a.listen,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        s3_listen: a.s3_listen,
        s3_domain: a.s3_domain,
        log_format: a.log_format,
        nats: a.nats,
        meta: a.meta,
    };
    let cfg = Config::load(a.config.as_deref(), flags)?;
    let mut filter =
        tracing_subscriber::EnvFilter::try_new(&cfg.log).context("invalid log filter")?;
    if !cfg.log.contains("s3s") {
        // s3s logs every refused request (unsigned, bad signature, NotImplemented, a
        // malformed body with its bytes) at ERROR; the S3 door logs its failures itself
        filter = filter.add_directive("s3s=off".parse().context("log directive")?);
    }
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.log_format {
        // colour only on a terminal: a log file or journal gets no escape codes
        LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // one object a line, the event's fields flattened beside level, target and time
        LogFormat::Json => lines.json().flatten_event(true).init(),
    }
    let opts = StoreOptions {
        reserve: cfg.storage.reserve,
        delta: cfg.storage.delta,
        read_cache: cfg.storage.read_cache,
        chunk_cache: cfg.storage.chunk_cache,
        remote: cfg.blobs.remote.clone(),
        pack_size: cfg.blobs.pack_size,
        gc_grace: cfg.cluster.gc_grace,
        meta: cfg.meta.clone(),
        ..StoreOptions::default()
    };
    if cfg.meta.is_postgres() {
        tracing::info!(meta = %cfg.meta, "metadata in PostgreSQL"); // never the password
    }
    if let Some(r) = &cfg.blobs.remote {
        tracing::info!(remote = %r.url(), policy = ?cfg.blobs.policy, "object-storage tier on"); // never the keys
    }
    let store = Store::open(&cfg.data, opts)
        .with_context(|| format!("cannot open store {}", cfg.data.display()))?;
    store.set_quota_counts(cfg.quota_counts)?;
    if let Some(url) = &cfg.cluster.nats {
        let c = &cfg.cluster;
        // a node hearing the bus keeps users' records (docs/design/caches.md)
        let listener = store.coordinator().shared().then(|| store.cache_users());
        let sink = nas_cluster::NatsChanges::start(url, &c.node, &c.events_prefix, listener)
            .context("cannot start change events")?;
        let target = nas_cluster::ChangeSink::status(&sink).target;
        store.publish_changes_to(Arc::new(sink));
        tracing::info!(nats = %target, node = %c.node, prefix = %c.events_prefix, "change events on NATS");
    }
    let mut auth = Authenticator::new(store.accounts());
    if let Some(counts) = store.coordinator().failure_counts() {
        auth = auth.sharing_failures(counts); // cluster mode: every node sees every failure
    }
    let auth = Arc::new(auth);
    log_panics();
    let metrics = Arc::new(nas_observe::Metrics::new());
    let workers = start_workers(&store, &cfg, metrics.clone())?;
    let audit = AuditLog::start(&store, cfg.audit_max_entries)?;
    let auditor = nas_observe::Auditor {
        log: audit.clone(),
        metrics: metrics.clone(),
        trusted_proxies: Arc::new(cfg.trusted_proxies.clone()),
    };
    let instance = node::instance_id(); // this process in the cluster's node registry
    let rest = nas_rest::RestState::new(store.clone(), auth.clone(), cfg.trusted_proxies.clone())
        .context("cannot load the REST door's token secret or sessions")?
        .with_node_instance(&instance)
        .with_workers(workers.clone())
        .with_audit(audit.clone())
        .with_upload_expiry(cfg.upload_expiry);
    if let Some(age) = cfg.upload_expiry {
        // checked hourly (or as often as the age, when shorter)
        let every = age.min(std::time::Duration::from_secs(3600));
        let r = rest.clone();
        workers.add(Worker::new("tus_uploads", every, move |_| {
            let n = r.expire_uploads(age)?;
            Ok(Outcome {
                summary: format!("removed {n} abandoned resumable uploads"),
                items: n as u64,
                ..Outcome::default()
            })
        }))?;
    }
    let sessions_of = rest.clone();
    let admins = auth.clone();
    let observe = nas_observe::Observe {
        store: store.clone(),
        metrics: metrics.clone(),
        min_free_bytes: cfg.storage.ready_min_free,
        sessions: Some(Arc::new(move || sessions_of.active_sessions())),
        audit: Some(audit.clone()),
        access: nas_observe::MetricsAccess {
            token: cfg.metrics.token.clone(),
            basic: Some(Arc::new(move |user: &str, pass: &str, client| {
                admins
                    .verify_cached(user, pass, client)
                    .or_else(|| admins.verify(user, pass, client).ok())
                    .is_some_and(|p| p.role == Role::Admin)
            })),
            open: false,
        },
    };
    let metrics_app = cfg.metrics.listen.map(|_| {
        let open = nas_observe::Observe {
            access: nas_observe::MetricsAccess {
                open: cfg.metrics.token.is_none(),
                ..observe.access.clone()
            },
            ..observe.clone()
        };
        guarded(nas_observe::routes(open), &cfg, &metrics)
    });
    let guard_cfg = guard::GuardConfig {
        body_idle_timeout: cfg.limits.body_idle_timeout,
    };
    // the read-only WebDAV view of share links: the share door checks the link, WebDAV serves
    let share_dav: nas_rest::ShareDav = Arc::new(|r: nas_rest::ShareDavRequest| {
        Box::pin(nas_webdav::serve_share_view(
            r.home, r.root, r.prefix, r.req,
        ))
    });
    let app = Router::new()
        .merge(nas_observe::routes(observe))
        .merge(nas_webdav::router(
            nas_webdav::DavState::new(store.clone(), auth)
                .with_trusted_proxies(cfg.trusted_proxies.clone())
                .with_propfind_infinity(cfg.propfind_infinity),
        ))
        .merge(
            nas_rest::share_router(rest.clone(), Some(share_dav))
                .context("cannot load the share cookie secret")?,
        )
        .merge(nas_rest::router(rest))
        .merge(nas_web::router())
        .layer(axum::middleware::from_fn_with_state(
            guard_cfg,
            guard::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            auditor.clone(),
            nas_observe::audit_trail,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            nas_observe::track,
        ));
    // the web UI's session cookies are Secure when the server itself speaks TLS
    let app = match cfg.tls {
        Some(_) => app.layer(axum::Extension(nas_rest::OverTls)),
        None => app,
    };
    let listeners =
        1 + usize::from(cfg.s3_listen.is_some()) + usize::from(cfg.metrics.listen.is_some());
    listener::raise_open_files(&cfg.limits, listeners);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // bind every listener (and load the certificate) before anything is printed or
        // created: a start that fails here leaves the store as it was
        let listener = std::net::TcpListener::bind(cfg.listen).with_context(|| format!("cannot listen on {}", cfg.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let s3_listener = match cfg.s3_listen {
            Some(s3_addr) => {
                let l = std::net::TcpListener::bind(s3_addr).with_context(|| format!("cannot listen on {s3_addr} for S3"))?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        let metrics_listener = match cfg.metrics.listen {
            Some(m_addr) => {
                let l = std::net::TcpListener::bind(m_addr).with_context(|| format!("cannot listen on {m_addr} for metrics"))?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        let tls = match &cfg.tls {
            Some(t) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                Some(
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&t.cert, &t.key)
                        .await
                        .with_context(|| format!("cannot load TLS certificate {} / key {}", t.cert.display(), t.key.display()))?,
                )
            }
            None => None,
        };
        first_admin(&store, &cfg.data)?;
        let scheme = if cfg.tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, data = %cfg.data.display(), "silent-nas listening ({scheme}); WebDAV at /dav/, REST at /api/v1/");
        println!("listening on {scheme}://{addr}/ (WebDAV: {scheme}://{addr}/dav/)");
        if let Some(u) = &cfg.public_url {
            println!("public URL: {}/dav/", u.trim_end_matches('/'));
        }
        let announced = store.coordinator().node_registry().map(|registry| {
            let address = match &cfg.public_url {
                Some(u) => u.trim_end_matches('/').to_owned(),
                None => format!("{scheme}://{addr}"),
            };
            node::announce(registry, &cfg.cluster.node, &instance, &address)
        });
        let handle = axum_server::Handle::new();
        if let Some(l) = s3_listener {
            let bound = l.local_addr()?;
            let opts = nas_s3::S3Options {
                domain: cfg.s3_domain.clone(),
                public_access: cfg.s3_public_access,
            };
            let (s3_app, s3) = nas_s3::router(store.clone(), opts).map_err(anyhow::Error::msg)?;
            if let Some(every) = cfg.lifecycle_interval {
                // buckets' AbortIncompleteMultipartUpload rules (the uploads are the door's)
                let (s3, day) = (s3.clone(), cfg.lifecycle_day);
                workers.add(Worker::new("s3_uploads_lifecycle", every, move |_| {
                    let n = s3.abort_uploads_by_lifecycle(day)?;
                    Ok(Outcome {
                        summary: format!("aborted {n} multipart uploads by lifecycle rules"),
                        items: n as u64,
                        ..Outcome::default()
                    })
                }))?;
            }
            if let Some(age) = cfg.s3_upload_expiry {
                // checked hourly (or as often as the age, when shorter)
                let every = age.min(std::time::Duration::from_secs(3600));
                workers.add(Worker::new("s3_uploads", every, move |_| {
                    let n = s3.expire_uploads(age)?;
                    Ok(Outcome {
                        summary: format!("removed {n} abandoned multipart uploads"),
                        items: n as u64,
                        ..Outcome::default()
                    })
                }))?;
            }
            let s3_app = s3_app
                .layer(axum::middleware::from_fn_with_state(guard_cfg, guard::guard))
                .layer(axum::middleware::from_fn_with_state(auditor.clone(), nas_observe::audit_trail))
                .layer(axum::middleware::from_fn_with_state(metrics.clone(), nas_observe::track))
                .layer(axum::Extension(nas_observe::Door("s3")));
            let style = match &cfg.s3_domain {
                Some(d) => format!("path-style and virtual-host *.{d}"),
                None => "path-style".to_owned(),
            };
            println!("S3 API on {scheme}://{bound}/ (region us-east-1, {style})");
            let (h, t, limits, series) = (handle.clone(), tls.clone(), cfg.limits.clone(), metrics.connections("s3"));
            // stops with the shared handle at shutdown
            tokio::spawn(async move { listener::serve(l, t, s3_app, &limits, h, series).await });
        }
        if let (Some(l), Some(m_app)) = (metrics_listener, metrics_app) {
            let access = if cfg.metrics.token.is_some() { "bearer token or admin" } else { "open" };
            println!("metrics on {scheme}://{}/metrics ({access})", l.local_addr()?);
            let (h, t, limits, series) = (handle.clone(), tls.clone(), cfg.limits.clone(), metrics.connections("metrics"));
            tokio::spawn(async move { listener::serve(l, t, m_app, &limits, h, series).await });
        }
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            stopper.graceful_shutdown(None); // no new connections; requests in flight go on
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            // the grace period is over: what is still in flight is cut off, and the request
            // guard logs each body dropped unfinished — the flag is set before the forced
            // close drops them, never after (the server's own 30 s timer raced with it)
            guard::CUT_OFF.store(true, std::sync::atomic::Ordering::Release);
            stopper.shutdown();
        });
        let served = listener::serve(listener, tls, app, &cfg.limits, handle, metrics.connections("main"))
            .await
            .context("server failed");
        if let Some(a) = announced {
            a.leave(); // no longer serving: out of the registry
        }
        served
    })?;
    // whatever the runtime still holds is cut off (and logged as such by the request guard
    // when its body is dropped with the runtime's tasks)
    guard::CUT_OFF.store(true, std::sync::atomic::Ordering::Release);
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    workers.stop();
    audit.stop(); // stores the entries still queued
    drop(store);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
