//! A `Range` header against a file size, as every door plans it: parsing never panics, and
//! a plan is never larger than the file — ranges inside it, sorted, disjoint, not adjacent,
//! never empty; a multi-range plan's bytes plus framing stay below the file's size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nas_types::{MULTIPART_PART_OVERHEAD, RangePlan, RangeRequest};

fn check(plan: &RangePlan, size: u64, single: bool) {
    let RangePlan::Ranges(rs) = plan else {
        return;
    };
    assert!(!rs.is_empty());
    assert!(!single || rs.len() == 1, "{rs:?}");
    for w in rs.windows(2) {
        assert!(w[0].end < w[1].start, "sorted, disjoint, not adjacent: {rs:?}");
    }
    for r in rs {
        assert!(r.start < r.end && r.end <= size, "{r:?} in {size}");
    }
    if rs.len() > 1 {
        let total: u64 = rs.iter().map(|r| r.len() + MULTIPART_PART_OVERHEAD).sum();
        assert!(total < size, "a multipart answer never outgrows the file");
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8])) % (1 << 40);
    let Ok(header) = std::str::from_utf8(&data[8..]) else {
        return;
    };
    if let Some(req) = RangeRequest::parse(header) {
        check(&req.plan(size), size, false);
        check(&req.plan_single(size), size, true);
    }
});
