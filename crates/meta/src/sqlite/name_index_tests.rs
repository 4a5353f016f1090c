//! The name index: searches through it equal the plain scan at every moment — before,
//! during and after indexing, across renames, moves, copies, the trash and purges — and
//! SQLite's integrity check stays clean.

use super::SqliteMeta;
use super::search::scan;
use crate::*;
use nas_types::{HomeId, NodeId, TrashId};

fn open() -> (tempfile::TempDir, SqliteMeta) {
    let dir = tempfile::tempdir().unwrap();
    let m = SqliteMeta::open(&dir.path().join("m.sqlite")).unwrap();
    (dir, m)
}

fn file(m: &SqliteMeta, parent: NodeId, name: &str, size: u64, mtime_ns: i64) -> NodeId {
    m.commit_version(&CommitRequest {
        expect: None,
        parent,
        name,
        path: "",
        extents: &[],
        new_chunks: &[],
        size,
        hash: nas_types::ContentHash::of(name.as_bytes()),
        mtime_ns,
        now_ns: mtime_ns,
        attrs: FileAttrs::default(),
        author: None,
        lock: Default::default(),
    })
    .unwrap()
    .node
}

fn q(needle: &str) -> SearchFilter {
    SearchFilter {
        needle: needle.into(),
        ..SearchFilter::default()
    }
}

fn find(m: &SqliteMeta, home: HomeId, needle: &str) -> Vec<NodeId> {
    m.search(home, &q(needle), None, 1000).unwrap()
}

fn index_all(m: &SqliteMeta) {
    while m.index_names(1000).unwrap().more {}
}

/// Rows of the index, and those of them holding their node's current name.
fn index_rows(m: &SqliteMeta) -> (i64, i64) {
    m.read(|c| {
        Ok(c.query_row(
            "SELECT (SELECT count(*) FROM name_index),
                    (SELECT count(*) FROM name_index f JOIN nodes n
                       ON n.id = f.rowid AND n.name = f.name)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    })
    .unwrap()
}

#[test]
fn the_index_follows_creates_renames_and_purges() {
    let (_d, m) = open();
    let h = m.create_home("a", "a", 0).unwrap();
    let docs = m.mkdir(h.root, "Docs", 0).unwrap();
    let report = file(&m, docs.id, "Report-2026.pdf", 10, 5);
    let notes = file(&m, docs.id, "notes.txt", 1, 5);
    let st = m.name_index_status().unwrap();
    assert_eq!((st.indexed_to, st.unindexed, st.pending), (NodeId(0), 4, 0));
    // not indexed yet: found by the tail scan
    assert_eq!(find(&m, h.id, "REPORT"), [report]);
    let step = m.index_names(2).unwrap();
    assert_eq!((step.indexed, step.reindexed, step.more), (2, 0, true));
    index_all(&m);
    let st = m.name_index_status().unwrap();
    assert!(st.is_current(), "{st:?}");
    assert_eq!(st.indexed_to, notes);
    assert_eq!(find(&m, h.id, "REPORT"), [report]);
    assert_eq!(find(&m, h.id, "port-2"), [report]);
    // a rename queues the node; the old name is gone at once, the new one found at once
    m.rename(report, docs.id, "Summary.pdf", None).unwrap();
    assert_eq!(m.name_index_status().unwrap().pending, 1);
    assert!(find(&m, h.id, "report").is_empty());
    assert_eq!(find(&m, h.id, "summary"), [report]);
    // a move keeping the name does not
    m.rename(notes, h.root, "notes.txt", None).unwrap();
    assert_eq!(m.name_index_status().unwrap().pending, 1);
    let step = m.index_names(1000).unwrap();
    assert_eq!((step.indexed, step.reindexed, step.more), (0, 1, false));
    assert!(find(&m, h.id, "report").is_empty());
    assert_eq!(find(&m, h.id, "summary"), [report]);
    assert_eq!(index_rows(&m), (4, 4));
    // the trash hides the top of a subtree (the engine drops what lies below it)
    let t = m.trash(docs.id, "/Docs", 0).unwrap();
    assert!(find(&m, h.id, "docs").is_empty());
    assert_eq!(find(&m, h.id, "summary"), [report]);
    m.trash_purge(t.id).unwrap();
    assert!(find(&m, h.id, "summary").is_empty());
    assert_eq!(index_rows(&m), (4, 2), "stale rows stay until pruned");
    let p = m.prune_name_index(NodeId(0), 1000).unwrap();
    assert_eq!((p.checked, p.dropped, p.next), (4, 2, None));
    assert_eq!(index_rows(&m), (2, 2));
    let p = m.prune_name_index(NodeId(0), 1).unwrap();
    assert_eq!((p.checked, p.dropped, p.next), (1, 0, Some(h.root)));
    assert!(m.integrity_check().unwrap().is_empty());
}

#[test]
fn needles_with_quotes_wildcards_and_unicode_mean_what_the_scan_means() {
    let (_d, m) = open();
    let h = m.create_home("a", "a", 0).unwrap();
    let names = [
        "say \"hi\".txt",
        "50%_off.txt",
        "50x-off.txt",
        "back\\slash",
        "Café.txt",
        "CAFÉ.TXT",
        "ab",
    ];
    let ids: Vec<NodeId> = names.iter().map(|n| file(&m, h.root, n, 1, 1)).collect();
    for indexed in [false, true] {
        if indexed {
            index_all(&m);
        }
        assert_eq!(find(&m, h.id, "\"hi\""), [ids[0]]);
        assert_eq!(find(&m, h.id, "50%_"), [ids[1]]);
        assert_eq!(find(&m, h.id, "\\sl"), [ids[3]]);
        // ASCII letters fold, other characters only match themselves
        assert_eq!(find(&m, h.id, "café"), [ids[4]]);
        assert_eq!(find(&m, h.id, "CAFé"), [ids[4]]);
        assert_eq!(find(&m, h.id, "CAFÉ"), [ids[5]]);
        assert_eq!(find(&m, h.id, "caf"), [ids[4], ids[5]]);
        assert_eq!(find(&m, h.id, "b"), [ids[3], ids[6]]);
        assert!(find(&m, h.id, "abc").is_empty());
    }
}

#[test]
fn a_database_from_before_the_index_is_searched_then_backfilled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sqlite");
    let (home, ids) = {
        let m = SqliteMeta::open(&path).unwrap();
        let h = m.create_home("a", "a", 0).unwrap();
        let ids: Vec<NodeId> = (0..50)
            .map(|i| file(&m, h.root, &format!("old-{i:02}.txt"), 1, 1))
            .collect();
        (h.id, ids)
    };
    {
        // what schema 8 looked like: no index objects (nor what later versions added)
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(super::quota_tests::UNDO_SCHEMA_12).unwrap();
        c.execute_batch(
            "DROP TRIGGER nodes_renamed; DROP TABLE name_index; DROP TABLE name_index_pending;
             DROP TABLE name_index_state; ALTER TABLE access_keys DROP COLUMN read_only;
             DROP TRIGGER users_disabled; ALTER TABLE users DROP COLUMN sessions_epoch;
             UPDATE meta SET value = 8 WHERE key = 'schema_version';",
        )
        .unwrap();
    }
    let m = SqliteMeta::open(&path).unwrap();
    let st = m.name_index_status().unwrap();
    assert_eq!((st.indexed_to, st.unindexed), (NodeId(0), 51));
    assert_eq!(find(&m, home, "old-1"), ids[10..20]);
    index_all(&m);
    assert!(m.name_index_status().unwrap().is_current());
    assert_eq!(find(&m, home, "old-1"), ids[10..20]);
    assert!(m.integrity_check().unwrap().is_empty());
}

/// splitmix64: a deterministic stream of numbers for the random workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

const ALPHABET: [char; 14] = [
    'a', 'b', 'A', 'B', 'c', 'é', 'É', '"', '%', '_', '\\', ' ', '-', '.',
];

fn name(r: &mut Rng) -> String {
    (0..1 + r.below(8)).map(|_| r.pick(&ALPHABET)).collect()
}

/// A needle: mostly a piece (3+ characters when it can) of one of `names` with its ASCII
/// case shuffled, sometimes random characters.
fn needle(r: &mut Rng, names: &[String]) -> String {
    if r.below(5) == 0 || names.is_empty() {
        return (0..1 + r.below(4)).map(|_| r.pick(&ALPHABET)).collect();
    }
    let chars: Vec<char> = names[r.below(names.len())].chars().collect();
    let len = (3 + r.below(3)).min(chars.len());
    let start = r.below(chars.len() - len + 1);
    chars[start..start + len]
        .iter()
        .map(|c| match r.below(3) {
            0 => c.to_ascii_uppercase(),
            1 => c.to_ascii_lowercase(),
            _ => *c,
        })
        .collect()
}

fn filter(r: &mut Rng, needle: String) -> SearchFilter {
    SearchFilter {
        needle,
        kind: [None, Some(NodeKind::File), Some(NodeKind::Dir)][r.below(3)],
        min_size: [None, None, Some(3)][r.below(3)],
        max_size: [None, None, Some(5)][r.below(3)],
        modified_after: [None, None, Some(40)][r.below(3)],
        modified_before: [None, None, Some(70)][r.below(3)],
    }
}

/// Every page of the search, walked with a random page size, equals the scan's.
fn check(m: &SqliteMeta, r: &mut Rng, homes: &[HomeId], names: &[String]) {
    for _ in 0..8 {
        let n = needle(r, names);
        let f = filter(r, n);
        let home = r.pick(homes);
        let limit = 1 + r.below(6);
        let mut after = None;
        loop {
            let got = m.search(home, &f, after, limit).unwrap();
            let want = m
                .read(|c| scan(c, home, &f, after.map_or(0, |n| n.0), limit))
                .unwrap();
            assert_eq!(got, want, "{f:?} after {after:?}");
            match got.last() {
                Some(&last) if got.len() == limit => after = Some(last),
                _ => break,
            }
        }
    }
}

#[test]
fn search_equals_the_scan_at_every_step_of_a_random_workload() {
    for seed in 1..=6u64 {
        let (_d, m) = open();
        let mut r = Rng(seed);
        let homes: Vec<HomeRecord> = ["a", "b"]
            .iter()
            .map(|h| m.create_home(h, h, 0).unwrap())
            .collect();
        let home_ids: Vec<HomeId> = homes.iter().map(|h| h.id).collect();
        let mut dirs: Vec<NodeId> = homes.iter().map(|h| h.root).collect();
        let mut nodes: Vec<NodeId> = Vec::new();
        let mut trash: Vec<TrashId> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut sweep = NodeId(0);
        for _ in 0..600 {
            let n = name(&mut r);
            let op = r.below(100);
            // failures (a trashed parent, a taken name, a cycle) are part of the workload
            match op {
                0..=29 => {
                    let size = r.below(8) as u64;
                    let mtime = r.below(100) as i64;
                    if let Ok(v) = m.commit_version(&CommitRequest {
                        expect: None,
                        parent: r.pick(&dirs),
                        name: &n,
                        path: "",
                        extents: &[],
                        new_chunks: &[],
                        size,
                        hash: nas_types::ContentHash::of(n.as_bytes()),
                        mtime_ns: mtime,
                        now_ns: mtime,
                        attrs: FileAttrs::default(),
                        author: None,
                        lock: Default::default(),
                    }) {
                        nodes.push(v.node);
                    }
                }
                30..=39 => {
                    if let Ok(d) = m.mkdir(r.pick(&dirs), &n, r.below(100) as i64) {
                        dirs.push(d.id);
                        nodes.push(d.id);
                    }
                }
                40..=54 if !nodes.is_empty() => {
                    let node = r.pick(&nodes);
                    let old = m.node(node).unwrap().map(|x| x.name).unwrap_or_default();
                    let new_name = match r.below(3) {
                        0 => old.clone(), // a move
                        _ => n.clone(),
                    };
                    if m.rename(node, r.pick(&dirs), &new_name, None).is_ok() {
                        // before the indexer runs: the old name must miss, the new one hit
                        check(&m, &mut r, &home_ids, &[old, new_name]);
                    }
                }
                55..=62 if !nodes.is_empty() => {
                    if let Ok(t) = m.trash(r.pick(&nodes), "/x", 0) {
                        trash.push(t.id);
                    }
                }
                63..=67 if !trash.is_empty() => {
                    let t = trash.swap_remove(r.below(trash.len()));
                    if m.trash_restore(t, r.pick(&dirs), &n).is_err() {
                        trash.push(t);
                    } else {
                        check(&m, &mut r, &home_ids, std::slice::from_ref(&n));
                    }
                }
                68..=73 if !trash.is_empty() => {
                    let t = trash.swap_remove(r.below(trash.len()));
                    m.trash_purge(t).unwrap();
                }
                74..=77 if !nodes.is_empty() => {
                    if let Ok(c) = m.copy(
                        r.pick(&nodes),
                        r.pick(&dirs),
                        &n,
                        None,
                        0,
                        ObjectLock::default(),
                    ) {
                        nodes.push(c.id);
                    }
                }
                78..=89 => {
                    m.index_names(1 + r.below(40)).unwrap();
                }
                90..=94 => {
                    let p = m.prune_name_index(sweep, 1 + r.below(30)).unwrap();
                    sweep = p.next.unwrap_or(NodeId(0));
                }
                _ => check(&m, &mut r, &home_ids, &names),
            }
            names.push(n);
        }
        check(&m, &mut r, &home_ids, &names);
        index_all(&m);
        check(&m, &mut r, &home_ids, &names);
        assert!(m.name_index_status().unwrap().is_current());
        while let Some(next) = m.prune_name_index(sweep, 50).unwrap().next {
            sweep = next;
        }
        m.prune_name_index(NodeId(0), 1_000_000).unwrap();
        let live: i64 = m
            .read(|c| Ok(c.query_row("SELECT count(*) FROM nodes", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(index_rows(&m), (live, live), "seed {seed}");
        assert!(m.integrity_check().unwrap().is_empty(), "seed {seed}");
    }
}

#[test]
fn the_integrity_check_sees_the_index_as_it_is_not_as_a_reader_cached_it() {
    let (_d, m) = open();
    let h = m.create_home("a", "a", 0).unwrap();
    for round in 0..5 {
        for i in 0..40 {
            file(&m, h.root, &format!("r{round}-file-{i}.txt"), 1, 1);
        }
        // a search caches the index's structure on a pooled reader connection…
        assert!(!find(&m, h.id, "file-").is_empty());
        // …the indexer then adds a segment (and merges) on the writer…
        index_all(&m);
        // …and the check on that same reader must see the new structure
        assert_eq!(
            m.integrity_check().unwrap(),
            Vec::<String>::new(),
            "round {round}"
        );
    }
}
