//! A request path as every door gets it: `NasPath::parse` never panics, and what it accepts
//! is normalized (parsing its own output gives it back) and confined (no `..`, no empty or
//! `.` segment).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nas_types::NasPath;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = NasPath::parse(s) {
        let again = NasPath::parse(p.as_str()).expect("a normalized path parses");
        assert_eq!(again, p);
        for seg in p.segments() {
            assert!(!seg.is_empty() && seg != "." && seg != "..", "{p}");
        }
    }
});
