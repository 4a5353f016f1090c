//! A REST JSON body: the door's depth guard never panics, and what it lets through parses
//! (or fails) in serde_json without a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > nas_rest::MAX_JSON_BODY
        || nas_rest::check_json_depth(data, nas_rest::MAX_JSON_DEPTH).is_err()
    {
        return;
    }
    let _ = serde_json::from_slice::<serde_json::Value>(data);
});
