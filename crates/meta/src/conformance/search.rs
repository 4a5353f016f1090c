//! Search checks: the answer is the scan's (names containing the needle, ASCII letters in
//! either case, `%` `_` `\` literal; filters; id order after a cursor), whatever the name
//! indexer has done so far.

use super::chunk;
use crate::{MetaStore, NodeKind, SearchFilter};
use nas_types::{HomeId, NodeId};

fn q(needle: &str) -> SearchFilter {
    SearchFilter {
        needle: needle.into(),
        ..SearchFilter::default()
    }
}

/// The scan, computed from `node` records: what `search` must answer.
fn scan(m: &dyn MetaStore, home: HomeId, ids: &[NodeId], f: &SearchFilter) -> Vec<NodeId> {
    let needle = f.needle.to_ascii_lowercase();
    let mut out: Vec<NodeId> = ids
        .iter()
        .filter_map(|id| m.node(*id).unwrap())
        .filter(|n| n.home == home && n.parent.is_some())
        .filter(|n| n.name.to_ascii_lowercase().contains(&needle))
        .filter(|n| f.kind.is_none_or(|k| k == n.kind))
        .filter(|n| {
            let size = n.head.as_ref().map(|v| v.size);
            f.min_size.is_none_or(|s| size.is_some_and(|x| x >= s))
                && f.max_size.is_none_or(|s| size.is_some_and(|x| x <= s))
        })
        .filter(|n| {
            let t = n.head.as_ref().map_or(n.mtime_ns, |v| v.mtime_ns);
            f.modified_after.is_none_or(|a| t >= a) && f.modified_before.is_none_or(|b| t < b)
        })
        .map(|n| n.id)
        .collect();
    out.sort();
    out
}

fn all(m: &dyn MetaStore, home: HomeId, f: &SearchFilter) -> Vec<NodeId> {
    m.search(home, f, None, 10_000).unwrap()
}

fn file(m: &dyn MetaStore, parent: NodeId, name: &str, chunks: u32, mtime_ns: i64) -> NodeId {
    let new: Vec<_> = (0..chunks).map(chunk).collect();
    let extents: Vec<_> = new.iter().map(|c| (c.id, 1)).collect();
    let mut r = super::req(parent, name, &extents, &new);
    r.mtime_ns = mtime_ns;
    m.commit_version(&r).unwrap().node
}

/// Names match as SQL `LIKE '%needle%'` would: ASCII case-insensitively, other characters
/// exactly, wildcards literally; the root and the top of a trashed subtree are never
/// found, nodes below a trashed folder are; other homes are not searched.
pub fn search_matches_names_like_the_scan(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let other = m.create_home("o", "o", 0).unwrap();
    let reports = m.mkdir(h.root, "Reports", 0).unwrap().id;
    let mut ids = vec![h.root, reports];
    for name in [
        "Report-2026.pdf",
        "report.txt",
        "REPORTS",
        "100%",
        "a_b",
        "axb",
        "a\\b",
    ] {
        ids.push(file(m, reports, name, 1, 1));
    }
    for name in ["Émile", "émile", "notes"] {
        ids.push(file(m, h.root, name, 1, 1));
    }
    file(m, other.root, "report-elsewhere", 1, 1);
    let old = m.mkdir(h.root, "old", 0).unwrap().id;
    let below = file(m, old, "report-old", 1, 1);
    let top = file(m, h.root, "report-top", 1, 1);
    ids.extend([old, below, top]);
    m.trash(old, "/old", 2).unwrap();
    m.trash(top, "/report-top", 2).unwrap();
    let found = all(m, h.id, &q("report"));
    assert_eq!(found, scan(m, h.id, &ids, &q("report")));
    assert_eq!(
        found.len(),
        5,
        "Reports, 3 files, report-old below a trashed folder"
    );
    assert!(found.contains(&below) && !found.contains(&top));
    let one = |needle: &str| all(m, h.id, &q(needle));
    assert_eq!(one("%").len(), 1, "% is literal");
    assert_eq!(one("_").len(), 1, "_ is literal");
    assert_eq!(one("\\").len(), 1, "\\ is literal");
    assert_eq!(one("a_b").len(), 1);
    assert_eq!(one("émile").len(), 1, "only ASCII letters fold");
    assert_eq!(one("ÉMILE").len(), 1);
    assert_eq!(one("mile").len(), 2);
    assert_eq!(one("EP"), scan(m, h.id, &ids, &q("ep")));
    assert!(one("elsewhere").is_empty());
    assert!(one("zzz").is_empty());
}

/// Filters by kind, size (files only) and modification time (a file's head version's, a
/// folder's own); a cursor pages through the answer in id order.
pub fn search_filters_and_pages(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let mut ids: Vec<NodeId> = vec![];
    for i in 0..12u32 {
        let d = m
            .mkdir(h.root, &format!("dir-{i}"), i64::from(i) * 10)
            .unwrap()
            .id;
        ids.push(d);
        ids.push(file(
            m,
            d,
            &format!("file-{i}"),
            i % 5,
            i64::from(i) * 10 + 5,
        ));
    }
    let filters = [
        SearchFilter {
            kind: Some(NodeKind::File),
            ..q("-")
        },
        SearchFilter {
            kind: Some(NodeKind::Dir),
            ..q("-")
        },
        SearchFilter {
            min_size: Some(2),
            ..q("i")
        },
        SearchFilter {
            max_size: Some(1),
            ..q("i")
        },
        SearchFilter {
            min_size: Some(1),
            max_size: Some(3),
            kind: Some(NodeKind::File),
            ..q("file")
        },
        SearchFilter {
            modified_after: Some(35),
            ..q("-")
        },
        SearchFilter {
            modified_before: Some(35),
            ..q("-")
        },
        SearchFilter {
            modified_after: Some(20),
            modified_before: Some(60),
            ..q("dir")
        },
    ];
    for f in &filters {
        let want = scan(m, h.id, &ids, f);
        assert!(!want.is_empty(), "{f:?}");
        assert_eq!(all(m, h.id, f), want, "{f:?}");
    }
    let want = scan(m, h.id, &ids, &q("-"));
    assert_eq!(want.len(), 24);
    let mut got: Vec<NodeId> = Vec::new();
    let mut after = None;
    loop {
        let page = m.search(h.id, &q("-"), after, 5).unwrap();
        assert!(page.len() <= 5);
        got.extend(&page);
        if page.len() < 5 {
            break;
        }
        after = page.last().copied();
    }
    assert_eq!(got, want);
}

/// Every answer equals the scan before indexing, at each step of the indexer, after it,
/// after renames (queued for re-indexing) and after purges (pruned from the index).
pub fn search_answers_the_same_before_and_after_indexing(m: &dyn MetaStore) {
    let h = m.create_home("h", "h", 0).unwrap();
    let mut ids: Vec<NodeId> = vec![];
    let words = ["alpha", "beta", "gamma", "delta", "Alphabet", "betamax"];
    for (i, w) in words.iter().cycle().take(30).enumerate() {
        let d = m.mkdir(h.root, &format!("{w}-{i}"), 0).unwrap().id;
        ids.push(d);
        ids.push(file(m, d, &format!("{w}.{i}.txt"), 1, 1));
    }
    let needles = ["alpha", "ALP", "ta", "a.1", "max", "txt", "mma-"];
    let check = |ids: &[NodeId]| {
        for n in needles {
            assert_eq!(all(m, h.id, &q(n)), scan(m, h.id, ids, &q(n)), "{n}");
        }
    };
    check(&ids);
    let before = m.name_index_status().unwrap();
    assert!(!before.is_current());
    loop {
        let step = m.index_names(7).unwrap();
        check(&ids);
        if !step.more {
            break;
        }
    }
    assert!(m.name_index_status().unwrap().is_current());
    // renames: the answer follows at once, and after re-indexing
    for id in ids.iter().step_by(5) {
        let n = m.node(*id).unwrap().unwrap();
        m.rename(*id, n.parent.unwrap(), &format!("renamed-{}", n.name), None)
            .unwrap();
    }
    check(&ids);
    assert!(
        m.name_index_status().unwrap().pending > 0,
        "renames queue their nodes"
    );
    while m.index_names(1000).unwrap().more {}
    check(&ids);
    assert!(m.name_index_status().unwrap().is_current());
    // purges: the answer drops them at once; pruning drops their entries
    let dirs: Vec<NodeId> = ids[..6]
        .iter()
        .copied()
        .filter(|id| m.node(*id).unwrap().unwrap().kind == NodeKind::Dir)
        .collect();
    for id in dirs {
        let t = m.trash(id, "/x", 1).unwrap();
        m.trash_purge(t.id).unwrap();
    }
    check(&ids);
    let (mut dropped, mut after) = (0, NodeId(0));
    loop {
        let step = m.prune_name_index(after, 4).unwrap();
        dropped += step.dropped;
        match step.next {
            Some(n) => after = n,
            None => break,
        }
    }
    assert!(
        dropped <= 6,
        "three purged folders with a file each: {dropped}"
    );
    check(&ids);
    let again = m.prune_name_index(NodeId(0), 1000).unwrap();
    assert_eq!((again.dropped, again.next), (0, None));
}
