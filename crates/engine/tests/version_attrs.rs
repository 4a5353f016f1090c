//! Changing a version's attributes in place: no new version, content and other versions
//! untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{EngineError, FileAttrs, WriteOptions};
use nas_types::VersionNum;

fn attrs(k: &str, v: &str) -> FileAttrs {
    let mut a = FileAttrs {
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    a.user.insert(k.into(), v.into());
    a
}

#[test]
fn a_versions_attributes_change_in_place() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/f");
    let opts = |v: &str| WriteOptions {
        attrs: attrs("k", v),
        ..Default::default()
    };
    let v1 = h.write_all(&f, b"one", opts("1")).unwrap();
    let v2 = h.write_all(&f, b"two", opts("2")).unwrap();
    h.set_version_attrs(&f, v1.num, &attrs("k", "changed"))
        .unwrap();
    let all = h.versions(&f).unwrap();
    assert_eq!(all.len(), 2, "no version was added");
    assert_eq!(all[0].attrs.user["k"], "changed");
    assert_eq!(all[0].hash, v1.hash, "content untouched");
    assert_eq!(all[1].attrs.user["k"], "2", "the other version untouched");
    // the head, likewise: stat sees it, the content is the same
    h.set_version_attrs(&f, v2.num, &attrs("t", "x")).unwrap();
    let e = h.stat(&f).unwrap();
    assert_eq!(e.version, Some(v2.num));
    assert_eq!(e.attrs.user.get("t").map(String::as_str), Some("x"));
    assert!(!e.attrs.user.contains_key("k"), "replaced, not merged");
    assert_eq!(h.read_all(&f, None).unwrap(), b"two");
    // a missing version or file, and a folder
    assert!(matches!(
        h.set_version_attrs(&f, VersionNum(99), &attrs("k", "v")),
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        h.set_version_attrs(&p("/nope"), v1.num, &attrs("k", "v")),
        Err(EngineError::NotFound(_))
    ));
    h.mkdir(&p("/d")).unwrap();
    assert!(matches!(
        h.set_version_attrs(&p("/d"), v1.num, &attrs("k", "v")),
        Err(EngineError::IsADirectory(_))
    ));
}
