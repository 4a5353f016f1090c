//! A WebDAV `If:` header (RFC 4918 §10.4) as the door lets it through: what
//! `nas_webdav::check_if_header` accepts, dav-server's parser (private: reached through a
//! request) handles without a panic, and the PUT always gets an answer. (Found here:
//! `If: *[` made that parser read past the end; the door now refuses such headers.)
#![no_main]

use dav_server::{DavHandler, fakels::FakeLs, memfs::MemFs};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn handler() -> &'static (tokio::runtime::Runtime, DavHandler) {
    static H: OnceLock<(tokio::runtime::Runtime, DavHandler)> = OnceLock::new();
    H.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let h = DavHandler::builder()
            .filesystem(MemFs::new())
            .locksystem(FakeLs::new())
            .build_handler();
        (rt, h)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert("if", value.clone());
    if nas_webdav::check_if_header(&headers).is_err() {
        return;
    }
    let (rt, h) = handler();
    let req = http::Request::builder()
        .method("PUT")
        .uri("/f.txt")
        .header("If", value)
        .body(dav_server::body::Body::from("x"))
        .expect("request");
    let resp = rt.block_on(h.handle(req));
    assert!(resp.status().as_u16() >= 200, "a final answer");
});
