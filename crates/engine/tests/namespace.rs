//! Namespace, versions and trash through the engine facade, on a real store on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{EngineError, FileAttrs, NodeKind, RetentionPolicy, WriteOptions};
use nas_types::{ByteRange, TrashId, VersionNum};
use std::io::Read;

#[test]
fn write_read_overwrite_keeps_versions() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/doc.txt");
    let v1 = h.write_all(&f, b"one", WriteOptions::default()).unwrap();
    let v2 = h.write_all(&f, b"two!", WriteOptions::default()).unwrap();
    assert_eq!((v1.num, v2.num), (VersionNum(1), VersionNum(2)));
    assert_eq!(h.read_all(&f, None).unwrap(), b"two!");
    assert_eq!(h.read_all(&f, Some(VersionNum(1))).unwrap(), b"one");
    let st = h.stat(&f).unwrap();
    assert_eq!(
        (st.size, st.kind, st.version),
        (4, NodeKind::File, Some(VersionNum(2)))
    );
    assert_eq!(st.hash.unwrap(), nas_types::ContentHash::of(b"two!"));
    // restore: becomes newest, nothing lost
    let v3 = h.restore_version(&f, VersionNum(1)).unwrap();
    assert_eq!(v3.num, VersionNum(3));
    assert_eq!(h.read_all(&f, None).unwrap(), b"one");
    assert_eq!(h.versions(&f).unwrap().len(), 3);
    h.delete_version(&f, VersionNum(2)).unwrap();
    let nums: Vec<_> = h.versions(&f).unwrap().iter().map(|v| v.num.0).collect();
    assert_eq!(nums, vec![1, 3]);
    assert!(matches!(
        h.read_all(&f, Some(VersionNum(2))),
        Err(EngineError::NotFound(_))
    ));
    // numbers are never reused
    assert_eq!(
        h.write_all(&f, b"four", WriteOptions::default())
            .unwrap()
            .num,
        VersionNum(4)
    );
}

#[test]
fn empty_and_large_files_and_ranges() {
    let (_d, s) = store();
    let h = home(&s);
    h.write_all(&p("/empty"), b"", WriteOptions::default())
        .unwrap();
    assert_eq!(h.read_all(&p("/empty"), None).unwrap(), b"");
    let data = random_bytes(3_000_000, 1);
    h.write_all(&p("/big"), &data, WriteOptions::default())
        .unwrap();
    let r = h.open(&p("/big"), None).unwrap();
    for (a, b) in [
        (0, 10),
        (65_535, 65_537),
        (1_000_000, 2_500_000),
        (2_999_990, 3_000_000),
        (5, 5),
    ] {
        let got = r
            .range(ByteRange { start: a, end: b })
            .read_to_vec()
            .unwrap();
        assert_eq!(got, &data[a as usize..b as usize], "range {a}..{b}");
    }
    let mut via_read = Vec::new();
    r.range(ByteRange {
        start: 100,
        end: 4_000_000,
    })
    .read_to_end(&mut via_read)
    .unwrap();
    assert_eq!(via_read, &data[100..]);
}

#[test]
fn dedup_and_compression_show_in_stats() {
    let (_d, s) = store();
    let h = home(&s);
    let text = text_bytes(1_000_000, 3);
    h.write_all(&p("/a.txt"), &text, WriteOptions::default())
        .unwrap();
    let before = s.stats().unwrap();
    h.write_all(&p("/b.txt"), &text, WriteOptions::default())
        .unwrap();
    let after = s.stats().unwrap();
    assert_eq!(
        before.stored_bytes, after.stored_bytes,
        "identical file stores nothing new"
    );
    assert_eq!(after.logical_bytes, 2_000_000);
    assert!(after.dedup_ratio > 1.9);
    assert!(
        after.compression_ratio > 2.0,
        "text compresses: {}",
        after.compression_ratio
    );
    assert_eq!(after.files, 2);
}

#[test]
fn mkdir_list_pages_sorted() {
    let (_d, s) = store();
    let h = home(&s);
    h.mkdir_all(&p("/d/e")).unwrap();
    h.mkdir_all(&p("/d/e")).unwrap();
    assert!(matches!(
        h.mkdir(&p("/d")),
        Err(EngineError::AlreadyExists(_))
    ));
    assert!(matches!(
        h.mkdir(&p("/nope/x")),
        Err(EngineError::NotFound(_))
    ));
    for i in (0..25).rev() {
        h.write_all(&p(&format!("/d/f{i:02}")), b"x", WriteOptions::default())
            .unwrap();
    }
    let mut names = Vec::new();
    let mut after = None;
    loop {
        let page = h.list(&p("/d"), after.as_deref(), 10).unwrap();
        assert!(page.entries.len() <= 10);
        names.extend(page.entries.iter().map(|e| e.name().to_owned()));
        match page.next_after {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(names.len(), 26);
    assert_eq!(names[0], "e");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(matches!(
        h.list(&p("/d/f01"), None, 10),
        Err(EngineError::NotADirectory(_))
    ));
    assert!(matches!(
        h.write_all(&p("/d/f01/x"), b"", WriteOptions::default()),
        Err(EngineError::NotADirectory(_))
    ));
    assert!(matches!(
        h.write_all(&p("/d/e"), b"", WriteOptions::default()),
        Err(EngineError::IsADirectory(_))
    ));
}

#[test]
fn folder_move_is_one_update_and_copy_shares_chunks() {
    let (_d, s) = store();
    let h = home(&s);
    h.mkdir_all(&p("/src/deep/er")).unwrap();
    let data = random_bytes(500_000, 9);
    for i in 0..50 {
        h.write_all(
            &p(&format!("/src/deep/er/f{i}")),
            &data[i * 100..],
            WriteOptions::default(),
        )
        .unwrap();
    }
    let id = h.stat(&p("/src/deep")).unwrap().id;
    h.rename(&p("/src/deep"), &p("/moved"), false).unwrap();
    assert_eq!(
        h.stat(&p("/moved")).unwrap().id,
        id,
        "same node: nothing was copied"
    );
    assert_eq!(h.read_all(&p("/moved/er/f7"), None).unwrap(), &data[700..]);
    assert!(!h.exists(&p("/src/deep")).unwrap());
    assert!(matches!(
        h.rename(&p("/moved"), &p("/moved/er/x"), false),
        Err(EngineError::Conflict(_))
    ));

    let before = s.stats().unwrap();
    h.copy(&p("/moved"), &p("/copy"), false).unwrap();
    let after = s.stats().unwrap();
    assert_eq!(
        before.stored_bytes, after.stored_bytes,
        "copy stores no data"
    );
    assert_eq!(after.files, 100);
    assert_eq!(h.read_all(&p("/copy/er/f3"), None).unwrap(), &data[300..]);
    // overwrite rules
    h.write_all(&p("/x"), b"x", WriteOptions::default())
        .unwrap();
    h.write_all(&p("/y"), b"y", WriteOptions::default())
        .unwrap();
    assert!(matches!(
        h.rename(&p("/x"), &p("/y"), false),
        Err(EngineError::AlreadyExists(_))
    ));
    h.rename(&p("/x"), &p("/y"), true).unwrap();
    assert_eq!(h.read_all(&p("/y"), None).unwrap(), b"x");
    let t = h.trash_list().unwrap();
    assert_eq!(t.len(), 1, "the overwritten destination went to the trash");
    assert_eq!(t[0].path, "/y");
}

#[test]
fn trash_restore_purge_expire() {
    let (_d, s) = store();
    let h = home(&s);
    h.mkdir_all(&p("/a/b")).unwrap();
    h.write_all(&p("/a/b/f"), b"data", WriteOptions::default())
        .unwrap();
    let t = h.delete(&p("/a")).unwrap();
    assert!(!h.exists(&p("/a/b/f")).unwrap());
    assert_eq!(h.trash_list().unwrap()[0].kind, NodeKind::Dir);
    // restore to the old path
    assert_eq!(h.trash_restore(t.id, None).unwrap(), p("/a"));
    assert_eq!(h.read_all(&p("/a/b/f"), None).unwrap(), b"data");
    // restore to a new path; old parent gone -> re-created
    let t = h.delete(&p("/a/b/f")).unwrap();
    h.delete(&p("/a")).unwrap();
    let t2 = h.trash_list().unwrap();
    assert_eq!(t2.len(), 2);
    h.trash_restore(t.id, None).unwrap();
    assert_eq!(h.read_all(&p("/a/b/f"), None).unwrap(), b"data");
    h.write_all(&p("/g"), b"g", WriteOptions::default())
        .unwrap();
    let tg = h.delete(&p("/g")).unwrap();
    h.trash_restore(tg.id, Some(&p("/a/g2"))).unwrap();
    assert_eq!(h.read_all(&p("/a/g2"), None).unwrap(), b"g");
    // purge & errors
    let other = s.home("other").unwrap();
    let left = h.trash_list().unwrap();
    assert!(
        matches!(other.trash_purge(left[0].id), Err(EngineError::NotFound(_))),
        "homes are separate"
    );
    h.trash_purge(left[0].id).unwrap();
    assert!(matches!(
        h.trash_restore(left[0].id, None),
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        h.trash_purge(TrashId(9999)),
        Err(EngineError::NotFound(_))
    ));
    h.write_all(&p("/z"), b"z", WriteOptions::default())
        .unwrap();
    h.delete(&p("/z")).unwrap();
    assert_eq!(
        s.expire_trash(std::time::Duration::from_secs(3600))
            .unwrap(),
        0
    );
    assert_eq!(s.expire_trash(std::time::Duration::ZERO).unwrap(), 1);
    assert!(h.trash_list().unwrap().is_empty());
    assert!(matches!(
        h.delete(&nas_types::NasPath::root()),
        Err(EngineError::Conflict(_))
    ));
}

#[test]
fn metadata_mtime_attrs() {
    let (_d, s) = store();
    let h = home(&s);
    let mut attrs = FileAttrs {
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    attrs.user.insert("colour".into(), "blue".into());
    h.write_all(
        &p("/m"),
        b"x",
        WriteOptions {
            mtime_ns: Some(1_000_000_000),
            attrs: attrs.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    let e = h.stat(&p("/m")).unwrap();
    assert_eq!(e.mtime_ns, 1_000_000_000);
    assert_eq!(e.attrs, attrs);
    h.set_mtime(&p("/m"), 42).unwrap();
    assert_eq!(h.stat(&p("/m")).unwrap().mtime_ns, 42);
    attrs.user.clear();
    h.set_attrs(&p("/m"), &attrs).unwrap();
    assert!(h.stat(&p("/m")).unwrap().attrs.user.is_empty());
}

#[test]
fn unicode_names_are_one_name_in_either_form() {
    let (_d, s) = store();
    let h = home(&s);
    h.write_all(&p("/caf\u{e9}"), b"nfc", WriteOptions::default())
        .unwrap();
    h.write_all(&p("/cafe\u{301}"), b"nfd", WriteOptions::default())
        .unwrap();
    assert_eq!(h.versions(&p("/caf\u{e9}")).unwrap().len(), 2);
    assert_eq!(h.list(&p("/"), None, 10).unwrap().entries.len(), 1);
}

#[test]
fn retention_prunes_and_gc_frees() {
    let (_d, s) = store();
    let h = home(&s);
    for i in 0..5 {
        h.write_all(&p("/f"), &random_bytes(200_000, i), WriteOptions::default())
            .unwrap();
    }
    let plan = s
        .retention_plan(&RetentionPolicy {
            keep_last: Some(2),
            keep_within: None,
        })
        .unwrap();
    assert_eq!(plan.victims.len(), 3);
    assert_eq!(s.versions_count(), 5);
    assert_eq!(s.retention_execute(&plan).unwrap(), 3);
    let nums: Vec<_> = h
        .versions(&p("/f"))
        .unwrap()
        .iter()
        .map(|v| v.num.0)
        .collect();
    assert_eq!(nums, vec![4, 5]);
    let dry = s.gc(true).unwrap();
    assert!(dry.plan.chunks > 0);
    assert_eq!(dry.chunks_freed, 0);
    let before = s.stats().unwrap();
    let r = s.gc(false).unwrap();
    assert_eq!(r.chunks_freed, dry.plan.chunks);
    let after = s.stats().unwrap();
    assert!(after.stored_bytes < before.stored_bytes);
    assert_eq!(
        h.read_all(&p("/f"), Some(VersionNum(4))).unwrap(),
        random_bytes(200_000, 3)
    );
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

trait Count {
    fn versions_count(&self) -> u64;
}
impl Count for nas_engine::Store {
    fn versions_count(&self) -> u64 {
        self.stats().unwrap().versions
    }
}

#[test]
fn second_open_is_refused() {
    let (d, _s) = store();
    let again = nas_engine::Store::open(d.path(), Default::default());
    assert!(matches!(again, Err(EngineError::Locked(_))));
}

#[test]
fn interrupted_write_leaves_old_version() {
    let (_d, s) = store();
    let h = home(&s);
    h.write_all(&p("/f"), b"old", WriteOptions::default())
        .unwrap();
    let mut w = h.writer(&p("/f"), WriteOptions::default()).unwrap();
    w.write(&random_bytes(1_000_000, 5)).unwrap();
    drop(w);
    assert_eq!(h.read_all(&p("/f"), None).unwrap(), b"old");
    assert_eq!(h.versions(&p("/f")).unwrap().len(), 1);
    // the abandoned frames are dead space that gc reclaims (once the pack is sealed)
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn an_empty_version_is_replaced_not_kept() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/win.docx");
    h.write_all(&f, b"", WriteOptions::default()).unwrap(); // Explorer's 0-byte PUT
    let v = h
        .write_all(&f, b"real content", WriteOptions::default())
        .unwrap();
    let vs = h.versions(&f).unwrap();
    assert_eq!(vs.len(), 1, "the empty placeholder is not history");
    assert_eq!(vs[0].num, v.num);
    assert_eq!(h.read_all(&f, None).unwrap(), b"real content");
    // non-empty versions are kept as always
    h.write_all(&f, b"second", WriteOptions::default()).unwrap();
    assert_eq!(h.versions(&f).unwrap().len(), 2);
}

#[test]
fn a_read_of_a_version_deleted_meanwhile_is_not_found_not_corrupt() {
    let (_d, s) = store();
    let h = home(&s);
    let f = p("/gone.bin");
    h.write_all(&f, &random_bytes(300_000, 1), WriteOptions::default())
        .unwrap();
    let r = h.open(&f, None).unwrap();
    let t = h.delete(&f).unwrap();
    h.trash_purge(t.id).unwrap();
    s.gc(false).unwrap();
    match r.reader().read_to_vec() {
        Err(EngineError::NotFound(m)) => assert!(m.contains("/gone.bin"), "{m}"),
        other => panic!("expected NotFound, got {:?}", other.map(|v| v.len())),
    }
    assert!(s.fsck(true, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn search_finds_names_case_insensitively_and_follows_renames_and_the_trash() {
    use nas_engine::SearchFilter;
    let (_d, s) = store();
    let h = s.home("alice").unwrap();
    let other = s.home("bob").unwrap();
    h.mkdir_all(&p("/Photos/Holiday")).unwrap();
    h.write_all(
        &p("/Photos/Holiday/Beach.JPG"),
        &[1u8; 100],
        WriteOptions::default(),
    )
    .unwrap();
    h.write_all(
        &p("/Photos/holiday-notes.txt"),
        b"x",
        WriteOptions::default(),
    )
    .unwrap();
    h.write_all(&p("/Photos/Café.txt"), b"yy", WriteOptions::default())
        .unwrap();
    other
        .write_all(&p("/holiday.txt"), b"bob's", WriteOptions::default())
        .unwrap();
    let find = |needle: &str, f: SearchFilter| -> Vec<String> {
        let f = SearchFilter {
            needle: needle.into(),
            ..f
        };
        let mut out: Vec<String> = h
            .search(&f, None, 1000)
            .unwrap()
            .entries
            .iter()
            .map(|e| e.path.to_string())
            .collect();
        out.sort();
        out
    };
    let all = SearchFilter::default();
    assert_eq!(
        find("HOLIDAY", all.clone()),
        ["/Photos/Holiday", "/Photos/holiday-notes.txt"]
    );
    assert_eq!(find("beach", all.clone()), ["/Photos/Holiday/Beach.JPG"]);
    assert_eq!(find("é", all.clone()), ["/Photos/Café.txt"]);
    assert_eq!(find("jp", all.clone()), ["/Photos/Holiday/Beach.JPG"]);
    let files = SearchFilter {
        kind: Some(NodeKind::File),
        ..all.clone()
    };
    assert_eq!(find("holiday", files), ["/Photos/holiday-notes.txt"]);
    let big = SearchFilter {
        min_size: Some(50),
        ..all.clone()
    };
    assert_eq!(find("a", big), ["/Photos/Holiday/Beach.JPG"]);
    // renames are followed, trashed subtrees disappear
    h.rename(&p("/Photos/Holiday"), &p("/Photos/Trip"), false)
        .unwrap();
    assert_eq!(find("holiday", all.clone()), ["/Photos/holiday-notes.txt"]);
    assert_eq!(find("beach", all.clone()), ["/Photos/Trip/Beach.JPG"]);
    h.delete(&p("/Photos/Trip")).unwrap();
    assert!(find("beach", all.clone()).is_empty());
    // paging: every match exactly once
    for i in 0..25 {
        h.write_all(
            &p(&format!("/many-{i:02}.log")),
            b"",
            WriteOptions::default(),
        )
        .unwrap();
    }
    let f = SearchFilter {
        needle: "many-".into(),
        ..all
    };
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let page = h.search(&f, after, 7).unwrap();
        seen.extend(page.entries.into_iter().map(|e| e.path.to_string()));
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);
}

#[test]
fn a_content_hash_computed_elsewhere_must_be_given() {
    let (_d, s) = store();
    let h = home(&s);
    let data = random_bytes(300_000, 3);
    let mut w = h.writer(&p("/a"), WriteOptions::default()).unwrap();
    w.hash_elsewhere().unwrap();
    w.write(&data).unwrap();
    assert!(w.commit().is_err(), "no hash given: nothing is committed");
    assert!(!h.exists(&p("/a")).unwrap());
    let mut w = h.writer(&p("/a"), WriteOptions::default()).unwrap();
    w.hash_elsewhere().unwrap();
    w.write(&data).unwrap();
    w.set_content_hash(nas_types::ContentHash::of(&data));
    let v = w.commit().unwrap();
    let plain = h
        .write_all(&p("/b"), &data, WriteOptions::default())
        .unwrap();
    assert_eq!(v.hash, plain.hash);
    // too late once bytes went in
    let mut w = h.writer(&p("/c"), WriteOptions::default()).unwrap();
    w.write(b"x").unwrap();
    assert!(w.hash_elsewhere().is_err());
}
