//! The OpenAPI 3.1 description of the API, generated from the handlers' `#[utoipa::path]`
//! annotations and the body types' schemas, served at `GET /api/v1/openapi.json`.

use crate::{
    account, admin, audit, cookie, credentials, download, error, files, instant, list, ops, search,
    shares, trash, tus, upload, versions, zip_folder,
};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Silent-NAS REST API",
        version = "1",
        description = "JSON API over a user's home: files, versions, trash, accounts. \
            Errors are {\"error\":{\"code\",\"message\"}}. Sign in at /api/v1/auth/login \
            and send Authorization: Bearer <access_token>; HTTP Basic with the password \
            also works (for scripts)."
    ),
    paths(
        account::login, account::refresh, account::logout, account::me,
        cookie::sign_in, cookie::sign_out, account::change_password,
        credentials::list_app_passwords, credentials::create_app, credentials::delete_app,
        credentials::list_keys, credentials::create_key, credentials::revoke_key,
        files::get_files, files::stat, files::mkdir, files::move_entry, files::copy_entry,
        files::delete,
        download::download, upload::upload, instant::instant, search::search,
        versions::list, versions::restore, versions::delete,
        trash::list, trash::restore, trash::purge_one, trash::purge_all,
        admin::list_users, admin::create_user, admin::update_user, admin::delete_user,
        admin::stats,
        ops::list_keys, ops::create, ops::revoke, ops::list_locks, ops::break_lock,
        ops::list_workers, ops::run_worker, ops::list_nodes, audit::list,
        tus::describe, tus::create, tus::head, tus::patch::patch, tus::terminate,
        shares::create, shares::list, shares::revoke, zip_folder::zip,
    ),
    components(schemas(error::ErrorBody, list::Sort, list::Order)),
    modifiers(&Security),
    security(("bearer" = []), ("basic" = [])),
    tags(
        (name = "auth", description = "Sign in, refresh, sign out"),
        (name = "account", description = "The signed-in user, their app passwords and S3 keys"),
        (name = "files", description = "Files and folders of the caller's home"),
        (name = "versions", description = "Versions of a file"),
        (name = "trash", description = "The caller's trash"),
        (name = "admin", description = "Accounts, store totals, S3 keys, WebDAV locks, \
            background workers (start GC or scrub), the cluster's nodes and the audit log \
            (admins only)"),
        (name = "shares", description = "Share links of the caller's files and folders \
            (recipients use /s/{token}, see docs/design/shares.md)"),
        (name = "tus", description = "Resumable uploads (tus 1.0: creation, termination, checksum, expiration)"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        c.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// The description as JSON (built once).
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| {
            format!("{{\"error\":{{\"code\":\"internal\",\"message\":\"{e}\"}}}}")
        })
    })
}

/// `GET /api/v1/openapi.json` (no sign-in needed).
pub async fn serve() -> Response {
    let mut r = json().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_description_names_every_route() {
        let v: serde_json::Value = serde_json::from_str(super::json()).unwrap();
        let paths = v["paths"].as_object().unwrap();
        for p in [
            "/api/v1/auth/login",
            "/api/v1/files/{path}",
            "/api/v1/download/{path}",
            "/api/v1/upload/{path}",
            "/api/v1/versions/{path}/restore",
            "/api/v1/trash/restore",
            "/api/v1/admin/users/{name}",
            "/api/v1/admin/keys",
            "/api/v1/admin/keys/{id}",
            "/api/v1/admin/locks/{token}",
            "/api/v1/admin/workers",
            "/api/v1/admin/workers/{name}/run",
            "/api/v1/admin/audit",
            "/api/v1/shares",
            "/api/v1/shares/{id}",
            "/api/v1/zip/{path}",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        assert!(v["components"]["schemas"]["ErrorBody"].is_object());
    }

    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_operation_ids_are_unique() {
        let v: serde_json::Value = serde_json::from_str(super::json()).unwrap();
        let mut all = Vec::new();
        refs(&v, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(v["components"]["schemas"][name].is_object(), "{r} dangles");
        }
        let mut ids: Vec<&str> = v["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|p| p.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap())
            .collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate operationId");
    }
}
