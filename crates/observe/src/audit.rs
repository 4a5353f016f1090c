//! The audit middleware: after each request, records a change (a write method of WebDAV,
//! S3 or REST, whatever its status) or a refusal (401 or 403 at any door) in the
//! [`AuditLog`], and counts it in `silent_nas_audit_events_total{door,kind}`; the log's
//! own losses and pruning are counted at each scrape ([`AuditSeries`]). The user is
//! what the door noted in the request's [`AuditNote`] (a bearer token's owner, the name a
//! REST login tried), else the name of HTTP Basic credentials (never the password); an S3
//! request names its access key id, whose owner the log's writer looks up. Only the path
//! is kept, never the query string (a presigned URL carries its signature there).

use crate::Metrics;
use crate::metrics::{Door, door_of};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use nas_engine::audit::{AuditCounts, AuditLog, AuditNote, AuditRecord};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

type Labels = Vec<(String, String)>;

/// The audit log's series: entries recorded (by the middleware, as requests end), and
/// entries dropped or pruned (copied from [`AuditLog::counts`] at each scrape).
pub(crate) struct AuditSeries {
    events: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    pruned: Counter,
    /// The log's counts at the last scrape: counters move by the difference.
    seen: Mutex<AuditCounts>,
}

fn reason(r: &str) -> Labels {
    vec![("reason".into(), r.into())]
}

impl AuditSeries {
    pub(crate) fn register(r: &mut Registry) -> AuditSeries {
        let s = AuditSeries {
            events: Family::default(),
            dropped: Family::default(),
            pruned: Counter::default(),
            seen: Mutex::default(),
        };
        r.register(
            "silent_nas_audit_events",
            "Audit log entries by door and kind (write, auth_failure)",
            s.events.clone(),
        );
        r.register(
            "silent_nas_audit_dropped_entries",
            "Audit log entries lost, by reason: queue_full (the writer was behind, or stopped) or write_error (the database refused a batch)",
            s.dropped.clone(),
        );
        r.register(
            "silent_nas_audit_pruned_entries",
            "Old audit log entries deleted to keep the log to audit_max_entries",
            s.pruned.clone(),
        );
        for why in ["queue_full", "write_error"] {
            s.dropped.get_or_create(&reason(why)).inc_by(0);
        }
        s
    }

    /// Counts an audit log entry.
    pub(crate) fn event(&self, door: &str, kind: &str) {
        self.events
            .get_or_create(&vec![
                ("door".into(), door.into()),
                ("kind".into(), kind.into()),
            ])
            .inc();
    }

    /// Moves the counters to the log's current counts (which only grow).
    pub(crate) fn sync(&self, now: AuditCounts) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        self.dropped
            .get_or_create(&reason("queue_full"))
            .inc_by(now.dropped.saturating_sub(seen.dropped));
        self.dropped
            .get_or_create(&reason("write_error"))
            .inc_by(now.failed.saturating_sub(seen.failed));
        self.pruned.inc_by(now.pruned.saturating_sub(seen.pruned));
        *seen = now;
    }
}

/// State of [`audit_trail`].
#[derive(Clone)]
pub struct Auditor {
    /// Where entries go.
    pub log: AuditLog,
    /// Counts entries by door and kind.
    pub metrics: Arc<Metrics>,
    /// Peers whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Arc<Vec<IpAddr>>,
}

/// Whether `method` changes something at `door`.
fn is_write(door: &str, method: &Method) -> bool {
    let m = method.as_str();
    match door {
        "webdav" => matches!(
            m,
            "PUT" | "DELETE" | "MKCOL" | "MOVE" | "COPY" | "PROPPATCH" | "LOCK" | "UNLOCK"
        ),
        "s3" => matches!(m, "PUT" | "POST" | "DELETE"),
        "rest" => matches!(m, "POST" | "PUT" | "PATCH" | "DELETE"),
        _ => false,
    }
}

/// The user name of HTTP Basic credentials (`DOMAIN\user` → `user`); the password is
/// dropped here.
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let user = s.split_once(':')?.0;
    let user = user.rsplit('\\').next().unwrap_or(user);
    (!user.is_empty()).then(|| user.to_owned())
}

/// The access key id an S3 request is signed with: SigV4 or SigV2 header, or a presigned
/// URL's query.
fn s3_access_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(i) = v.find("Credential=") {
            let rest = &v[i + "Credential=".len()..];
            return rest.split('/').next().map(str::to_owned);
        }
        if let Some(rest) = v.strip_prefix("AWS ") {
            return rest.split(':').next().map(|k| k.trim().to_owned());
        }
    }
    for pair in query?.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "X-Amz-Credential" || k == "AWSAccessKeyId" {
            let v = percent_decode(v);
            return v.split('/').next().map(str::to_owned);
        }
    }
    None
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(x) = u8::from_str_radix(h, 16)
        {
            out.push(x);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path of a WebDAV `Destination` (an absolute URL or a path).
fn destination(headers: &HeaderMap) -> Option<String> {
    let d = headers.get("destination")?.to_str().ok()?;
    let path = match d.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => d,
    };
    Some(path.split('?').next().unwrap_or(path).to_owned())
}

fn client(req: &Request, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    Some(nas_auth::client_address(peer, forwarded, trusted))
}

/// Axum middleware writing the audit log (see the module docs).
pub async fn audit_trail(State(a): State<Auditor>, mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/s/") {
        // share links: their door writes its own entries, naming the share by its id
        // (the path holds the link's token, which must not reach the database)
        return next.run(req).await;
    }
    let door = match req.extensions().get::<Door>() {
        Some(d) => d.0,
        None => door_of(req.uri().path()),
    };
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let ip = client(&req, &a.trusted_proxies);
    let basic = basic_user(req.headers());
    let key = (door == "s3")
        .then(|| s3_access_key(req.headers(), req.uri().query()))
        .flatten();
    let dest = matches!(method.as_str(), "MOVE" | "COPY")
        .then(|| destination(req.headers()))
        .flatten();
    let note = AuditNote::default();
    req.extensions_mut().insert(note.clone());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let kind = if status == 401 || status == 403 {
        "auth_failure"
    } else if is_write(door, &method) {
        "write"
    } else {
        return resp;
    };
    a.metrics.audit.event(door, kind);
    a.log.record(AuditRecord {
        id: 0,
        time_ns: nas_engine::now_ns(),
        user: note.user().or(basic),
        door: door.to_owned(),
        kind: kind.to_owned(),
        client: ip.map(|i| i.to_string()),
        method: method.as_str().to_owned(),
        path,
        status,
        destination: note.destination().or(dest),
        access_key: key,
    });
    resp
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn credentials_give_names_never_secrets() {
        let b = base64::engine::general_purpose::STANDARD.encode("CORP\\alice:s3cret:x");
        let h = headers(&[("authorization", &format!("Basic {b}"))]);
        assert_eq!(basic_user(&h).as_deref(), Some("alice"));
        let v4 = "AWS4-HMAC-SHA256 Credential=SNABC/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ff";
        let h = headers(&[("authorization", v4)]);
        assert_eq!(s3_access_key(&h, None).as_deref(), Some("SNABC"));
        let h = headers(&[("authorization", "AWS SNV2:sig")]);
        assert_eq!(s3_access_key(&h, None).as_deref(), Some("SNV2"));
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=SNQ%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab";
        assert_eq!(
            s3_access_key(&HeaderMap::new(), Some(q)).as_deref(),
            Some("SNQ")
        );
        let h = headers(&[("destination", "http://127.0.0.1:80/dav/b%20c.txt")]);
        assert_eq!(destination(&h).as_deref(), Some("/dav/b%20c.txt"));
        assert!(is_write("webdav", &Method::from_bytes(b"MKCOL").unwrap()));
        assert!(!is_write("webdav", &Method::GET));
        assert!(!is_write("ops", &Method::POST));
    }

    #[test]
    fn the_logs_losses_and_pruning_become_counters() {
        let m = Metrics::new();
        let sample = |t: &str, series: &str| -> Option<f64> {
            t.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        };
        let t = m.text();
        for r in ["queue_full", "write_error"] {
            let s = format!(r#"silent_nas_audit_dropped_entries_total{{reason="{r}"}}"#);
            assert_eq!(sample(&t, &s), Some(0.0), "{t}");
        }
        assert_eq!(
            sample(&t, "silent_nas_audit_pruned_entries_total"),
            Some(0.0)
        );
        m.audit.sync(AuditCounts {
            dropped: 3,
            failed: 0,
            pruned: 10,
        });
        m.audit.sync(AuditCounts {
            dropped: 4,
            failed: 2,
            pruned: 25,
        });
        let t = m.text();
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_audit_dropped_entries_total{reason="queue_full"}"#
            ),
            Some(4.0)
        );
        assert_eq!(
            sample(
                &t,
                r#"silent_nas_audit_dropped_entries_total{reason="write_error"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(&t, "silent_nas_audit_pruned_entries_total"),
            Some(25.0)
        );
        assert!(t.contains("# TYPE silent_nas_audit_pruned_entries_total counter"));
    }
}
