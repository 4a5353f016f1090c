//! A COPY/MOVE `Destination` header with the request's `Host`: the door's check never
//! panics (the dav-server panic of issue 18 came from such headers), and what it accepts
//! is a `/dav/` path below the home root.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (host, dest) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"nas.example"[..], data),
    };
    let mut headers = HeaderMap::new();
    if let Ok(h) = HeaderValue::from_bytes(host) {
        headers.insert(http::header::HOST, h);
    }
    let dest = HeaderValue::from_bytes(dest).ok();
    if let Ok(path) = nas_webdav::check_destination(dest.as_ref(), &headers) {
        assert!(path.starts_with("/dav/") && path.len() > "/dav/".len(), "{path}");
        let _ = nas_webdav::check_nesting("/dav/a/b", &path);
    }
});
