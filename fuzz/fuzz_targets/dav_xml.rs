//! A WebDAV request body (PROPFIND, PROPPATCH, LOCK) as the door gets it: the door's guard
//! (`check_xml_depth`) never panics, and a body it lets through is parsed by xmltree —
//! dav-server's recursive parser — without a stack overflow, on libFuzzer's thread (whose
//! stack is smaller than a tokio worker's 2 MiB, so passing here has margin).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nas_webdav::xml_guard::{MAX_XML_BODY, MAX_XML_DEPTH, check_xml_depth};

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_XML_BODY || check_xml_depth(data, MAX_XML_DEPTH).is_err() {
        return;
    }
    let _ = xmltree::Element::parse(data);
});
